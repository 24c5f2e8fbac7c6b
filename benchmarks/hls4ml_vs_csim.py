"""hls4ml's compile() and predict() beside our C-simulation, measured in one run on the same program and
the same 8 Fashion-MNIST test images: EfficientViT-B0 at 64x64 trained on Fashion-MNIST (the accuracy
benchmark's model), W8A8 shipped defaults, built through `flow build`'s own steps up to the integer
program. Both must equal the integer reference on every layer of every image.
    python3 benchmarks/hls4ml_vs_csim.py            # the trained model (trains once, ~18 min, cached)
    python3 benchmarks/hls4ml_vs_csim.py --quick    # the quickly trained stand-in
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


from flow.config import make_config
from flow.estimate.fit import fitted_config
from flow.hls.csim import compile_csim, run_csim
from flow.hls.project import write_project
from flow.parts import get_part
from flow.pipeline import BuildState, step_build_model, step_export, step_hls4ml, step_lower, step_quantize
from flow.reference.compare import activation_quants
from flow.reference.executor import run_program

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fashion_mnist_model import MODEL, RESOLUTION, trained_checkpoint  # noqa: E402

IMAGES = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the quickly trained stand-in model")
    args = ap.parse_args()
    cfg = make_config(model=MODEL, resolution=RESOLUTION, weights=str(trained_checkpoint(quick=args.quick)),
                      backend="hls4ml")
    part = get_part(cfg.part)
    with tempfile.TemporaryDirectory() as tmp:
        st = BuildState(cfg=cfg, staging=Path(tmp))
        for step in (step_build_model, step_quantize, step_export, step_lower):
            step(st)
        from flow.data import load_fashion_mnist

        st.calib_images = load_fashion_mnist("test", RESOLUTION, count=IMAGES)[0]  # the same images for both
        program = st.program
        in_quant = activation_quants(st.qonnx_path)[program.inputs[0]]
        envs = [run_program(program, {program.inputs[0]: in_quant.codes(x.numpy())}, dump_internal=False)
                for x in st.calib_images]
        project = Path(tmp) / "hls"
        write_project(program, envs, project, part, part.default_clock_mhz, fitted_config(program))
        t0 = time.perf_counter()
        exe = compile_csim(project)
        csim_compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        csim = run_csim(project, exe)
        csim_run = time.perf_counter() - t0
        step_hls4ml(st)  # raises unless output and every layer equal the reference on all images
        h = json.loads((Path(tmp) / "hls4ml_report.json").read_text())
    n = len(program.layers)
    print(f"\n{MODEL} r{RESOLUTION} {'(quick model) ' if args.quick else ''}W8A8, {n} layers, {IMAGES} Fashion-MNIST "
          f"test images, this machine:")
    print(f"  {'':<30}{'compile (s)':>12}{'run, 8 images (s)':>19}{'per image (s)':>15}  bit-exact layers")
    print(f"  {'our C-simulation (g++ -O2)':<30}{csim_compile:>12.1f}{csim_run:>19.2f}{csim_run / IMAGES:>15.3f}  "
          f"{csim['layers_exact']}/{n} on {csim['images']} images" + ("" if csim["bit_exact"] else " (NOT bit-exact)"))
    print(f"  {'hls4ml compile()/predict()':<30}{h['compile_seconds']:>12.1f}{h['predict_seconds']:>19.2f}"
          f"{h['predict_seconds_per_image']:>15.3f}  {h['layers']['layers_exact']}/{n} on {h['images']} images")
    print(f"  hls4ml's on-chip memory: {h['on_chip_bytes']['total'] / 1e6:.2f} MB of {part.name}'s "
          f"(weights {h['on_chip_bytes']['weights'] / 1e6:.2f} MB)")
    print("  outputs: hls4ml predict() == our csim == integer reference, bit for bit"
          if csim["bit_exact"] and h["output_bit_exact"] else "  outputs DIFFER")


if __name__ == "__main__":
    main()
