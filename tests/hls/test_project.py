"""The generated project: sources that build -Wall -Werror clean and run both the program and the
co-simulation program bit-exact and audit-clean; a top whose m_axi depths are the co-simulation buffers
exactly; tool scripts a lab can run unchanged (tested by what they say, and the PL clock choice by running
it in tclsh against the PS's answers); clear errors for a program the accelerator cannot hold."""

import dataclasses
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from flow.boards import get_board
from flow.errors import FlowError
from flow.estimate.fit import fitted_config
from flow.hls.csim import CXXFLAGS, compile_csim, run_csim
from flow.hls.project import HwConfig, write_project
from flow.hls.scripts import clock_tcl
from flow.parts import get_part
from flow.reference import run_program

from .random_programs import random_program


def _project(tmp_path, part="xczu9eg", kind="conv", cfg=None, seed=3, board=None, lanes=None):
    program = random_program(kind, np.random.default_rng(seed))
    inputs = {n: np.zeros(program.tensors[n].shape, np.int64) for n in program.inputs}
    p = get_part(part)
    cfg = cfg or fitted_config(program, lanes=lanes or (16 if p.beat_bytes == 16 else 8), beat_bytes=p.beat_bytes)
    write_project(program, [run_program(program, inputs)], tmp_path / "prj", p, p.default_clock_mhz, cfg,
                  board=board and get_board(board))
    return tmp_path / "prj"


@pytest.mark.parametrize("lanes,fused", [(16, False), (32, True)])  # words of one beat, and of two (weights
def test_program_and_cosim_program_build_warning_free_and_run(tmp_path, lanes, fused):  # over two ports)
    assert {"-Wall", "-Werror"} <= set(CXXFLAGS)
    # with the depthwise and attention engines the one-conv program does not need, so the cosim runs them
    cfg = fitted_config(random_program("conv", np.random.default_rng(3)), lanes=lanes, dw_engine=True, att_engine=True)
    # fused: without the concat unit, so the co-simulation program's concatenation is done in place
    project = _project(tmp_path, cfg=dataclasses.replace(cfg, epi_entries=256 if fused else 0,
                                                         concat_engine=0 if fused else 1))
    exe = compile_csim(project)
    result = run_csim(project, exe)
    assert result["bit_exact"] and result["layers"] == 1 and result["layers_exact"] == 1
    cosim = run_csim(project, exe, data="cosim")  # one small layer of every kind it runs, its own vectors
    # fused: the first conv, the second depthwise and the linear layer take their tables as epilogues
    assert cosim["bit_exact"] and cosim["layers_exact"] == cosim["layers"] == (14 if fused else 17)
    assert {"conv0", "dwconv0", "hardswish1", "add0", "attention0", "gap0", "layernorm0"} <= set(cosim["counts"])
    assert all((t in cosim["counts"]) == (not fused) for t in ("hardswish0", "hardswish2", "relu1", "concat0"))
    for name in ("vitflow_config.h", "vitflow_top.cpp", "vitflow/vitflow_layout.h", "vitflow/conv_pe.h", "vitflow/audit.h"):
        assert (project / "firmware" / name).is_file()


@pytest.mark.parametrize("lanes", [16, 32])
def test_top_depths_are_the_cosim_buffers(tmp_path, lanes):
    """cosim_design sizes its m_axi models by the depths: they must cover the co-simulation testbench's
    buffers exactly (the top runs the whole co-simulation program in one call)."""
    project = _project(tmp_path, lanes=lanes)
    top = (project / "firmware" / "vitflow_top.cpp").read_text()
    depth = dict(re.findall(r"port = (\w+) offset = slave bundle = \w+ depth = (\d+)", top))
    beat = 16
    cosim = project / "cosim"
    # the descriptor port: the descriptors, then the weight beats it streams (the PE array's second words
    # at one beat a word; and every stream's odd beats at two)
    split = (cosim / "weights_desc.bin").stat().st_size
    assert split > 0
    assert int(depth["desc"]) == ((cosim / "check.desc").stat().st_size + split) // beat
    assert int(depth["wgt"]) == (cosim / "weights.bin").stat().st_size // beat
    assert int(depth["ddr"]) == (cosim / "img0" / "ddr_in.bin").stat().st_size // beat
    assert "bundle = gmem_desc" in top and "bundle = gmem_wgt" in top and "bundle = gmem_act" in top
    # a word of two beats: the PE array's stream over four ports, wgt2 and wgt3 reading the weight buffer
    four = lanes == 32
    assert ("bundle = gmem_wgt2" in top and "bundle = gmem_wgt3" in top) == four
    assert not four or int(depth["wgt2"]) == int(depth["wgt3"]) == int(depth["wgt"])
    assert json.loads((cosim / "tensors.json").read_text())["weight_ports"] == (4 if four else 2)


