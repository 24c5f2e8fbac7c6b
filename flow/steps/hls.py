"""Steps: the Vitis HLS project of our accelerator, and its bit-exact C-simulation."""

from flow.errors import FlowError
from flow.progress import say

from .state import BuildState

CSIM_IMAGES = 2


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
    cfg = st.hw_config = st.hw_config or fitted_config(st.program, st.cfg.acc_bits)  # the csim step checks with it
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
    from flow.hls.csim import compile_csim, run_csim

    project = st.staging / "hls"
    result = run_csim(project, compile_csim(project))
    (st.staging / "csim_report.json").write_text(json.dumps(result, indent=1))
    if not result["bit_exact"]:
        m = result.get("first_mismatch")
        where = (f"layer {m['layer']}, index {m['index']}: csim {m['csim']}, reference {m['reference']}" if m
                 else f"{result['layers_exact']} of {result['layers']} layers checked")
        raise FlowError(f"C-simulation differs from the integer reference on {result['image']}: first at {where}")
    cfg = st.hw_config  # the parallelism the project was generated with
    for layer in st.program.layers:
        model = layer_cycles(layer, st.program, cfg)
        if model != result["cycles"][layer.name]:
            raise FlowError(f"cycle model differs from the C-simulation at layer {layer.name} ({layer.kind}): "
                            f"model {model}, csim {result['cycles'][layer.name]}")
    say("csim", f"all {result['layers']} layers bit-exact with the integer reference on {result['images']} images "
                f"({result['seconds_per_image']:.1f} s per image); counted cycles equal the cycle model's on every "
                f"layer ({sum(result['cycles'].values()):,} per frame)")
