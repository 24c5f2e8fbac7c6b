"""Steps: lowering to the integer program, checked against QONNX execution; `flow lower`'s input."""

from pathlib import Path

from flow.errors import FlowError
from flow.progress import say

from .state import EXPORT_CHECK_IMAGES, BuildState


def step_load_qonnx(st: BuildState) -> None:
    """`flow lower`: the QONNX graph comes from --qonnx (a `flow export` output); check images from it."""
    import onnx

    from flow.data import calibration_images
    from flow.lower.lower import onnx_file_problem

    if not st.cfg.qonnx:
        raise FlowError("flow lower needs --qonnx MODEL_QONNX.onnx (the model_qonnx.onnx written by `flow export`)")
    st.qonnx_path = Path(st.cfg.qonnx)
    try:
        graph = onnx.load(str(st.qonnx_path), load_external_data=False).graph
        dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    except Exception as exc:
        raise FlowError(f"cannot read QONNX file '{st.qonnx_path}': {onnx_file_problem(st.qonnx_path, exc)}") from None
    if len(dims) != 4 or dims[1] != 3 or dims[2] != dims[3] or dims[2] < 1:
        raise FlowError(f"QONNX file '{st.qonnx_path}' has input shape {dims}, expected an image, 1 x 3 x R x R "
                        f"(a single block is lowered by `flow build --block`)")
    st.calib_images, _ = calibration_images(dims[2], EXPORT_CHECK_IMAGES, st.cfg.calib_dir)


def step_lower(st: BuildState) -> None:
    """Lower the QONNX graph to the integer program (with range analysis), save it, and check the integer
    reference against QONNX execution on real images: exactly with power-of-two scales, else per layer
    (teacher-forced) within 1 LSB on >= 99.9% of elements. Writes program/ (program.json, weights.bin),
    lower_check.json, and reference_dump.npz (every tensor of the integer reference on the first image)."""
    import json

    from flow.lower import lower_qonnx, save_program
    from flow.reference.compare import activation_quants, check_against_qonnx
    from flow.reference.executor import run_program, save_dump

    program = lower_qonnx(st.qonnx_path, name=st.cfg.model, acc_bits=st.cfg.acc_bits)
    r = program.meta["ranges"]
    say("lower", f"{len(program.layers)} layers ({_kind_counts(program)}); accumulators need at most "
                 f"{r['acc_bits_needed']} of {r['acc_bits_configured']} bits")
    save_program(program, st.staging / "program")
    result = check_against_qonnx(program, st.qonnx_path, st.calib_images[:EXPORT_CHECK_IMAGES].numpy())
    (st.staging / "lower_check.json").write_text(json.dumps(result, indent=1))
    in_quant = activation_quants(st.qonnx_path)[program.inputs[0]]  # the graph's input Quant
    codes = in_quant.codes(st.calib_images[0].numpy())
    save_dump(run_program(program, {program.inputs[0]: codes}), st.staging / "reference_dump.npz")
    say("lower", lower_summary(result, st.cfg))
    st.program = program


def lower_summary(result: dict, cfg) -> str:
    return (f"integer reference vs QONNX on {result['images']} images ({result['criterion']}): "
            f"{result['tensors_exact']}/{result['tensors']} tensors identical, worst {result['max_lsb']} LSB, "
            f"{100 * result['min_equal_fraction']:.3f}% equal" + _judged(result)
            + (f"; top-1 agrees on {result['top1_agree']}/{result['images']}" if not cfg.block else ""))


def _judged(result: dict) -> str:
    """Free scales: whose codes the exact ones are where the two differ (flow.reference.arbitrate)."""
    j = result.get("judged")
    if not j:
        return ""
    return (f"; of the {result['differing']} differing codes the exact one is the integer reference's on "
            f"{j.get('integer', 0)}, QONNX's on {j.get('qonnx', 0)}")


def _kind_counts(program) -> str:
    counts = {}
    for layer in program.layers:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())
