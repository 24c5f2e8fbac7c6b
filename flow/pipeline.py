"""`flow build`: a list of plain step functions, each taking the build state to the next artifact and
checking what it made before the next step runs (the shape of FINN's builder).

Output is written into a staging folder that only replaces ``--out`` when every step
succeeded; on any error it is removed, so nothing half-written is left behind.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from flow.config import BuildConfig
from flow.errors import FlowError, choose
from flow.progress import say


EXPORT_CHECK_IMAGES = 8


@dataclass
class BuildState:
    cfg: BuildConfig
    staging: Path
    float_model: torch.nn.Module | None = None
    quant_model: torch.nn.Module | None = None
    calib_images: torch.Tensor | None = None
    qonnx_path: Path | None = None
    program: object = None
    hw_config: object = None


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
    if st.cfg.block:
        from flow.models.block import block_names

        choose("block", st.cfg.block, block_names(model))
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


def step_cut_block(st: BuildState) -> None:
    """`--block NAME`: from here on the model is that block of the quantized model, behind a copy of the
    quantizer of its input; its check data are its real inputs on the first images."""
    from flow.models.block import cut_block

    st.quant_model, st.calib_images = cut_block(st.quant_model, st.cfg.block, st.calib_images[:EXPORT_CHECK_IMAGES])
    n = sum(p.numel() for p in st.quant_model.block.parameters())
    say("block", f"{st.cfg.block}: {type(st.quant_model.block).__name__}, input "
                 f"{'x'.join(map(str, st.calib_images.shape[1:]))}, {n / 1e3:.1f} k parameters; "
                 f"checked on its inputs from {len(st.calib_images)} images")


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
    st.qonnx_path = path
    result = check_qonnx(path, st.quant_model, st.calib_images[:EXPORT_CHECK_IMAGES])
    (st.staging / "export_check.json").write_text(json.dumps(result, indent=1))
    say("export", f"QONNX matches Brevitas on {result['images']} images ({result['scales']} scales, "
                  f"{result['criterion']}): output {result['max_output_diff_lsb']:.3g} LSB, worst tensor "
                  f"{result['max_tensor_diff_lsb']:.3g} LSB, {100 * result['min_tensor_equal_fraction']:.3f}% equal")


def step_load_qonnx(st: BuildState) -> None:
    """`flow lower`: the QONNX graph comes from --qonnx (a `flow export` output); check images from it."""
    import onnx

    from flow.data import calibration_images

    if not st.cfg.qonnx:
        raise FlowError("flow lower needs --qonnx MODEL_QONNX.onnx (the model_qonnx.onnx written by `flow export`)")
    st.qonnx_path = Path(st.cfg.qonnx)
    try:
        graph = onnx.load(str(st.qonnx_path), load_external_data=False).graph
        dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    except Exception as exc:
        raise FlowError(f"cannot read QONNX file '{st.qonnx_path}': {type(exc).__name__}")
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
    say("lower", f"integer reference vs QONNX on {result['images']} images ({result['criterion']}): "
                 f"{result['tensors_exact']}/{result['tensors']} tensors identical, worst {result['max_lsb']} LSB, "
                 f"{100 * result['min_equal_fraction']:.3f}% equal"
                 + (f"; top-1 agrees on {result['top1_agree']}/{result['images']}" if not st.cfg.block else ""))
    st.program = program


def _kind_counts(program) -> str:
    counts = {}
    for layer in program.layers:
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in counts.items())


CSIM_IMAGES = 2


def step_load_program(st: BuildState) -> None:
    """`flow estimate`: the integer program comes from --program (the program/ folder of `flow lower`)."""
    from flow.lower import load_program

    if not st.cfg.program:
        raise FlowError("flow estimate needs --program DIR (the program/ folder written by `flow lower` or `flow build`)")
    st.program = load_program(st.cfg.program)


def step_estimate(st: BuildState) -> None:
    """Design-space exploration: the parallelism with the most frames per second within 80% of the part's
    DSP and BRAM; writes estimate/ (estimate.json, estimate.md per-layer table, roofline.png)."""
    from flow.estimate.dse import explore, with_config
    from flow.estimate.report import layer_table, summary_line, write_report
    from flow.parts import get_part

    part = get_part(st.cfg.part)
    est = explore(st.program, part, part.default_clock_mhz, acc_bits=st.cfg.acc_bits)
    (st.staging / "estimate").mkdir()
    write_report(est, st.staging / "estimate")
    st.hw_config = with_config(est)
    print(layer_table(est))
    say("estimate", f"chose {summary_line(est)} (of {est['candidates']} designs)")


def step_generate_hls(st: BuildState) -> None:
    """Write the Vitis HLS project (templates, config, program image, testbench with golden vectors of
    the integer reference on real images, tcl scripts, host driver) under hls/."""
    from flow.boards import board_for_part, get_board
    from flow.estimate.dse import fitted_config
    from flow.hls.project import write_project
    from flow.parts import get_part
    from flow.reference.compare import activation_quants
    from flow.reference.executor import run_program

    part = get_part(st.cfg.part)
    board = get_board(st.cfg.board) if st.cfg.board else board_for_part(part)
    in_quant = activation_quants(st.qonnx_path)[st.program.inputs[0]]
    envs = [run_program(st.program, {st.program.inputs[0]: in_quant.codes(x.numpy())}, dump_internal=False)
            for x in st.calib_images[:CSIM_IMAGES]]
    cfg = st.hw_config or fitted_config(st.program, st.cfg.acc_bits)
    image = write_project(st.program, envs, st.staging / "hls", part, part.default_clock_mhz, cfg, board)
    on_board = f" on {board.name}" if board else ""
    say("hls", f"project for {part.part}{on_board} at {part.default_clock_mhz:g} MHz: {len(st.program.layers)} layers, "
               f"{image.weights.size / 1e6:.2f} MB weights, {4 * image.params.size / 1e3:.0f} kB parameters, "
               f"{2 * image.arena_size / 1e6:.2f} MB activations in DDR; {len(envs)} test images")


def step_csim(st: BuildState) -> None:
    """Compile the project with g++ and the open ap_types headers, run the testbench on every test
    image, and require every layer bit-exact with the integer reference and its counted cycles equal to
    the cycle model's."""
    import json

    from flow.estimate.cycles import layer_cycles
    from flow.estimate.dse import fitted_config
    from flow.hls.csim import compile_csim, run_csim

    project = st.staging / "hls"
    result = run_csim(project, compile_csim(project))
    (st.staging / "csim_report.json").write_text(json.dumps(result, indent=1))
    if not result["bit_exact"]:
        m = result.get("first_mismatch")
        where = (f"layer {m['layer']}, index {m['index']}: csim {m['csim']}, reference {m['reference']}" if m
                 else f"{result['layers_exact']} of {result['layers']} layers checked")
        raise FlowError(f"C-simulation differs from the integer reference on {result['image']}: first at {where}")
    cfg = st.hw_config or fitted_config(st.program, st.cfg.acc_bits)
    for layer in st.program.layers:
        model = layer_cycles(layer, st.program, cfg)
        if model != result["cycles"][layer.name]:
            raise FlowError(f"cycle model differs from the C-simulation at layer {layer.name} ({layer.kind}): "
                            f"model {model}, csim {result['cycles'][layer.name]}")
    say("csim", f"all {result['layers']} layers bit-exact with the integer reference on {result['images']} images "
                f"({result['seconds_per_image']:.1f} s per image); counted cycles equal the cycle model's on every "
                f"layer ({sum(result['cycles'].values()):,} per frame)")


