"""One cell of a sweep, in whatever process runs it (a Ray worker): its build, estimate or accuracy
evaluation, and the figures the results table shows. A cell's error is its result, never the sweep's."""

import json
import time
import traceback
from pathlib import Path

from .grid import Cell

EVAL_BATCH = 128  # fake quantization is element-wise work: 128 images per batch ran 24% faster than 256


def run_cell(cell: Cell, cell_dir: str) -> dict:
    """Run ``cell`` with its output under ``cell_dir``; return its result: the cell's settings, status
    ("ok" or "failed"), seconds, and the figures (fps, gops, gops_per_dsp, utilisation per resource,
    clock_mhz, csim_bit_exact, top1) its task produced, or the error."""
    import torch

    torch.set_num_threads(1)  # one core per task: the scheduler places tasks on the cores
    t0 = time.monotonic()
    result = {"cell": cell.id, "settings": cell.settings()}
    try:
        figures = _accuracy_only(cell) if cell.task == "accuracy" else _build(cell, Path(cell_dir) / "build")
        result.update(status="ok", **figures)
    except Exception as exc:  # noqa: BLE001: any failure of one cell is reported, and the others go on
        lines = str(exc).strip().splitlines()
        result.update(status="failed", error=f"{type(exc).__name__}: {lines[0] if lines else ''}"[:400],
                      traceback=traceback.format_exc())
    result["seconds"] = round(time.monotonic() - t0, 1)
    return result


def _config(cell: Cell, out: Path | None = None):
    from flow.config import make_config

    return make_config(model=cell.model, resolution=cell.resolution, bits=cell.bits, part=cell.part or "xczu9eg",
                       quantization=cell.quantization or None, weights=cell.weights, calib=cell.calib,
                       clock=cell.clock, out=str(out) if out else None)


def _build(cell: Cell, out: Path) -> dict:
    """`flow build` (task build) or its front and estimate (task estimate) into ``out``; the estimate's
    figures, the C-simulation's verdict and, with eval_images, the quantized model's top-1."""
    from flow.pipeline import run_build
    from flow.steps.cached import step_front
    from flow.steps.estimate import step_estimate
    from flow.steps.model import step_build_model

    cfg = _config(cell, out)
    steps = None if cell.task == "build" else [step_build_model, step_front, step_estimate]
    run_build(cfg, steps=steps)
    est = json.loads((out / "estimate" / "estimate.json").read_text())
    figures = {"fps": est["fps"], "gops": est["gops"], "gops_per_dsp": est.get("gops_per_dsp"),
               "clock_mhz": est["clock_mhz"], **{f"{k}_pct": v for k, v in _utilisation(est).items()}}
    if cell.task == "build":
        csim = json.loads((out / "csim_report.json").read_text())
        figures["csim_bit_exact"] = bool(csim["bit_exact"])
    if cell.eval_images != 0:
        from flow.quantize.saved import load_quantized

        figures["top1"] = _top1(load_quantized(out / "quantized.pt"), cell)
    return figures


def _utilisation(est: dict) -> dict:
    """Percent of the part per resource kind (the estimate's utilisation is a fraction)."""
    return {k: round(100 * float(v), 1) for k, v in est["utilisation"].items()}


def _accuracy_only(cell: Cell) -> dict:
    """Quantize the float model (seeded, so a cell's result does not depend on the cells before it) and
    evaluate its top-1; no artifacts."""
    import torch

    from flow.data import calibration_images
    from flow.quantize import quantize_model
    from flow.steps.model import build_float_model

    cfg = _config(cell)
    fp = build_float_model(cfg)
    qcfg = cfg.quant_config()
    x_cal, _ = calibration_images(cell.resolution, qcfg.calib_images, seed=cell.calib_seed)
    torch.manual_seed(0)
    return {"top1": _top1(quantize_model(fp, x_cal, qcfg), cell)}


def _top1(model, cell: Cell) -> float:
    import torch

    from flow.data import load_fashion_mnist
    from flow.quantize.inference import fast_quant_inference
    from flow.training import evaluate_top1

    x, y = load_fashion_mnist("test", cell.resolution, count=cell.eval_images,
                              seed=cell.eval_seed if cell.eval_images else None)
    with torch.no_grad(), fast_quant_inference(model):
        return round(evaluate_top1(model, x, y, batch_size=EVAL_BATCH), 2)
