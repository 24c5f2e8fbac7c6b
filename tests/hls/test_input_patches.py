"""The first convolution on the input's patches: the same integers as the k x k convolution on the image,
bit-exact in C-simulation, and fewer cycles."""

import numpy as np

from flow.estimate.counts import layer_counts
from flow.estimate.fit import fitted_config
from flow.hls.csim import compile_csim, run_csim
from flow.hls.input_patches import on_patches, patch_spec, with_patches
from flow.hls.project import write_project
from flow.lower.program import Layer, Program, TensorInfo
from flow.lower.ranges import analyse_ranges
from flow.parts import get_part
from flow.reference import run_program


def _stem(h=9, w=7, stride=2, pad=1):
    rng = np.random.default_rng(11)
    ho, wo = (h + 2 * pad - 3) // stride + 1, (w + 2 * pad - 3) // stride + 1
    conv = Layer("conv0", "conv", ["img"], ["y"],
                 {"in_channels": 3, "out_channels": 16, "kernel": [3, 3], "stride": [stride, stride],
                  "pad": [pad] * 4, "groups": 1, "in_shape": [3, h, w], "out_shape": [16, ho, wo], "weight_bits": 8},
                 {"weight": rng.integers(-127, 128, (16, 3, 3, 3)).astype(np.int8),
                  "bias": rng.integers(-900, 900, 16).astype(np.int32),
                  "mult": rng.integers(1 << 20, 1 << 24, 16).astype(np.int32), "shift": np.full(16, 30, np.int32)})
    t = {"img": TensorInfo((3, h, w), 8, True, 1.0), "y": TensorInfo((16, ho, wo), 8, True, 1.0)}
    program = Program("stem", ["img"], ["y"], t, [conv])
    analyse_ranges(program, 32)
    return program, rng.integers(-128, 128, (3, h, w))


def test_patches_give_the_same_integers():
    program, x = _stem()
    patched, spec = on_patches(program)
    assert spec["channels"] == 3 and patched.layers[0].attrs["kernel"] == [1, 1]
    env = run_program(program, {"img": x})
    env_p = run_program(patched, {spec["patches"]: with_patches(env, spec)[spec["patches"]]})
    np.testing.assert_array_equal(env_p["y"], env["y"])
    dw = Program("d", ["img"], ["y"], program.tensors, [Layer("c", "conv", ["img"], ["y"],
                                                            dict(program.layers[0].attrs, kernel=[1, 1]))])
    assert patch_spec(dw) is None  # a pointwise first layer is left as it is


def test_patched_stem_bit_exact_in_csim_and_faster(tmp_path):
    program, x = _stem(h=12, w=12)
    patched, spec = on_patches(program)
    env = with_patches(run_program(program, {"img": x}), spec)
    part = get_part("xczu9eg")
    cfg = fitted_config(patched, lanes=32)
    image = write_project(patched, [env], tmp_path / "hls", part, 200, cfg, patches=spec)
    result = run_csim(tmp_path / "hls", compile_csim(tmp_path / "hls"))
    assert result["bit_exact"] and result["counts"] == layer_counts(image.plan, patched, cfg, check=True)
    plain = layer_counts(write_project(program, [run_program(program, {"img": x})], tmp_path / "plain", part, 200,
                                       fitted_config(program, lanes=32)).plan, program, cfg)
    assert result["counts"]["conv0"]["cycles"] * 4 < plain["conv0"]["cycles"]  # 9 taps of a 3-lane word before


def test_the_host_driver_lays_the_input_out_as_the_flow_does(tmp_path):
    """The generated PYNQ driver's input_area() (no board needed) rebuilds data/img0/ddr_in.bin from the
    input's codes: patches and word layout as the testbench has them."""
    import importlib.util
    import json

    program, x = _stem(h=10, w=10)
    patched, spec = on_patches(program)
    env = with_patches(run_program(program, {"img": x}), spec)
    write_project(patched, [env], tmp_path / "hls", get_part("xczu9eg"), 200, fitted_config(patched, lanes=16),
                  patches=spec)
    loader = importlib.util.spec_from_file_location("driver", tmp_path / "hls" / "host" / "vitflow_driver.py")
    driver = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(driver)
    meta = json.loads((tmp_path / "hls" / "data" / "tensors.json").read_text())
    area = driver.input_area(meta, x)
    assert np.array_equal(area, np.fromfile(tmp_path / "hls" / "data" / "img0" / "ddr_in.bin", dtype=np.uint8))
