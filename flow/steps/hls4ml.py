"""Steps of `--backend hls4ml`: the scope check before quantizing, then the program through hls4ml."""

from flow.errors import FlowError
from flow.progress import say

from .state import EXPORT_CHECK_IMAGES, BuildState


def step_hls4ml_scope(st: BuildState) -> None:
    """`--backend hls4ml`, before quantizing: fail at once when the weights alone overflow the on-chip
    budget (the exact check, on the lowered program, comes with the conversion)."""
    from flow.hls4ml_backend.project import ON_CHIP_LIMIT, on_chip_bytes
    from flow.parts import get_part

    part = get_part(st.cfg.part)
    if getattr(getattr(st.float_model, "spec", None), "family", "efficientvit") == "deit":
        raise FlowError(f"--backend hls4ml has no layers for {st.cfg.model}'s softmax attention, GELU and token "
                        f"LayerNorms; use the default backend (--backend vitflow)")
    module = st.float_model.get_submodule(st.cfg.block) if st.cfg.block else st.float_model
    need = sum(p.numel() for p in module.parameters()) * st.cfg.quant_config().scheme.weight_bits / 8
    budget = ON_CHIP_LIMIT * on_chip_bytes(part)
    if need > budget:
        what = f"{st.cfg.model} {st.cfg.block}" if st.cfg.block else st.cfg.model
        raise FlowError(f"{what} does not fit hls4ml's on-chip dataflow on {part.name}: {need / 1e6:.2f} MB of "
                        f"weights, {budget / 1e6:.2f} MB on chip ({100 * ON_CHIP_LIMIT:.0f}% of BRAM+URAM); use the "
                        f"default backend (--backend vitflow), which streams weights from DDR, or --block")


HLS4ML_IMAGES = EXPORT_CHECK_IMAGES


def step_hls4ml(st: BuildState) -> None:
    """`--backend hls4ml`: the program as an hls4ml ModelGraph (our layers through hls4ml's extension API),
    written as an hls4ml project for the part (its own Vitis build script), compiled and run with
    predict() on real images; its output and, traced, every layer must equal the integer reference.
    Writes hls4ml/ and hls4ml_report.json (compile and predict times)."""
    import json
    import time

    import numpy as np

    from flow.estimate.fit import fitted_config
    from flow.hls4ml_backend.project import compare_with_reference, compile_model, convert, predict_codes
    from flow.parts import get_part
    from flow.reference.compare import activation_quants
    from flow.reference.executor import run_program

    part, program = get_part(st.cfg.part), st.program
    in_quant = activation_quants(st.qonnx_path)[program.inputs[0]]
    codes = np.stack([in_quant.codes(x.numpy()) for x in st.calib_images[:HLS4ML_IMAGES]])
    envs = [run_program(program, {program.inputs[0]: c}, dump_internal=False) for c in codes]
    ref = np.stack([np.asarray(env[program.outputs[0]]).reshape(-1) for env in envs]).astype(np.int64)
    model = convert(program, st.staging / "hls4ml", part, st.cfg.clock or part.default_clock_mhz,
                    fitted_config(program, st.cfg.acc_bits), tb=(codes, ref))
    compile_s = compile_model(model)
    t0 = time.perf_counter()
    out, _ = predict_codes(model, program, [codes])
    predict_s = time.perf_counter() - t0
    if not np.array_equal(out, ref):
        img, idx = np.argwhere(out != ref)[0]
        raise FlowError(f"hls4ml predict() differs from the integer reference on image {img}, output {idx}: "
                        f"{out[img, idx]} vs {ref[img, idx]}")
    layers = compare_with_reference(model, program, envs, [codes])
    layers.pop("traced")
    report = {"images": len(codes), "output_bit_exact": True, "compile_seconds": compile_s,
              "predict_seconds": predict_s, "predict_seconds_per_image": predict_s / len(codes), "layers": layers,
              "part": part.part, "clock_mhz": st.cfg.clock or part.default_clock_mhz, "project": "hls4ml",
              "on_chip_bytes": model.vitflow_memory}
    (st.staging / "hls4ml_report.json").write_text(json.dumps(report, indent=1))
    if not layers["bit_exact"]:
        m = layers["first_mismatch"]
        raise FlowError(f"hls4ml trace differs from the integer reference at layer {m['layer']}, image {m['image']}, "
                        f"index {m['index']}: {m['hls4ml']} vs {m['reference']}")
    say("hls4ml", f"project for {part.part}: compile() {compile_s:.1f} s, predict() {predict_s / len(codes):.3f} s "
                  f"per image; output and all {layers['layers']} layers bit-exact with the integer reference on "
                  f"{len(codes)} images")