@pytest.mark.parametrize("part,period,ps,width,addr64", [("xczu9eg", "5.000", "zynq_ultra_ps_e", 128, "true"),
                                                         ("xc7z020", "10.000", "processing_system7", 64, "false")])
def test_scripts_name_the_part_clock_ports_and_interface(tmp_path, part, period, ps, width, addr64):
    project = _project(tmp_path, part)
    full = get_part(part).part
    hls = (project / "run_hls.tcl").read_text()
    assert f"set_part {{{full}}}" in hls and f"create_clock -period {period}" in hls
    assert "open_project -reset $here/vitflow_prj" in hls  # anchored to the script, as Vivado expects
    assert (f"config_interface -m_axi_addr64 {addr64} -m_axi_latency 64 \\\n        -m_axi_max_widen_bitwidth {width} "
            "-m_axi_alignment_byte_size 64") in hls
    assert 'csim_design -argv "../../../../data"' in hls and 'cosim_design -argv "../../../../cosim"' in hls
    for step in ("csim", "csynth", "cosim", "export"):  # each step announces itself (flow synth's progress)
        assert f'puts "vitflow: step {step}"; {step}_design' in hls
    # without csim/csynth the run reopens the last solution (cosim and export need its synthesis)
    assert "} else {\n    open_project $here/vitflow_prj\n    open_solution solution1\n}" in hls
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert f"-part {full}" in viv and ps in viv and "write_bitstream" in viv
    assert "ip_repo_paths [list $here/vitflow_prj/solution1/impl/ip]" in viv
    # a failed implementation stops the script; the routed reports land where flow report reads them
    assert 'ne "100%"} { error' in viv and viv.index("wait_on_run impl_1") < viv.index("open_run impl_1")
    for rpt in ("report_utilization -file $here/reports/vivado_utilization_routed.rpt",
                "report_timing_summary -file $here/reports/vivado_timing_summary_routed.rpt"):
        assert rpt in viv and viv.index("open_run impl_1") < viv.index(rpt)
    assert viv.count("Clk_master {Auto} Clk_slave {Auto} Clk_xbar {Auto}") == 4 and " Clk /" not in viv
    if part == "xczu9eg":
        for n, hp in ((2, 0), (3, 1), (4, 2)):
            assert f"CONFIG.PSU__USE__S_AXI_GP{n} {{1}} CONFIG.PSU__SAXIGP{n}__DATA_WIDTH {{128}}" in viv
            assert f"Slave /zynq_ultra_ps_e_0/S_AXI_HP{hp}_FPD" in viv
        assert "CONFIG.PSU__USE__M_AXI_GP1 {0}" in viv
        assert "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ" in viv
    else:
        for n in range(3):
            assert f"CONFIG.PCW_USE_S_AXI_HP{n} {{1}} CONFIG.PCW_S_AXI_HP{n}_DATA_WIDTH {{64}}" in viv
        assert "CONFIG.PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ" in viv
    driver = (project / "host" / "vitflow_driver.py").read_text()
    compile(driver, "vitflow_driver.py", "exec")
    assert "--timeout" in driver and "ap_return" in driver


@pytest.mark.parametrize("part,lanes", [("xczu9eg", 32), ("xc7z020", 16)])
def test_five_masters_take_the_four_hp_ports_and_a_fifth(tmp_path, part, lanes):
    """A word of two beats: the PE array's weights over four ports (wgt, desc, wgt2, wgt3 on the four HP
    ports) and the activation master on the fifth slave port the PS has (HPC0, or Zynq-7000's ACP)."""
    project = _project(tmp_path, part, lanes=lanes)
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert viv.count("Clk_master {Auto} Clk_slave {Auto} Clk_xbar {Auto}") == 6
    if part == "xczu9eg":
        slaves = ["S_AXI_HP0_FPD", "S_AXI_HP1_FPD", "S_AXI_HP2_FPD", "S_AXI_HP3_FPD", "S_AXI_HPC0_FPD"]
        for n in (2, 3, 4, 5, 0):
            assert f"CONFIG.PSU__USE__S_AXI_GP{n} {{1}} CONFIG.PSU__SAXIGP{n}__DATA_WIDTH {{128}}" in viv
        inst = "zynq_ultra_ps_e_0"
    else:
        slaves = ["S_AXI_HP0", "S_AXI_HP1", "S_AXI_HP2", "S_AXI_HP3", "S_AXI_ACP"]
        assert "CONFIG.PCW_USE_S_AXI_HP3 {1}" in viv and "CONFIG.PCW_USE_S_AXI_ACP {1}" in viv
        inst = "processing_system7_0"
    for bundle, slave in zip(["desc", "wgt", "wgt2", "wgt3", "act"], slaves):
        assert f"Master /vitflow_top_0/m_axi_gmem_{bundle} Slave /{inst}/{slave} " in viv


