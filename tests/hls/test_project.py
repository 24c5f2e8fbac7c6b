"""The generated project: sources that build -Wall -Werror clean, scripts naming the part and clock,
and clear errors for a program the accelerator cannot hold."""

import numpy as np
import pytest

from flow.boards import get_board
from flow.errors import FlowError
from flow.hls.csim import CXXFLAGS, compile_csim, run_csim
from flow.hls.project import HwConfig, write_project
from flow.parts import get_part
from flow.reference import run_program

from .random_programs import random_program


def _project(tmp_path, part="xczu9eg", kind="conv", cfg=HwConfig(), seed=3, board=None):
    program = random_program(kind, np.random.default_rng(seed))
    inputs = {n: np.zeros(program.tensors[n].shape, np.int64) for n in program.inputs}
    p = get_part(part)
    write_project(program, [run_program(program, inputs)], tmp_path / "prj", p, p.default_clock_mhz, cfg,
                  board=board and get_board(board))
    return tmp_path / "prj"


def test_sources_build_warning_free_and_run(tmp_path):
    assert {"-Wall", "-Werror"} <= set(CXXFLAGS)
    project = _project(tmp_path)
    result = run_csim(project, compile_csim(project))
    assert result["bit_exact"] and result["layers"] == 1
    for name in ("vitflow_config.h", "vitflow_top.cpp", "vitflow/vitflow_layout.h", "vitflow/conv_pe.h"):
        assert (project / "firmware" / name).is_file()


@pytest.mark.parametrize("part,period,ps", [("xczu9eg", "5.000", "zynq_ultra_ps_e"),
                                            ("xc7z020", "10.000", "processing_system7")])
def test_scripts_name_the_part_and_clock(tmp_path, part, period, ps):
    project = _project(tmp_path, part)
    full = get_part(part).part
    hls = (project / "run_hls.tcl").read_text()
    assert f"set_part {{{full}}}" in hls and f"create_clock -period {period}" in hls
    for step in ("csim_design", "csynth_design", "cosim_design", "export_design"):
        assert step in hls
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert f"-part {full}" in viv and ps in viv and "write_bitstream" in viv
    assert f"{{{get_part(part).default_clock_mhz:g}}}" in viv
    compile((project / "host" / "vitflow_driver.py").read_text(), "vitflow_driver.py", "exec")


def test_board_preset_and_pins(tmp_path):
    project = _project(tmp_path, board="zcu102")
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert "get_board_parts -quiet xilinx.com:zcu102:part0:*" in viv
    assert "connect_bd_net [get_bd_pins vitflow_top_0/interrupt] [get_bd_ports status_led]" in viv
    assert "add_files -fileset constrs_1 -norecurse $here/vivado/zcu102.xdc" in viv
    assert "PACKAGE_PIN AG14" in (project / "vivado" / "zcu102.xdc").read_text()


def test_board_without_pins_and_wrong_board(tmp_path):
    project = _project(tmp_path, part="xck26", board="kv260")
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert "kv260_som:part0" in viv and "status_led" not in viv
    assert not list((project / "vivado").glob("*.xdc"))
    with pytest.raises(FlowError, match="board zcu102 carries xczu9eg-ffvb1156-2-e, not xc7z020-clg400-1"):
        _project(tmp_path / "b", part="xc7z020", board="zcu102")


def test_programs_that_do_not_fit_are_errors(tmp_path):
    with pytest.raises(FlowError, match="head dimension .* exceeds ATT_D_MAX=4"):
        _project(tmp_path, kind="linear_attention", cfg=HwConfig(att_d_max=4), seed=5)
    with pytest.raises(FlowError, match=r"weights per output channel exceed the on-chip weight buffer \(WBUF_DEPTH=2\)"):
        _project(tmp_path, kind="linear", cfg=HwConfig(wbuf_depth=2), seed=6)
    with pytest.raises(FlowError, match="divides exactly, but the attention unit is shift-only"):
        program = random_program("linear_attention", np.random.default_rng(2))
        program.layers[0].attrs["divisor"] = "exact"
        write_project(program, [], tmp_path / "p3", get_part("xczu9eg"), 200, HwConfig(att_divider=0))
    with pytest.raises(FlowError, match="needs .*-bit accumulators, the accelerator is configured with 8"):
        program = random_program("conv", np.random.default_rng(1))
        program.meta["ranges"]["acc_bits_needed"] = 20
        write_project(program, [], tmp_path / "p2", get_part("xczu9eg"), 200, HwConfig(acc_bits=8))
