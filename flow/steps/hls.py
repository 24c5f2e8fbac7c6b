"""Steps: the Vitis HLS project of our accelerator, and its bit-exact, II-audited C-simulation."""

from flow.errors import FlowError
from flow.progress import say

from .state import BuildState

CSIM_IMAGES = 2
TOKEN_CODE_BITS = 8  # the token units (matmul, softmax, token LayerNorm, add) read byte codes


def check_accelerator_widths(cfg) -> None:
    """Before any step runs: a DeiT whose activations or token stream are wider than the token units'
    byte codes is refused here, in one line, rather than after minutes of quantizing, at generation."""
    from flow.models import DEIT_NAMES

    if cfg.model not in DEIT_NAMES or cfg.qonnx or cfg.program:
        return  # other programs (and a given QONNX or program) are checked layer by layer at generation
    scheme = cfg.quant_config().scheme
    for name, bits in (("act_bits", scheme.act_bits), ("token_bits", scheme.token_bits)):
        if bits is not None and bits > TOKEN_CODE_BITS:
            raise FlowError(f"{name}={bits}: the accelerator's token units read {TOKEN_CODE_BITS}-bit codes, so "
                            f"{cfg.model} builds with {name} <= {TOKEN_CODE_BITS}")


def step_generate_hls(st: BuildState) -> None:
    """Write the Vitis HLS project (templates, config, program image, testbench with golden vectors of
    the integer reference on real images, co-simulation program, tcl scripts, host driver) under hls/."""
    from flow.boards import board_for_part, get_board
    from flow.estimate.fit import fitted_config
    from flow.hls.concat_in_place import concats_in_place
    from flow.hls.epilogues import as_configured, fuse_epilogues, fused_activations
    from flow.hls.input_patches import on_patches, with_patches
    from flow.hls.residual_epilogues import residual_adds
    from flow.hls.project import write_project
    from flow.parts import get_part
    from flow.reference.compare import activation_quants
    from flow.reference.executor import run_program

    part = get_part(st.cfg.part)
    board = get_board(st.cfg.board) if st.cfg.board else board_for_part(part)
    in_quant = activation_quants(st.qonnx_path)[st.program.inputs[0]]
    program, patched = on_patches(st.program)  # the first convolution on the input's patches, where it applies
    # the activations fused into their producers' engines, as the estimate chose (by default when no
    # estimate ran); the golden tensors stay the unfused program's, so the C-simulation checks the fusion
    program = as_configured(program, st.hw_config) if st.hw_config else fuse_epilogues(program)
    envs = [with_patches(run_program(st.program, {st.program.inputs[0]: in_quant.codes(x.numpy())},
                                     dump_internal=False), patched) for x in st.calib_images[:CSIM_IMAGES]]
    cfg = st.hw_config = st.hw_config or fitted_config(program, st.cfg.acc_bits, beat_bytes=part.beat_bytes)
    clock = st.clock_mhz or st.cfg.clock or part.default_clock_mhz
    image = write_project(program, envs, st.staging / "hls", part, clock, cfg, board,
                          patches=patched)
    st.hls_plan, st.hls_program = image.plan, program
    plan = image.plan
    on_board = f" on {board.name}" if board else ""
    in_ddr = f"; {len(plan.spilled)} tensors in DDR, in row stripes" if plan.spilled else ""
    fused = fused_activations(program)
    adds = residual_adds(program)
    placed = concats_in_place(program)
    say("hls", f"project for {part.part}{on_board} at {clock:g} MHz: {len(st.program.layers)} layers "
               f"({fused} activations fused into their producers, {adds} residual adds into the PE array, "
               f"{placed} concatenations in place: {len(program.layers) - placed} on the accelerator), "
               f"{len(plan.ops)} descriptors, {(image.weights.size + image.weights_desc.size) / 1e6:.2f} MB of weight streams, "
               f"{plan.act_words * plan.lanes / 1e6:.2f} MB of activations on chip ({plan.act_words:,} words of "
               f"{plan.lanes} bytes){in_ddr}; {len(envs)} test images")


def step_csim(st: BuildState) -> None:
    """Compile the project with g++ and the open ap_types headers, run the testbench on every test image
    with the II audit on, and require every layer bit-exact with the integer reference, audit-clean, and
    its counted iterations, fills, DDR beats and bursts equal to the cycle model's."""
    import json

    from flow.estimate.counts import layer_counts
    from flow.hls.csim import compile_csim, run_csim

    project = st.staging / "hls"
    result = run_csim(project, compile_csim(project))
    model = layer_counts(st.hls_plan, st.hls_program, st.hw_config, check=True)
    result["model_counts"] = model
    (st.staging / "csim_report.json").write_text(json.dumps(result, indent=1))
    if not result["bit_exact"]:
        m = result.get("first_mismatch")
        where = (f"layer {m['layer']}, index {m['index']}: csim {m['csim']}, reference {m['reference']}" if m
                 else f"{result['layers_exact']} of {result['layers']} layers checked")
        raise FlowError(f"C-simulation differs from the integer reference on {result['image']}: first at {where}")
    for name, counted in result["counts"].items():
        if model.get(name) != counted:
            diff = {k: (model.get(name, {}).get(k), v) for k, v in counted.items() if model.get(name, {}).get(k) != v}
            raise FlowError(f"the cycle model differs from the C-simulation's counts at {name}: (model, csim) {diff}")
    if set(model) != set(result["counts"]):
        raise FlowError(f"the cycle model and the C-simulation count different layers: {sorted(set(model) ^ set(result['counts']))}")
    own = {k: v for k, v in result["counts"].items() if k != "check"}
    beats = sum(sum(v["beats"].values()) for v in own.values())
    say("csim", f"all {result['layers']} layers bit-exact with the integer reference on {result['images']} images "
                f"({result['seconds_per_image']:.1f} s per image), every loop audit-clean at its II; the cycle model "
                f"equals the counted iterations, fills, DDR beats and bursts of every layer "
                f"({sum(v['cycles'] for v in own.values()):,} II cycles, {beats:,} DDR beats per frame; see csim_report.json)")
