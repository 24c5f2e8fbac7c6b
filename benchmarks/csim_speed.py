"""C-simulation wall time (with the II audit) for one EfficientViT-B1 r224 image beside the PyTorch
fake-quant forward time of the same model on the same image, measured in one run (random init, W8A8
shipped defaults, 16 calibration images; the accelerator of xczu9eg's choice, 32-byte words).
    python3 benchmarks/csim_speed.py
"""

import tempfile
import time
from pathlib import Path

import torch

from flow.data import load_fashion_mnist
from flow.export import export_clean_qonnx
from flow.hls.csim import compile_csim, run_csim
from flow.estimate.fit import fitted_config
from flow.hls.epilogues import fuse_epilogues
from flow.hls.input_patches import on_patches, with_patches
from flow.hls.project import write_project
from flow.lower import lower_qonnx
from flow.models import QuantScheme, build_model
from flow.parts import get_part
from flow.quantize import make_quant_config, quantize_model
from flow.reference import run_program
from flow.reference.compare import activation_quants

MODEL, RES = "efficientvit_b1", 224


def main():
    torch.manual_seed(0)
    fp = build_model(MODEL, resolution=RES, quant=QuantScheme.float_reference()).eval()
    calib = load_fashion_mnist("train", RES, count=16)[0]
    image = load_fashion_mnist("test", RES, count=1)[0]
    q = quantize_model(fp, calib, make_quant_config({"calib_images": 16}))
    with torch.no_grad():
        q(image)  # warm-up
        t0 = time.perf_counter()
        for _ in range(5):
            q(image)
        torch_s = (time.perf_counter() - t0) / 5
    with tempfile.TemporaryDirectory() as tmp:
        path = export_clean_qonnx(q, Path(tmp))
        program = lower_qonnx(path, name=MODEL)
        codes = activation_quants(path)[program.inputs[0]].codes(image[0].numpy())
        t0 = time.perf_counter()
        env = run_program(program, {program.inputs[0]: codes}, dump_internal=False)
        ref_s = time.perf_counter() - t0
        part = get_part("xczu9eg")
        project = Path(tmp) / "hls"
        hw, spec = on_patches(program)  # the accelerator's program, as `flow build` makes it
        hw = fuse_epilogues(hw)
        write_project(hw, [with_patches(env, spec)], project, part, part.default_clock_mhz,
                      fitted_config(hw, lanes=32), patches=spec)
        t0 = time.perf_counter()
        exe = compile_csim(project)
        compile_s = time.perf_counter() - t0
        result = run_csim(project, exe)
    print(f"\n{MODEL} r{RES}, W8A8, one image, {torch.get_num_threads()} torch threads, this machine:")
    print(f"  PyTorch fake-quant forward (Brevitas, batch 1):   {torch_s:8.3f} s")
    print(f"  integer reference (numpy int64):                   {ref_s:8.3f} s")
    print(f"  C-simulation (g++ -O2, ap_types, II audit on), run:  {result['seconds_per_image']:8.3f} s "
          f"({'bit-exact' if result['bit_exact'] else 'NOT bit-exact'}, {result['layers']} layers, L = 32)")
    print(f"  C-simulation compile (once per project):            {compile_s:8.3f} s")


if __name__ == "__main__":
    main()
