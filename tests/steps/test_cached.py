"""`flow build`'s front through the stage cache: which stages a change rebuilds, and a damaged entry
rebuilt, never used. The stages here are fast stand-ins that record their runs; the keys, lookups and
restores are the real ones. The last test runs the real stages on a small model."""

import json

import pytest
import torch

from flow.config import make_config
from flow.steps import cached
from flow.steps.state import BuildState


def _fake_front(runs, reloads):
    def step(name, files):
        def run(st):
            runs.append(name)
            for f in files:
                path = st.staging / f
                path.parent.mkdir(parents=True, exist_ok=True)
                cfg = st.cfg  # what the real stage's bytes depend on
                weights = open(cfg.weights, "rb").read().hex() if cfg.weights else None
                path.write_text(json.dumps({"stage": name, "q": cfg.quantization, "bits": cfg.bits, "calib": cfg.calib,
                                            "weights": weights, "block": cfg.block, "acc": cfg.acc_bits}))
        return run

    def reload_as(name):
        def reload(st, needed):
            reloads.append((name, needed))
            return "recorded check"
        return reload

    def save_inputs(st):
        torch.save(st.calib_images, st.staging / cached.STATE)

    return lambda cfg: [
        cached.Stage("quantize", (step("quantize", ["quantized.pt"]),), lambda s: ["quantized.pt"], reload_as("quantize")),
        cached.Stage("export", (step("export", ["model_qonnx.onnx"]), save_inputs),
                     lambda s: ["model_qonnx.onnx", cached.STATE], reload_as("export")),
        cached.Stage("lower", (step("lower", ["program/program.json"]),), lambda s: ["program"], reload_as("lower")),
    ]


@pytest.fixture
def front(tmp_path, monkeypatch):
    """build(**options) -> (stages run, stderr) of one front on B0 r32 with 4 calibration images."""
    runs, reloads = [], []
    monkeypatch.setattr(cached, "front_stages", _fake_front(runs, reloads))
    count = [0]

    def build(**options):
        runs.clear()
        reloads.clear()
        count[0] += 1
        staging = tmp_path / f"out{count[0]}"
        staging.mkdir()
        cfg = make_config(**{"model": "efficientvit_b0", "resolution": 32, "calib": 4, **options})
        build.state = BuildState(cfg=cfg, staging=staging)
        cached.step_front(build.state)
        assert not (staging / cached.STATE).exists()
        assert sorted(p.name for p in staging.iterdir()) == ["model_qonnx.onnx", "program", "quantized.pt"]
        build.reloads = list(reloads)
        return list(runs)
    return build


def test_a_part_clock_or_board_change_reuses_every_stage(front):
    assert front() == ["quantize", "export", "lower"]
    assert front.state.cache_note == "on: no stage restored (checks as recorded when built), quantize, export, lower run and stored"
    assert front(part="xck26") == []
    assert front.state.cache_note.startswith("on: quantize, export, lower restored")
    assert front.reloads == [("quantize", False), ("export", False), ("lower", False)]
    assert front(part="xczu7ev", clock=200.0) == []
    assert front(board="zcu102") == []


def test_a_quantization_change_rebuilds_every_stage(front):
    front()
    assert front(quantization={"bias_correction": False}) == ["quantize", "export", "lower"]
    assert front(quantization={"bias_correction": False}) == []
    assert front(bits="w6a6") == ["quantize", "export", "lower"]
    assert front(calib=8) == ["quantize", "export", "lower"]  # other calibration images


def test_the_weights_file_content_decides_not_its_path(front, tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"weights one")
    assert front(weights=str(a)) == ["quantize", "export", "lower"]
    b.write_bytes(b"weights one")
    assert front(weights=str(b)) == []  # same content elsewhere
    a.write_bytes(b"weights two")  # the same file, retrained
    assert front(weights=str(a)) == ["quantize", "export", "lower"]


def test_later_inputs_rebuild_only_later_stages(front):
    front()
    assert front(acc_bits=24) == ["lower"]
    assert front.state.cache_note.startswith("on: quantize, export restored") and "lower run and stored" in front.state.cache_note
    assert front(block="stages.1") == ["export", "lower"]