# what the PS makes from each PLL when asked for 200 MHz (ZCU102: 33.33 MHz reference; IOPLL 1,500 MHz)
_PS_STUB = """
set ps ps
set src_now none
proc set_property {{flag values obj}} {{
    global src_now
    foreach {{k v}} $values {{ if {{[string match *SRC* $k]}} {{ set src_now $v }} }}
}}
proc get_property {{prop obj}} {{ global src_now; array set act {{{answers}}}; return $act($src_now) }}
"""


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed (scripts/setup.sh installs tcl)")
@pytest.mark.parametrize("answers,status,said", [
    ("IOPLL 187.481262 RPLL 199.980003 DPLL 190.0", 0, "pl_clk0 at 199.980003 MHz from RPLL (requested 200 MHz)"),
    ("IOPLL 200.0 RPLL 199.98 DPLL 190.0", 0, "pl_clk0 at 200.0 MHz from IOPLL"),
    ("IOPLL 187.481262 RPLL 187.5 DPLL 190.0", 1, "error: the PS makes pl_clk0 at 190.0 MHz, not the 200 MHz"),
])
def test_the_pl_clock_is_checked_against_what_the_ps_makes(tmp_path, answers, status, said):
    script = tmp_path / "clock.tcl"
    script.write_text(_PS_STUB.format(answers=answers) + clock_tcl("zynquplus", 200))
    r = subprocess.run(["tclsh", str(script)], capture_output=True, text=True)
    assert r.returncode == status and said in r.stdout, (r.stdout, r.stderr)


def test_board_preset_and_pins(tmp_path):
    project = _project(tmp_path, board="zcu102")
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert "get_board_parts -quiet xilinx.com:zcu102:part0:*" in viv
    assert "connect_bd_net [get_bd_pins vitflow_top_0/interrupt] [get_bd_ports status_led]" in viv
    assert "add_files -fileset constrs_1 -norecurse [list $here/vivado/zcu102.xdc]" in viv
    assert "PACKAGE_PIN AG14" in (project / "vivado" / "zcu102.xdc").read_text()


def test_board_without_pins_and_wrong_board(tmp_path):
    project = _project(tmp_path, part="xck26", board="kv260")
    viv = (project / "vivado" / "build_bitstream.tcl").read_text()
    assert "kv260_som:part0" in viv and "status_led" not in viv
    assert not list((project / "vivado").glob("*.xdc"))
    with pytest.raises(FlowError, match="board zcu102 carries xczu9eg-ffvb1156-2-e, not xc7z020-clg400-1"):
        _project(tmp_path / "b", part="xc7z020", board="zcu102")


def test_a_design_without_the_engines_a_program_lacks(tmp_path):
    """A one-conv program's design builds no depthwise or attention engine: fewer DSPs, LUTs and buffers, its
    co-simulation program (without those layers) bit-exact; a program with such a layer is refused on it."""
    from flow.estimate.resources import estimate_resources

    program = random_program("conv", np.random.default_rng(3))
    lean, full = fitted_config(program), fitted_config(program, dw_engine=True, att_engine=True)
    assert (lean.dw_engine, lean.att_engine, full.dw_engine, full.att_engine) == (0, 0, 1, 1)
    r_lean, r_full = estimate_resources(lean), estimate_resources(full)
    assert all(r_lean[k] < r_full[k] for k in ("dsp", "lut", "ff"))
    project = _project(tmp_path, cfg=lean)
    cosim = run_csim(project, compile_csim(project), data="cosim")
    assert cosim["bit_exact"] and cosim["layers_exact"] == cosim["layers"] == 14
    assert not {"dwconv0", "dwconv1", "attention0"} & set(cosim["counts"]) and "conv4" in cosim["counts"]
    for kind, seed in (("dwconv", 4), ("linear_attention", 5)):
        with pytest.raises(FlowError, match=f"configured without the {kind} engine"):
            _project(tmp_path / kind, kind=kind, cfg=lean, seed=seed)


