import os

import pytest

from flow.build_lock import build_lock, swap_into
from flow.config import make_config
from flow.errors import FlowError
from flow.pipeline import run_build


def _writes_then_fails(st):
    (st.staging / "half.txt").write_text("partial")
    raise FlowError("boom")


def _writes(st):
    (st.staging / "done.txt").write_text("ok")


def test_failed_build_leaves_nothing(tmp_path):
    out = tmp_path / "a" / "b" / "proj"
    with pytest.raises(FlowError, match="boom"):
        run_build(make_config(out=str(out)), steps=[_writes, _writes_then_fails])
    assert list(tmp_path.iterdir()) == []


def test_successful_build_replaces_output(tmp_path):
    out = tmp_path / "proj"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert run_build(make_config(out=str(out)), steps=[_writes]) == out
    assert sorted(p.name for p in out.iterdir()) == ["done.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]


def test_staging_is_unique_and_the_lock_holds_out(tmp_path):
    out = tmp_path / "proj"
    seen = {}

    def look(st):
        seen["staging"] = st.staging
        seen["lock"] = (tmp_path / ".proj.lock").read_text().strip()
        with pytest.raises(FlowError, match=rf"another build \(process {os.getpid()}\) is writing '{out}'"):
            with build_lock(out):  # a second build of the same folder, even from this process
                pass
        (st.staging / "done.txt").write_text("ok")

    run_build(make_config(out=str(out)), steps=[look])
    assert seen["staging"].name.startswith(".proj.") and seen["staging"].name.endswith(".partial")
    assert seen["lock"] == str(os.getpid())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]  # staging and lock gone


def test_swap_into_exchanges_the_folders(tmp_path):
    new, out = tmp_path / "new", tmp_path / "out"
    for folder, text in ((new, "new"), (out, "old")):
        folder.mkdir()
        (folder / "f").write_text(text)
    swap_into(new, out)
    assert (out / "f").read_text() == "new" and (new / "f").read_text() == "old"


def test_a_refused_build_removes_nothing(tmp_path, monkeypatch):
    """Two builds into new/proj that both found new/ missing: the one the lock refuses must not remove new/,
    where the other is building."""
    import flow.pipeline as pipeline

    out = tmp_path / "new" / "proj"
    out.parent.mkdir()
    (out.parent / ".proj.other.partial").mkdir()  # the other build's staging
    monkeypatch.setattr(pipeline, "_first_missing_ancestor", lambda path: tmp_path / "new")  # "missing" when looked at
    with build_lock(out):
        with pytest.raises(FlowError, match="another build"):
            run_build(make_config(out=str(out)), steps=[_writes])
        assert (out.parent / ".proj.other.partial").is_dir()


@pytest.mark.parametrize("quant", [{"token_bits": 12}, {"act_bits": 10}])
def test_a_deit_wider_than_the_token_units_is_refused_before_any_step(tmp_path, quant):
    from flow.steps.hls import step_generate_hls

    ran = []
    cfg = make_config(model="deit_tiny", resolution=64, out=str(tmp_path / "proj"), quantization=quant)
    with pytest.raises(FlowError, match=f"{next(iter(quant))}=.*token units read 8-bit codes"):
        run_build(cfg, steps=[ran.append, step_generate_hls])
    assert ran == [] and list(tmp_path.iterdir()) == []
    assert run_build(cfg, steps=[_writes]).is_dir()  # without the generation step (e.g. `flow quantize`) it builds


def test_an_8_bit_token_stream_passes_the_width_check():
    from flow.steps.hls import check_accelerator_widths

    check_accelerator_widths(make_config(model="deit_tiny", resolution=64, quantization={"token_bits": 8}))