def test_a_corrupt_entry_is_reported_and_rebuilt(front, tmp_path, capsys):
    from flow import stage_cache

    front()
    root = stage_cache.cache_root()
    (entry,) = (root / "lower").iterdir()
    (entry / "program" / "program.json").write_text("{}")
    capsys.readouterr()
    assert front(part="xck26") == ["lower"]
    err = capsys.readouterr().err
    assert f"lower entry {entry.name[:12]} is corrupt (program/program.json differs from its manifest)" in err
    (entry,) = (root / "export").iterdir()
    (entry / stage_cache.MANIFEST).unlink()  # a store cut off before its manifest
    assert front(part="xck26") == ["export"]  # rebuilt to the same bytes, so lower's entry still holds
    assert front.reloads == [("quantize", False), ("quantize", True), ("lower", False)]  # export ran on the reloaded model
    assert "is partial (no manifest): removed; the stage is rebuilt" in capsys.readouterr().err
    assert front(part="xck26") == []


def test_no_cache_runs_everything_and_stores_nothing(front):
    from flow import stage_cache

    assert front(no_cache=True) == ["quantize", "export", "lower"]
    assert front.state.cache_note == "off (--no-cache): every stage ran, nothing stored"
    assert stage_cache.entries() == []
    front()
    assert front(no_cache=True) == ["quantize", "export", "lower"]


def _real_build(tmp_path, capsys):
    """build(name, **options) -> (output folder, stderr): B0 r32's real model, quantize, export and lower."""
    from flow.pipeline import run_build
    from flow.steps.model import step_build_model

    def build(name, **options):
        cfg = make_config(**{"model": "efficientvit_b0", "resolution": 32, "calib": 8, "out": str(tmp_path / name),
                             **options})
        capsys.readouterr()
        out = run_build(cfg, steps=[step_build_model, cached.step_front])
        return out, capsys.readouterr().err
    return build


FRONT_FILES = ["quantized.pt", "quant_report.json", "quant_report.md", "export_check.json", "lower_check.json",
               "reference_dump.npz", "program/program.json", "program/weights.bin"]


def _flip_first_byte(path):
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


def test_real_stages_restore_what_they_built(tmp_path, capsys):
    """A part change restores all three real stages with the same bytes; a damaged lower entry reruns only
    lower, to the same program."""
    from flow import stage_cache

    build = _real_build(tmp_path, capsys)
    cold, err = build("cold")
    assert "reused 0 of 3 stages, ran 3" in err
    warm, err = build("warm", part="xck26")
    assert "reused 3 of 3 stages, ran 0" in err
    assert sorted(p.name for p in warm.iterdir()) == sorted(p.name for p in cold.iterdir())
    for f in FRONT_FILES + ["model_qonnx.onnx"]:
        assert (warm / f).read_bytes() == (cold / f).read_bytes(), f

    (entry,) = (stage_cache.cache_root() / "lower").iterdir()
    _flip_first_byte(entry / "program" / "weights.bin")
    last, err = build("last")
    assert "is corrupt (program/weights.bin differs from its manifest)" in err
    assert "reused 2 of 3 stages, ran 1" in err
    for f in FRONT_FILES:
        assert (last / f).read_bytes() == (cold / f).read_bytes(), f


@pytest.mark.slow
def test_export_rebuilt_from_a_restored_quantized_model(tmp_path, capsys):
    """A damaged export entry: quantize is restored and export runs on the quantized model reloaded from
    quantized.pt (not the one calibrated in memory), to the same checks and the same program."""
    from flow import stage_cache

    build = _real_build(tmp_path, capsys)
    cold, _ = build("cold")
    (entry,) = (stage_cache.cache_root() / "export").iterdir()
    (entry / "export_check.json").write_text("{}")
    again, err = build("again", part="xck26")
    assert "is corrupt (export_check.json differs from its manifest)" in err
    # export ran again; lower is restored when export's files came out byte for byte the same
    assert "reused 1 of 3 stages, ran 2" in err or "reused 2 of 3 stages, ran 1" in err
    for f in FRONT_FILES:
        assert (again / f).read_bytes() == (cold / f).read_bytes(), f


def test_a_stage_rebuilt_to_the_same_bytes_lets_the_next_be_restored(front):
    """Keys chain on what the stage before wrote: quantize rerun to identical files (the fakes' bytes do
    not depend on bias correction) leaves export's key, and so its entry, as it was."""
    front(quantization={"bias_correction": True})
    assert front(quantization={"bias_correction": True}, part="xck26") == []
    from flow import stage_cache

    for entry in (stage_cache.cache_root() / "quantize").iterdir():
        (entry / stage_cache.MANIFEST).unlink()
    assert front(quantization={"bias_correction": True}) == ["quantize"]
