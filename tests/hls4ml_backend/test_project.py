"""Scope of hls4ml's on-chip dataflow and the hls4ml project written for the part."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.estimate.fit import fitted_config
from flow.hls.project import HwConfig
from flow.hls4ml_backend.program_onnx import program_to_onnx
from flow.hls4ml_backend.project import check_fits, memory_bytes, on_chip_bytes
from flow.lower.program import Layer, Program, TensorInfo
from flow.parts import get_part

from .test_extension import side_by_side


def test_on_chip_bytes_counts_bram_and_uram():
    part = get_part("xczu7ev")
    assert on_chip_bytes(part) == part.resources["bram18"] * 2304 + part.resources["uram"] * 36864


def test_memory_counts_weights_tensors_and_each_layers_own_memory():
    program = side_by_side(np.random.default_rng(5))
    hw = HwConfig(lanes=16)
    mem = memory_bytes(program_to_onnx(program, hw))
    weights = sum(b.nbytes for l in program.layers for k, b in l.blobs.items() if k == "weight")
    assert mem["weights"] >= weights
    assert mem["tensors"] == sum(-(-int(np.prod(t.shape)) * t.bits // 8) for t in program.tensors.values())
    assert mem["layer_memories"] >= 16 * len(program.layers)  # each layer's own words of 16 bytes
    assert mem["total"] == mem["weights"] + mem["tensors"] + mem["layer_memories"]


def _wide_linear(features_in, features_out):
    t = {"x": TensorInfo((features_in,), 8, True, 1.0), "y": TensorInfo((features_out,), 8, True, 1.0)}
    blobs = {"weight": np.ones((features_out, features_in), np.int8), "bias": np.zeros(features_out, np.int32),
             "mult": np.ones(features_out, np.int32), "shift": np.zeros(features_out, np.int32)}
    layer = Layer("fc", "linear", ["x"], ["y"], {"in_features": features_in, "out_features": features_out}, blobs)
    return Program("wide", ["x"], ["y"], t, [layer])


def test_a_program_over_the_on_chip_budget_is_an_error_naming_the_way_out():
    program = _wide_linear(1024, 1024)  # 1 MB of weights: over 80% of an xc7z020's 0.6 MB of BRAM
    with pytest.raises(FlowError, match=r"does not fit hls4ml's on-chip dataflow on xc7z020.*--backend vitflow"):
        check_fits(program_to_onnx(program, fitted_config(program)), get_part("xc7z020"), "wide")
    check_fits(program_to_onnx(program, fitted_config(program)), get_part("xczu9eg"), "wide")


def test_project_is_written_for_the_part_with_its_testbench_data(tmp_path):
    from flow.hls4ml_backend.project import convert

    program = _wide_linear(16, 8)
    x = np.arange(-8, 8).reshape(1, 16)
    y = np.full((1, 8), 3)
    model = convert(program, tmp_path / "prj", get_part("xck26"), 250, fitted_config(program), tb=(x, y))
    model.write()
    assert 'set part "xck26-sfvc784-2LV-c"' in (tmp_path / "prj" / "project.tcl").read_text()
    assert "set clock_period 4.0" in (tmp_path / "prj" / "project.tcl").read_text()
    assert (tmp_path / "prj" / "build_prj.tcl").is_file()
    tb_in = (tmp_path / "prj" / "tb_data" / "tb_input_features.dat").read_text().split()
    assert [int(float(v)) for v in tb_in] == list(range(-8, 8))
    assert (tmp_path / "prj" / "firmware" / "nnet_utils" / "vitflow_hls4ml.h").is_file()
    assert (tmp_path / "prj" / "firmware" / "nnet_utils" / "conv_pe.h").is_file()
    top = (tmp_path / "prj" / "firmware" / "vitflow_net.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top  # ports of at most 16 codes are registers:
    assert top.count("ARRAY_PARTITION") == 2 and "ARRAY_RESHAPE" not in top


def _static_variables(firmware) -> list:
    """Static variables declared in the sources Vitis would synthesize from the project (hls4ml's top with
    its C-simulation-only blocks removed, our bridge and engines on their synthesis branch; the ap_types
    and the system headers aside): [(file, line)]."""
    import re
    import subprocess

    from flow.hls.csim import compiler

    top = (firmware / "vitflow_net.cpp").read_text()
    (firmware / "synthesized_view.cpp").write_text(re.sub(r"#ifndef __SYNTHESIS__.*?#endif", "", top, flags=re.S))
    pp = subprocess.run([compiler(), "-E", "-std=c++14", "-DVITFLOW_NO_AUDIT", "-I", str(firmware), "-I",
                         str(firmware / "ap_types"), "-I", str(firmware / "nnet_utils"),
                         str(firmware / "synthesized_view.cpp")], capture_output=True, text=True, check=True).stdout
    found, source = [], None
    decl = re.compile(r"\bstatic\s+(?!const\b|constexpr\b|void\b|inline\b|int\s+run\b)[\w:<>, ]+?\s+\w+\s*(\[|=|;)")
    for line in pp.splitlines():
        m = re.match(r'# \d+ "([^"]+)"', line)
        if m:
            source = m.group(1)
        elif source and str(firmware) in source and "ap_types" not in source and decl.search(line):
            found.append((source, line.strip()))
    return found


def test_the_bridge_has_no_static_state(tmp_path):
    """hls4ml runs the layers as DATAFLOW processes: a layer function holding a static (memory kept across
    calls, outside its process) would not synthesize as one; the sources Vitis sees declare none."""
    from flow.hls4ml_backend.project import convert

    program = _wide_linear(16, 8)
    model = convert(program, tmp_path / "prj", get_part("xczu9eg"), 200, fitted_config(program))
    model.write()
    firmware = tmp_path / "prj" / "firmware"
    bridge = firmware / "nnet_utils" / "vitflow_hls4ml.h"
    assert "Memory<CONFIG_T> act;" in bridge.read_text()
    assert _static_variables(firmware) == []
    # the check finds one: the bridge's arena made static again
    bridge.write_text(bridge.read_text().replace("Memory<CONFIG_T> act;", "static Memory<CONFIG_T> act;", 1))
    assert [line for _, line in _static_variables(firmware)] == ["static Memory<CONFIG_T> act;"]
