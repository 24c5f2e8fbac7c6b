"""The accelerator the estimate chooses for EfficientViT B0-B3 and DeiT-Tiny at 224x224 on xczu9eg and for B1
on every other part of the library (xck26, xczu7ev, xczu3eg, xc7z020): modeled frames per second, GOPS, GOPS per
DSP, the resources of each kind, the on-chip activation memory, and where the cycles go: per engine, and
per bound (engine work, waiting for DDR, pipeline fill and burst latency). Every figure comes from the cycle model, whose counts the C-simulation's II audit checks
(`flow build` and --csim below require them equal on every layer), and from the resource model.

The programs are the default `flow build`'s (random weights, W8A8 shipped defaults) but calibrated with
min-max on 8 images: the accelerator's timing depends on the program's shapes, not on the weights' values.
Each model's program is built once (quantize, export, lower: ~1-5 minutes each) and cached in
benchmarks/.cache/accelerator/.

    python3 benchmarks/accelerator.py            # the table
    python3 benchmarks/accelerator.py --csim     # and C-simulate each model on xczu9eg's choice (1 image):
                                                 # bit-exact, audit-clean, the model's counts equal the audit's
"""

import argparse
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "accelerator"
ROWS = [("efficientvit_b0", "xczu9eg"), ("efficientvit_b1", "xczu9eg"), ("efficientvit_b2", "xczu9eg"),
        ("efficientvit_b3", "xczu9eg"), ("efficientvit_b1", "xck26"), ("efficientvit_b1", "xczu7ev"),
        ("efficientvit_b1", "xczu3eg"), ("efficientvit_b1", "xc7z020"), ("deit_tiny", "xczu9eg")]
ENGINES = {"conv": "conv", "linear": "conv (linear layers)", "dwconv": "depthwise", "hardswish": "tables", "relu": "tables",
           "linear_attention": "attention", "add": "add", "concat": "concat", "gap": "pool+norm",
           "layernorm": "pool+norm", "gelu": "tables", "requant": "tables", "add_const": "add",
           "softmax": "softmax", "matmul": "q k^T, attn v"}
RESOLUTION = 224
TARGET = ("efficientvit_b1", "xczu9eg")  # the design the published accelerators are compared with
TARGET_GOPS = 780  # Shao et al. 2024 (arXiv 2403.20230): EfficientViT on a ZCU102 at 200 MHz


def program_of(model: str):
    """(program, QONNX path) of ``model``, built through flow's own steps once, then from the cache."""
    from flow.config import make_config
    from flow.lower import load_program
    from flow.steps.export import step_export
    from flow.steps.lower import step_lower
    from flow.steps.model import step_build_model
    from flow.steps.quantize import step_quantize
    from flow.steps.state import BuildState

    folder = CACHE / f"{model}_r{RESOLUTION}"
    if not (folder / "program" / "program.json").is_file():
        tmp = folder.with_suffix(".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cfg = make_config(model=model, resolution=RESOLUTION, calib=8,
                          quantization={"act_calibrator": "minmax", "bias_correction": False})
        st = BuildState(cfg=cfg, staging=tmp)
        for step in (step_build_model, step_quantize, step_export, step_lower):
            step(st)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    return load_program(folder / "program"), folder / "model_qonnx.onnx"


def csim_check(model: str, est: dict, program, qonnx, part) -> str:
    """C-simulate ``program`` on the chosen design, one test image: bit-exact, audit-clean, counts equal."""
    import tempfile

    from flow.data import load_fashion_mnist
    from flow.estimate.counts import layer_counts
    from flow.estimate.dse import with_config
    from flow.hls.csim import compile_csim, run_csim
    from flow.hls.epilogues import as_configured
    from flow.hls.input_patches import on_patches, with_patches
    from flow.hls.project import write_project
    from flow.reference import run_program
    from flow.reference.compare import activation_quants

    cfg = with_config(est)
    image = load_fashion_mnist("test", RESOLUTION, count=1)[0][0].numpy()
    codes = activation_quants(qonnx)[program.inputs[0]].codes(image)
    env = run_program(program, {program.inputs[0]: codes}, dump_internal=False)
    hw, spec = on_patches(program)
    hw = as_configured(hw, cfg)  # the activations fused into their producers, as the estimate chose
    with tempfile.TemporaryDirectory() as tmp:
        img = write_project(hw, [with_patches(env, spec)], Path(tmp) / "hls", part, est["clock_mhz"], cfg,
                            patches=spec)
        result = run_csim(Path(tmp) / "hls", compile_csim(Path(tmp) / "hls"))
        model_counts = layer_counts(img.plan, hw, cfg, check=True)
    equal = model_counts == result["counts"]
    return (f"{model}: {result['layers_exact']}/{result['layers']} layers bit-exact, audit-clean, the model's counts "
            f"{'equal' if equal else 'DIFFER FROM'} the audit's on every layer ({result['seconds_per_image']:.1f} s)")


