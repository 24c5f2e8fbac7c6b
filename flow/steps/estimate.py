"""Steps: cycle/resource estimate and design-space exploration; `flow estimate`'s input."""

from flow.errors import FlowError
from flow.progress import say

from .state import BuildState


def step_load_program(st: BuildState) -> None:
    """`flow estimate`: the integer program comes from --program (the program/ folder of `flow lower`)."""
    from flow.lower import load_program

    if not st.cfg.program:
        raise FlowError("flow estimate needs --program DIR (the program/ folder written by `flow lower` or `flow build`)")
    st.program = load_program(st.cfg.program)


def step_estimate(st: BuildState) -> None:
    """Design-space exploration: the parallelism with the most frames per second within the utilisation
    limits, its activations planned into the part's on-chip memory; writes estimate/ (estimate.json,
    estimate.md per-layer table, roofline.png)."""
    from flow.estimate.calibration import load_calibration
    from flow.estimate.dse import explore, with_config
    from flow.estimate.report import summary_line, write_report
    from flow.hls.input_patches import on_patches
    from flow.parts import get_part

    part = get_part(st.cfg.part)
    program, _ = on_patches(st.program)  # what the accelerator runs: the first convolution on patches
    cal = load_calibration(st.cfg.calibration) if st.cfg.calibration else None  # a lab run's measured figures
    est = explore(program, part, st.cfg.clock, acc_bits=st.cfg.acc_bits, calibration=cal)  # --clock, or each clock
    est["calibration"] = cal and cal["source"]
    (st.staging / "estimate").mkdir()
    write_report(est, st.staging / "estimate")
    st.hw_config = with_config(est)
    st.clock_mhz = est["clock_mhz"]
    calibrated = f"; calibrated by {cal['source']}" if cal else ""
    say("estimate", f"chose {summary_line(est)} (of {est['candidates']} designs; per layer: estimate/estimate.md"
                    f"{calibrated})")
