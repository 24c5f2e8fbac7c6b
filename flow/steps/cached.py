"""Step: the front of `flow build` (quantize, export, lower) through the stage cache (flow/stage_cache.py).

Each stage's key hashes what determines its artifacts: quantize's the model, resolution, weights file
content, quantization settings, calibration pixels and code version; export's quantize's key and --block;
lower's export's key and the accumulator width. Neither the part, board, clock nor parallelism enter a key:
a build that changes only those reuses all three stages.

The stages present in the cache, from the first on, are restored into the output folder (their files as
the stage wrote them, the reports included) and the rest run, each stored after its own check passed. A
restored stage is not run again, so its check is not repeated: its figures, recorded when it ran, are
printed and kept in its report file, and its files are verified byte for byte against the manifest taken
when they were stored. `--no-cache` runs every stage and stores nothing.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from flow import stage_cache
from flow.progress import say

from .export import export_summary, step_export
from .lower import lower_summary, step_lower
from .model import step_cut_block
from .quantize import load_calibration_data, quantize_summary, step_quantize
from .state import EXPORT_CHECK_IMAGES, BuildState

STATE = "check_inputs.pt"  # kept in the export entry, not the output: the images (or block inputs) checked on


@dataclass(frozen=True)
class Stage:
    name: str
    steps: tuple     # the steps that make it, run in order
    outputs: object  # staging folder -> names of the files and folders the stage wrote
    reload: object   # (state, needed) -> its check's summary: sets what later steps read from the restored
                     # files; ``needed``: the next stage runs and needs this one's in-memory result


def _export_outputs(staging: Path) -> list:
    return sorted(p.name for p in staging.glob("model_qonnx*")) + ["export_check.json", STATE]


def _reload_quantize(st: BuildState, needed: bool) -> str:
    from flow.quantize.saved import load_quantized

    if needed:
        st.quant_model = load_quantized(st.staging / "quantized.pt", expect_model=st.cfg.model)
    return quantize_summary(json.loads((st.staging / "quant_report.json").read_text()))


def _reload_export(st: BuildState, needed: bool) -> str:
    st.calib_images = torch.load(st.staging / STATE, weights_only=True)  # removed when the front is done
    st.qonnx_path = st.staging / "model_qonnx.onnx"
    return export_summary(json.loads((st.staging / "export_check.json").read_text()))


def _reload_lower(st: BuildState, needed: bool) -> str:
    from flow.lower import load_program

    st.program = load_program(st.staging / "program")
    return lower_summary(json.loads((st.staging / "lower_check.json").read_text()), st.cfg)


def _save_check_inputs(st: BuildState) -> None:
    """The images (or block inputs) the checks after export run on: the later steps read no more."""
    torch.save(st.calib_images[:EXPORT_CHECK_IMAGES].clone(), st.staging / STATE)


def front_stages(cfg) -> list:
    return [
        Stage("quantize", (step_quantize,), lambda s: ["quantized.pt", "quant_report.json", "quant_report.md"],
              _reload_quantize),
        Stage("export", ((step_cut_block,) if cfg.block else ()) + (step_export, _save_check_inputs),
              _export_outputs, _reload_export),
        Stage("lower", (step_lower,), lambda s: ["program", "lower_check.json", "reference_dump.npz"], _reload_lower),
    ]


def own_inputs(st: BuildState) -> dict:
    """Per stage, the inputs of its own that determine its artifacts (its key adds what the stage before
    it wrote)."""
    cfg = st.cfg
    return {
        "quantize": {"code": stage_cache.code_version(), "model": cfg.model, "resolution": cfg.resolution,
                     "weights_sha256": stage_cache.file_digest(Path(cfg.weights)) if cfg.weights else None,
                     "quantization": cfg.quant_config().as_dict(),
                     "calibration_sha256": _tensor_digest(st.calib_images)},
        "export": {"code": stage_cache.code_version(), "block": cfg.block},
        "lower": {"code": stage_cache.code_version(), "acc_bits": cfg.acc_bits},
    }


def _tensor_digest(t: torch.Tensor) -> str:
    t = t.detach().contiguous().cpu()
    h = hashlib.sha256(f"{t.dtype} {tuple(t.shape)}".encode())
    h.update(t.numpy().tobytes())
    return h.hexdigest()


def step_front(st: BuildState) -> None:
    """Quantize, export and lower, each restored from the stage cache when a whole entry for its key
    exists, else run (and stored unless --no-cache). A stage's key chains on the content of what the stage
    before it wrote (its files' hashes), not on that stage's key: entries stored by different builds can
    never be mixed, and a stage rebuilt to the same bytes lets the next one be restored."""
    stages = front_stages(st.cfg)
    load_calibration_data(st)
    if st.cfg.no_cache:
        say("cache", "off (--no-cache): every stage runs, nothing is stored")
        for stage in stages:
            for step in stage.steps:
                step(st)
        (st.staging / STATE).unlink()
        st.cache_note = "off (--no-cache): every stage ran, nothing stored"
        return
    own, previous, restored = own_inputs(st), None, None
    reused, ran = [], []
    for stage in stages:
        inputs = {"stage": stage.name, "previous": previous, **own[stage.name]}
        key = stage_cache.digest(inputs)
        entry = _lookup(stage.name, key)
        if entry is not None:
            _restore(st, stage, entry)
            previous, restored = stage_cache.entry_digest(entry), stage
            reused.append(stage.name)
            continue
        if restored is not None:  # this stage needs the restored one's in-memory result (the quantized model)
            restored.reload(st, True)
        for step in stage.steps:
            step(st)
        names = stage.outputs(st.staging)
        # what this build wrote, not the stored entry's digest: a concurrent build may have stored its own first
        previous, restored = stage_cache.content_digest(st.staging, names), None
        _store(stage.name, key, st.staging, names, inputs)
        ran.append(stage.name)
    (st.staging / STATE).unlink(missing_ok=True)
    st.cache_note = (f"on: {', '.join(reused) or 'no stage'} restored (checks as recorded when built), "
                     f"{', '.join(ran) or 'no stage'} run and stored")
    say("cache", f"reused {len(reused)} of {len(stages)} stages, ran {len(ran)} "
                 f"({stage_cache.cache_root()}; --no-cache runs all, `flow cache clear` empties it)")


def _lookup(stage: str, key: str) -> Path | None:
    """The whole entry, else None: a partial or corrupt one is reported and removed; a cache that cannot
    be read (permissions, a full disk) is reported and the stage runs."""
    try:
        return stage_cache.lookup(stage, key)
    except stage_cache.Problem as problem:
        say("cache", f"{stage} entry {key[:12]} is {problem}: removed; the stage is rebuilt")
    except OSError as exc:
        say("cache", f"cannot read the stage cache ({exc.strerror or exc}): {stage} runs")
    return None


def _store(stage: str, key: str, source: Path, names: list, inputs: dict) -> None:
    try:
        stage_cache.store(stage, key, source, names, inputs)
    except OSError as exc:  # the build goes on; the next one runs this stage again
        say("cache", f"cannot store {stage} in the stage cache ({exc.strerror or exc}); the build goes on")


def _restore(st: BuildState, stage: Stage, entry: Path) -> None:
    """Copy ``entry``'s files into the output and reload what the later steps read from them."""
    names = stage_cache.restore(entry, st.staging)
    created = json.loads((entry / stage_cache.MANIFEST).read_text())["created"]
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
    summary = stage.reload(st, False)
    say(stage.name, f"reused from the stage cache (entry {entry.name[:12]}, built {when}, {len(names)} files "
                    f"verified against its manifest); its check when built: {summary}")