def test_the_attention_packs_its_products_when_its_codes_fit(tmp_path):
    """Two attention products per DSP (ATT_PACK) for signed 8-bit v and kv codes: half the DSPs of loops 1
    and 3 at the same rows; a layer with 9-bit kv codes is fitted unpacked, and refused by a packed design."""
    from flow.estimate.resources import estimate_resources

    program = random_program("linear_attention", np.random.default_rng(5))
    packed = fitted_config(program, lanes=16, att_rows=4)
    unpacked = dataclasses.replace(packed, att_pack=0)
    d, rows = packed.att_d_max, packed.att_rows
    assert packed.att_pack == 1
    assert estimate_resources(unpacked)["dsp"] - estimate_resources(packed)["dsp"] == rows * (min(d, 16) + d) // 2
    program.layers[0].attrs["quant"]["kv"]["range"] = [-256, 255]
    assert fitted_config(program, lanes=16, att_rows=4).att_pack == 0
    with pytest.raises(FlowError, match="packs two products per DSP .ATT_PACK=1., which needs signed 8-bit v and kv"):
        write_project(program, [], tmp_path / "p", get_part("xczu9eg"), 200, packed)


def test_config_header_writes_flags_as_integers():
    """A flag given as a bool still compiles: vitflow_config.h takes 0 and 1, not Python's True."""
    header = HwConfig(dw_engine=True, att_engine=False).header()
    assert "#define VITFLOW_DW_ENGINE 1\n" in header and "#define VITFLOW_ATT_ENGINE 0\n" in header
    assert "True" not in header and "False" not in header


def test_programs_that_do_not_fit_are_errors(tmp_path):
    with pytest.raises(FlowError, match=r"DW_PAIRS=1 reads a pair of words from the activation memory's two banks"):
        _project(tmp_path, kind="dwconv", cfg=HwConfig(pe_rows=16, lanes=16, dw_pairs=1), seed=4)
    with pytest.raises(FlowError, match="head dimension .* exceeds ATT_D_MAX=4"):
        _project(tmp_path, kind="linear_attention", cfg=HwConfig(att_d_max=4), seed=5)
    with pytest.raises(FlowError, match=r"weight words per PE row exceed the on-chip weight buffer \(WDEPTH=2\)"):
        _project(tmp_path, kind="linear", cfg=HwConfig(wdepth=2), seed=6)
    with pytest.raises(FlowError, match="divides exactly, but the attention unit is shift-only"):
        program = random_program("linear_attention", np.random.default_rng(2))
        program.layers[0].attrs["divisor"] = "exact"
        write_project(program, [], tmp_path / "p3", get_part("xczu9eg"), 200, HwConfig(att_dividers=0))
    with pytest.raises(FlowError, match="exact division takes outputs of at most 16 bits and divisors below 2"):
        program = random_program("linear_attention", np.random.default_rng(2))
        program.layers[0].attrs["divisor"] = "exact"
        program.layers[0].blobs["att_shift"] = np.array([40], np.int32)  # (2 den + 1) 2^40: past 48 bits
        write_project(program, [], tmp_path / "p5", get_part("xczu9eg"), 200, HwConfig(att_dividers=1))
    with pytest.raises(FlowError, match=r"the attention's num codes \[-131072, 131071\] exceed 16 bits"):
        program = random_program("linear_attention", np.random.default_rng(2))
        program.layers[0].attrs["quant"]["num"]["range"] = [-131072, 131071]
        write_project(program, [], tmp_path / "p6", get_part("xczu9eg"), 200, HwConfig())
    with pytest.raises(FlowError, match="needs .*-bit accumulators, the accelerator is configured with 8"):
        program = random_program("conv", np.random.default_rng(1))
        program.meta["ranges"]["acc_bits_needed"] = 20
        write_project(program, [], tmp_path / "p2", get_part("xczu9eg"), 200, HwConfig(acc_bits=8))
    with pytest.raises(FlowError, match="the activations need .* words .* and 3 are available"):
        _project(tmp_path / "p4", kind="gap", cfg=HwConfig(act_words=3), seed=7)
