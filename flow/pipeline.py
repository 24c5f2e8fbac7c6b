"""`flow build`: a list of plain step functions, each taking the build state to the next artifact and
checking what it made before the next step runs (the shape of FINN's builder).

Steps that later issues deliver raise StageNotBuilt, so a build stops there plainly instead of
pretending. Output is written into a staging folder that only replaces ``--out`` when every step
succeeded; on any error it is removed, so nothing half-written is left behind.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from flow.config import BuildConfig
from flow.errors import FlowError
from flow.progress import say


class StageNotBuilt(FlowError):
    """A pipeline stage that is not implemented yet (exit status 3, not an input error)."""

    def __init__(self, stage: str, issue: int):
        super().__init__(f"stage '{stage}' is not built yet (tracked in issue #{issue}); stopping here, nothing was written")
        self.stage = stage


EXPORT_CHECK_IMAGES = 8


@dataclass
class BuildState:
    cfg: BuildConfig
    staging: Path
    float_model: torch.nn.Module | None = None
    quant_model: torch.nn.Module | None = None
    calib_images: torch.Tensor | None = None


def build_float_model(cfg: BuildConfig):
    """The float EfficientViT for ``cfg``, with ``cfg.weights`` loaded when given."""
    from flow.models import QuantScheme, build_model, load_checkpoint
    from flow.models.checkpoint import read_state_dict, infer_num_classes

    state = read_state_dict(cfg.weights) if cfg.weights else None
    num_classes = infer_num_classes(state) if state is not None else 1000
    model = build_model(cfg.model, num_classes=num_classes, resolution=cfg.resolution,
                        quant=QuantScheme.float_reference())
    if state is not None:
        layout = load_checkpoint(model, state)
        say("model", f"loaded {layout}-layout checkpoint {cfg.weights}")
    return model.eval()


def step_build_model(st: BuildState) -> None:
    from flow.models import count_complexity

    say("model", f"building {st.cfg.model} at {st.cfg.resolution}x{st.cfg.resolution}")
    model = build_float_model(st.cfg)
    cx = count_complexity(model)
    with torch.no_grad():
        y = model(torch.zeros(1, model.in_chans, st.cfg.resolution, st.cfg.resolution))
    if tuple(y.shape) != (1, model.num_classes) or not torch.isfinite(y).all():
        raise FlowError(f"model check failed: output {tuple(y.shape)} (finite={bool(torch.isfinite(y).all())})")
    say("model", f"{cx.params / 1e6:.2f} M parameters, {cx.macs / 1e9:.3f} GMACs, {model.num_classes} classes")
    st.float_model = model


def step_quantize(st: BuildState) -> None:
    """Calibrate a quantized twin of the float model; save it with its per-layer report."""
    from flow.data import calibration_images
    from flow.quantize import folded_float_model, quantize_model
    from flow.quantize.report import build_report, write_report
    from flow.quantize.saved import save_quantized

    qcfg = st.cfg.quant_config()
    s = qcfg.scheme
    say("quantize", f"W{s.weight_bits}A{s.act_bits}, {'power-of-two' if s.po2_scales else 'float'} scales, "
                    f"{s.act_calibrator} calibration on {qcfg.calib_images} images "
                    f"({st.cfg.calib_dir or 'built-in Fashion-MNIST'})")
    st.calib_images, _ = calibration_images(st.cfg.resolution, qcfg.calib_images, st.cfg.calib_dir)
    st.quant_model = quantize_model(st.float_model, st.calib_images, qcfg)
    save_quantized(st.quant_model, st.staging / "quantized.pt")
    report = build_report(folded_float_model(st.float_model), st.quant_model, st.calib_images[:32], qcfg.as_dict())
    write_report(report, st.staging / "quant_report.json", st.staging / "quant_report.md")
    worst = min(report["tensors"], key=lambda r: r["sqnr_db"])
    say("quantize", f"{len(report['tensors'])} quantized tensors; lowest SQNR {worst['sqnr_db']:.1f} dB "
                    f"({worst['tensor']})")


def step_load_quantized(st: BuildState) -> None:
    """`flow export`: the quantized model comes from --weights (a `flow quantize` output)."""
    from flow.data import calibration_images
    from flow.quantize.saved import load_quantized

    if not st.cfg.weights:
        raise FlowError("flow export needs --weights QUANTIZED.pt (the quantized.pt written by `flow quantize`)")
    st.quant_model = load_quantized(st.cfg.weights, expect_model=st.cfg.model)
    st.calib_images, _ = calibration_images(st.quant_model.resolution, EXPORT_CHECK_IMAGES, st.cfg.calib_dir)


def step_export(st: BuildState) -> None:
    """Export QONNX, clean it, and check it by execution on real images against the Brevitas model."""
    import json

    from flow.export import check_qonnx, export_clean_qonnx

    path = export_clean_qonnx(st.quant_model, st.staging)
    result = check_qonnx(path, st.quant_model, st.calib_images[:EXPORT_CHECK_IMAGES])
    (st.staging / "export_check.json").write_text(json.dumps(result, indent=1))
    say("export", f"QONNX matches Brevitas on {result['images']} images ({result['scales']} scales, "
                  f"{result['criterion']}): output {result['max_output_diff_lsb']:.3g} LSB, worst tensor "
                  f"{result['max_tensor_diff_lsb']:.3g} LSB, {100 * result['min_tensor_equal_fraction']:.3f}% equal")


def step_lower(st: BuildState) -> None:
    raise StageNotBuilt("lower", 4)


def step_generate_hls(st: BuildState) -> None:
    raise StageNotBuilt("generate-hls", 5)


def step_csim(st: BuildState) -> None:
    raise StageNotBuilt("csim", 5)


def step_estimate(st: BuildState) -> None:
    raise StageNotBuilt("estimate", 6)


BUILD_STEPS = [step_build_model, step_quantize, step_export, step_lower, step_generate_hls, step_csim, step_estimate]
QUANTIZE_STEPS = [step_build_model, step_quantize]
EXPORT_STEPS = [step_load_quantized, step_export]


def run_build(cfg: BuildConfig, steps=BUILD_STEPS) -> Path:
    """Run ``steps`` in order; return the output folder, complete, or raise with nothing left behind."""
    out = cfg.output_dir()
    if out.exists() and not out.is_dir():
        raise FlowError(f"output path '{out}' exists and is not a folder")
    staging = out.parent / f".{out.name}.partial"
    created = _first_missing_ancestor(staging)  # removed again on failure, with the staging folder
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        st = BuildState(cfg=cfg, staging=staging)
        for step in steps:
            step(st)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(created or staging, ignore_errors=True)
        raise
    return out


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None if ``path``'s parent exists)."""
    missing = None
    for p in [path.parent, *path.parent.parents]:
        if p.exists():
            break
        missing = p
    return missing
