"""Step: QONNX export, checked by execution against the Brevitas model."""

from flow.progress import say

from .state import EXPORT_CHECK_IMAGES, BuildState


def step_export(st: BuildState) -> None:
    """Export QONNX, clean it, and check it by execution on real images against the Brevitas model."""
    import json

    from flow.export import check_qonnx, export_clean_qonnx

    path = export_clean_qonnx(st.quant_model, st.staging)
    st.qonnx_path = path
    result = check_qonnx(path, st.quant_model, st.calib_images[:EXPORT_CHECK_IMAGES])
    (st.staging / "export_check.json").write_text(json.dumps(result, indent=1))
    say("export", export_summary(result))


def export_summary(result: dict) -> str:
    return (f"QONNX matches Brevitas on {result['images']} images ({result['scales']} scales, "
            f"{result['criterion']}): output {result['max_output_diff_lsb']:.3g} LSB, worst tensor "
            f"{result['max_tensor_diff_lsb']:.3g} LSB, {100 * result['min_tensor_equal_fraction']:.3f}% equal")