def step_hls4ml_scope(st: BuildState) -> None:
    """`--backend hls4ml`, before quantizing: fail at once when the weights alone overflow the on-chip
    budget (the exact check, on the lowered program, comes with the conversion)."""
    from flow.hls4ml_backend.project import ON_CHIP_LIMIT, on_chip_bytes
    from flow.parts import get_part

    part = get_part(st.cfg.part)
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

    from flow.estimate.dse import fitted_config
    from flow.hls4ml_backend.project import compare_with_reference, compile_model, convert, predict_codes
    from flow.parts import get_part
    from flow.reference.compare import activation_quants
    from flow.reference.executor import run_program

    part, program = get_part(st.cfg.part), st.program
    in_quant = activation_quants(st.qonnx_path)[program.inputs[0]]
    codes = np.stack([in_quant.codes(x.numpy()) for x in st.calib_images[:HLS4ML_IMAGES]])
    envs = [run_program(program, {program.inputs[0]: c}, dump_internal=False) for c in codes]
    ref = np.stack([np.asarray(env[program.outputs[0]]).reshape(-1) for env in envs]).astype(np.int64)
    model = convert(program, st.staging / "hls4ml", part, part.default_clock_mhz,
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
              "part": part.part, "clock_mhz": part.default_clock_mhz, "project": "hls4ml",
              "on_chip_bytes": model.vitflow_memory}
    (st.staging / "hls4ml_report.json").write_text(json.dumps(report, indent=1))
    if not layers["bit_exact"]:
        m = layers["first_mismatch"]
        raise FlowError(f"hls4ml trace differs from the integer reference at layer {m['layer']}, image {m['image']}, "
                        f"index {m['index']}: {m['hls4ml']} vs {m['reference']}")
    say("hls4ml", f"project for {part.part}: compile() {compile_s:.1f} s, predict() {predict_s / len(codes):.3f} s "
                  f"per image; output and all {layers['layers']} layers bit-exact with the integer reference on "
                  f"{len(codes)} images")


def build_steps(cfg: BuildConfig) -> list:
    """The steps of `flow build` for ``cfg``'s backend, with the block cut when ``cfg.block`` is set."""
    front = [step_build_model] + ([step_hls4ml_scope] if cfg.backend == "hls4ml" else []) + [step_quantize]
    front += ([step_cut_block] if cfg.block else []) + [step_export, step_lower]
    return front + ([step_hls4ml] if cfg.backend == "hls4ml" else [step_estimate, step_generate_hls, step_csim])

QUANTIZE_STEPS = [step_build_model, step_quantize]
EXPORT_STEPS = [step_load_quantized, step_export]
LOWER_STEPS = [step_load_qonnx, step_lower]
ESTIMATE_STEPS = [step_load_program, step_estimate]


def run_build(cfg: BuildConfig, steps=None) -> Path:
    """Run ``steps`` (default: build_steps(cfg)) in order; return the output folder, complete, or raise with nothing left behind."""
    out = cfg.output_dir()
    if out.exists() and not out.is_dir():
        raise FlowError(f"output path '{out}' exists and is not a folder")
    staging = out.parent / f".{out.name}.partial"
    created = _first_missing_ancestor(staging)  # removed again on failure, with the staging folder
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        st = BuildState(cfg=cfg, staging=staging)
        for step in steps or build_steps(cfg):
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
