"""Each HLS template, C-simulated (g++ + hls4ml's ap_types) on 20 random shapes and values per layer
kind, bit-exact against the numpy integer reference (flow/reference/kernels.py), and counting the cycles
the cycle model (flow/estimate/cycles.py) predicts."""

import numpy as np
import pytest

from flow.estimate.cycles import layer_cycles
from flow.hls.csim import compile_csim, run_csim
from flow.hls.layout import pack
from flow.hls.project import HwConfig, write_golden, write_image, write_project
from flow.parts import get_part
from flow.reference import run_program

from .random_programs import MAKERS, random_program

CASES = 20
CFG = HwConfig(att_rows=4)  # 4 attention rows: head dimensions 2..16 exercise partial and whole row groups


@pytest.fixture(scope="module")
def csim_exe(tmp_path_factory):
    """The accelerator and testbench, compiled once: the layer sequence is data, so every random
    program runs on the same binary."""
    project = tmp_path_factory.mktemp("hls")
    program = random_program("relu", np.random.default_rng(0))
    env = run_program(program, {"x0": np.zeros(program.tensors["x0"].shape, np.int64)})
    write_project(program, [env], project, get_part("xczu9eg"), 200, CFG)
    return compile_csim(project)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_template_bit_exact_on_random_layers(kind, csim_exe, tmp_path):
    rng = np.random.default_rng(abs(hash(kind)) % 2 ** 32)
    for case in range(CASES):
        program = random_program(kind, rng)
        inputs = {}
        for name in program.inputs:
            lo, hi = program.tensors[name].range
            inputs[name] = rng.integers(lo, hi + 1, size=program.tensors[name].shape)
        env = run_program(program, inputs)
        data = tmp_path / f"case{case}" / "data"
        data.mkdir(parents=True)
        image = pack(program)
        write_image(image, program, data)
        write_golden(image, program, env, data / "img0")
        result = run_csim(tmp_path / f"case{case}", csim_exe)
        assert result["bit_exact"], (kind, case, result.get("first_mismatch"))
        layer = program.layers[0]  # and the cycle model counts what the template counted
        assert layer_cycles(layer, program, CFG) == result["cycles"][layer.name], (kind, case, layer.attrs)
