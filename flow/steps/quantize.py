"""Steps: post-training quantization (`flow quantize`), or a quantized model from --weights (`flow export`)."""

from flow.errors import FlowError
from flow.progress import say

from .state import EXPORT_CHECK_IMAGES, BuildState


def step_quantize(st: BuildState) -> None:
    """Calibrate a quantized twin of the float model; save it with its per-layer report."""
    from flow.quantize import folded_float_model, quantize_model
    from flow.quantize.report import build_report, write_report
    from flow.quantize.saved import save_quantized

    qcfg = st.cfg.quant_config()
    s = qcfg.scheme
    say("quantize", f"W{s.weight_bits}A{s.act_bits}, {'power-of-two' if s.po2_scales else 'float'} scales, "
                    f"{s.act_calibrator} calibration on {qcfg.calib_images} images "
                    f"({st.cfg.calib_dir or 'built-in Fashion-MNIST'})")
    load_calibration_data(st)
    st.quant_model = quantize_model(st.float_model, st.calib_images, qcfg)
    save_quantized(st.quant_model, st.staging / "quantized.pt")
    report = build_report(folded_float_model(st.float_model), st.quant_model, st.calib_images[:32], qcfg.as_dict())
    write_report(report, st.staging / "quant_report.json", st.staging / "quant_report.md")
    say("quantize", quantize_summary(report))


def load_calibration_data(st: BuildState) -> None:
    """The calibration images (``--calib`` of them from ``--calib-dir`` or the built-in set), once."""
    from flow.data import calibration_images

    if st.calib_images is None:
        n = st.cfg.quant_config().calib_images
        st.calib_images, _ = calibration_images(st.cfg.resolution, n, st.cfg.calib_dir)


def quantize_summary(report: dict) -> str:
    worst = min(report["tensors"], key=lambda r: r["sqnr_db"])
    return f"{len(report['tensors'])} quantized tensors; lowest SQNR {worst['sqnr_db']:.1f} dB ({worst['tensor']})"


def step_load_quantized(st: BuildState) -> None:
    """`flow export`: the quantized model comes from --weights (a `flow quantize` output)."""
    from flow.data import calibration_images
    from flow.quantize.saved import load_quantized

    if not st.cfg.weights:
        raise FlowError("flow export needs --weights QUANTIZED.pt (the quantized.pt written by `flow quantize`)")
    st.quant_model = load_quantized(st.cfg.weights, expect_model=st.cfg.model)
    st.calib_images, _ = calibration_images(st.quant_model.resolution, EXPORT_CHECK_IMAGES, st.cfg.calib_dir)