def print_bounds(model: str, part, est: dict) -> None:
    """What bounds ``est``'s design: how far each parallelism knob is from the largest the word allows, and
    the frame rate if one engine's cycles were halved (the rest as they are), which bounds what doubling
    that engine alone can buy; and the frame time the published figure needs."""
    from flow.estimate.dse import SPACE
    from flow.estimate.fit import fitted_config

    cfg, lanes = est["config"], est["config"]["lanes"]
    per = {}
    for r in est["layers"]:
        per[ENGINES[r["kind"]]] = per.get(ENGINES[r["kind"]], 0) + r["cycles"]
    cycles, clock = est["cycles"], est["clock_mhz"] * 1e6
    # as the search bounds them (dse._word_space): the attention's rows and dividers fitted to the program
    base = fitted_config(on_patches_of(model), cfg["acc_bits"], lanes=lanes, att_rows=max(SPACE["att_rows"]),
                         att_dividers=max(SPACE["att_dividers"]))
    largest = {"pe_rows": 2 * lanes, "pe_cols": lanes, "dw_lanes": lanes, "att_rows": base.att_rows,
               "att_dividers": base.att_dividers}
    knobs = ", ".join(f"{k} {cfg[k]} of {v}" for k, v in largest.items())
    halved = ", ".join(f"{k} {clock / (cycles - v / 2):.1f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])
                       if v / cycles >= 0.02)
    need = est["gops"] / TARGET_GOPS * cycles
    print(f"\nWhat bounds {model} on {part.name} at {est['clock_mhz']:.0f} MHz ({est['fps']:.1f} FPS, "
          f"{est['gops']:.1f} GOPS):")
    print(f"  its knobs against the largest the {lanes}-byte word allows: {knobs}")
    print(f"  FPS with one engine's cycles halved: {halved}")
    print(f"  {TARGET_GOPS} GOPS needs a frame of {need:,.0f} cycles; this design's is {cycles:,} "
          f"({cycles / need:.1f}x)")


def on_patches_of(model: str):
    from flow.hls.input_patches import on_patches

    return on_patches(program_of(model)[0])[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csim", action="store_true", help="C-simulate each model on xczu9eg's design")
    args = ap.parse_args()
    from flow.estimate.dse import explore
    from flow.estimate.report import design_line
    from flow.hls.input_patches import on_patches
    from flow.parts import get_part

    t0 = time.time()
    rows, checks = [], []
    for model, part_name in ROWS:
        program, qonnx = program_of(model)
        part = get_part(part_name)
        est = explore(on_patches(program)[0], part, part.default_clock_mhz)  # as `flow estimate --clock` runs it
        fastest = explore(on_patches(program)[0], part)  # over the part's clocks, as `flow estimate` runs it
        rows.append((model, part, est, fastest))
        if args.csim and part_name == "xczu9eg":
            checks.append(csim_check(model, est, program, qonnx, part))
    print(f"\nEfficientViT and DeiT-Tiny at {RESOLUTION}x{RESOLUTION}, W8A8, the estimate's chosen design per part "
          f"(flow/estimate/dse.py; {time.time() - t0:.0f} s):\n")
    head = (f"{'model':<16}{'part':<9}{'MHz':>5}{'FPS':>8}{'GOPS':>8}{'GOPS/DSP':>10}{'DSP':>12}{'BRAM18':>12}"
            f"{'URAM':>9}{'LUT':>15}{'FF':>15}  compute/DDR/fill")
    print(head)
    for model, part, est, _ in rows:
        r, u, share = est["resources"], est["utilisation"], est["cycle_share"]

        def cell(k):
            return f"{r[k]:,} {100 * u[k]:.0f}%" if k in u else f"{r[k]:,}"
        print(f"{model:<16}{part.name:<9}{est['clock_mhz']:>5.0f}{est['fps']:>8.1f}{est['gops']:>8.1f}"
              f"{est['gops_per_dsp']:>10.3f}{cell('dsp'):>12}{cell('bram18'):>12}{cell('uram'):>9}{cell('lut'):>15}"
              f"{cell('ff'):>15}  {100 * share['compute']:.0f}/{100 * share['ddr']:.0f}/{100 * share['fill']:.0f}%")
    print("\nThe same with the clock the estimate chooses among the part's (constraints/parts: clocks_mhz):")
    for model, part, _, est in rows:
        print(f"  {model:<16}{part.name:<9}{est['clock_mhz']:>5.0f} MHz{est['fps']:>8.1f} FPS{est['gops']:>8.1f} GOPS"
              f"{est['gops_per_dsp']:>7.3f} GOPS/DSP (of {'/'.join(f'{c:g}' for c in est['clocks'])} MHz)")
    print("\nDesigns and on-chip activation memory:")
    for model, part, est, _ in rows:
        act = est["activations"]
        where = f"{act['bram18']} BRAM18" if act["memory"] == "bram" else f"{act['uram']} URAM"
        n = len(act["in_ddr"])
        ddr = (f"; {n} tensor{'s' if n > 1 else ''} in DDR, in row stripes" if n else "; every tensor on chip")
        print(f"  {model} on {part.name}: {design_line(est)}; activations {act['bytes'] / 1e6:.2f} MB ({where}), "
              f"buffers {est['resources']['buffer_bram18']} BRAM18{ddr}")
    print("\nShare of the frame's cycles per engine (the conv PE array runs convolutions and linear layers; "
          "tables: the activations not fused into their producers; io: the input and output transfers):")
    for model, part, est, _ in rows:
        per = {}
        for r in est["layers"]:
            per[ENGINES[r["kind"]]] = per.get(ENGINES[r["kind"]], 0) + r["cycles"]
        if est["io"]:
            per["io"] = est["io"]["cycles"]
        shares = ", ".join(f"{k} {100 * v / est['cycles']:.0f}%" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
        print(f"  {model} on {part.name}: {shares}")
    for model, part, est, _ in rows:
        if (model, part.name) == TARGET:
            print_bounds(model, part, est)
    if checks:
        print("\nC-simulation of each model on xczu9eg's design (one Fashion-MNIST test image):")
        for line in checks:
            print("  " + line)


if __name__ == "__main__":
    sys.exit(main())
