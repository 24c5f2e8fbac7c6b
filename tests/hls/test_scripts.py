"""The generated tool scripts under a lab path with spaces and non-ASCII letters: run by a real Tcl
interpreter (every Vitis and Vivado command stubbed to record its arguments), every path reaches its
command as one argument (a list argument: a Tcl list whose elements are whole paths), and the project's
C-simulation and host driver work there."""

import importlib.util
import os
import shutil
import subprocess

import numpy as np
import pytest

from flow.boards import get_board
from flow.estimate.fit import fitted_config
from flow.hls.cosim import cosim_program
from flow.hls.csim import compile_csim, compile_csim_library, run_csim
from flow.hls.project import write_project
from flow.parts import get_part

HARNESS = r"""
set ::calls {}
proc unknown {args} { lappend ::calls $args; return "" }
proc get_property {prop args} {
    lappend ::calls [list get_property $prop {*}$args]
    if {$prop eq "PROGRESS"} { return "100%" }
    return $::want
}
proc get_board_parts {args} { return "xilinx.com:zcu102:part0:3.4" }
rename exit __exit
proc exit {args} {}
source [lindex $argv 0]
set f [open [lindex $argv 1] w]
fconfigure $f -encoding utf-8
foreach c $::calls {
    set out {}
    foreach a $c {
        set els [expr {[string is list $a] ? [join $a "\x1d"] : ""}]
        lappend out "$a\x1e$els"
    }
    puts -nonewline $f "[join $out "\x1f"]\x1c"
}
close $f
"""


def _calls(script, tmp_path, env=None):
    harness = tmp_path / "harness.tcl"
    harness.write_text(HARNESS)
    record = tmp_path / "calls.txt"
    r = subprocess.run(["tclsh", str(harness), str(script), str(record)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    calls = []
    for line in record.read_text(encoding="utf-8").split("\x1c")[:-1]:
        args = [a.split("\x1e") for a in line.split("\x1f")]
        calls.append([(raw, els.split("\x1d") if els else []) for raw, els in args])
    return calls


def _check_paths(calls, root: str):
    """Every argument that names a path under ``root`` is one whole path, or a Tcl list of whole paths (a
    string that holds a path among other words, as "-I<path>" in flags Vitis splits at spaces, is neither)."""
    for call in calls:
        for raw, els in call[1:]:
            if root in raw:
                assert raw.startswith(root) or (els and all(e.startswith(root) for e in els)), (call[0][0], raw)


def _args(calls, name):
    return [c[1:] for c in calls if c[0][0] == name]


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed (scripts/setup.sh installs tcl)")
def test_scripts_csim_and_driver_under_a_path_with_spaces(tmp_path):
    root = tmp_path / "lab bench Ü/vitflow out"
    prog, env = cosim_program(1, 32)
    write_project(prog, [env], root, get_part("xczu9eg"), 200, fitted_config(prog, lanes=16, att_dividers=1),
                  board=get_board("zcu102"))
    r = str(root)
    # Vitis HLS: every step
    hls = _calls(root / "run_hls.tcl", tmp_path, {**os.environ, "VITFLOW_STEPS": "csim csynth cosim export"})
    _check_paths(hls, r)
    assert [raw for raw, _ in _args(hls, "open_project")[0]] == ["-reset", f"{r}/vitflow_prj"]
    files = [args[-3][1] for args in _args(hls, "add_files")]  # [list path] -cflags flags
    assert files == [[f"{r}/firmware/vitflow_top.cpp"], [f"{r}/tb/tb_vitflow.cpp"]] and all(
        os.path.isfile(f[0]) for f in files)
    assert all(r not in args[-1][0] for args in _args(hls, "add_files"))  # no path in the flags Vitis splits
    for step, run_dir, data in (("csim_design", "csim/build", "data"), ("cosim_design", "sim/wrapc", "cosim")):
        (flag, _), (argv, _) = _args(hls, step)[0]
        assert flag == "-argv" and " " not in argv
        assert os.path.normpath(os.path.join(r, "vitflow_prj/solution1", run_dir, argv)) == os.path.join(r, data)
    # Vivado: block design, bitstream, reports (the files its globs find made first)
    for f in ("vivado/vitflow_bd/vitflow_bd.gen/sources_1/bd/vitflow/hdl/vitflow_wrapper.v",
              "vivado/vitflow_bd/vitflow_bd.runs/impl_1/vitflow_wrapper.bit",
              "vivado/vitflow_bd/vitflow_bd.gen/sources_1/bd/vitflow/hw_handoff/vitflow.hwh"):
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        (root / f).write_text("x")
    viv = _calls(root / "vivado" / "build_bitstream.tcl", tmp_path)
    _check_paths(viv, r)
    assert [raw for raw, _ in _args(viv, "create_project")[0][1:3]] == ["vitflow_bd", f"{r}/vivado/vitflow_bd"]
    repo = [args for args in _args(viv, "set_property") if args[0][0] == "ip_repo_paths"][0]
    assert repo[1][1] == [f"{r}/vitflow_prj/solution1/impl/ip"]
    added = [args[-1][1] for args in _args(viv, "add_files")]
    assert added == [[f"{r}/vivado/zcu102.xdc"],
                     [f"{r}/vivado/vitflow_bd/vitflow_bd.gen/sources_1/bd/vitflow/hdl/vitflow_wrapper.v"]]
    assert all(os.path.isfile(a[0]) for a in added)
    reports = [args[1][0] for name in ("report_utilization", "report_timing_summary") for args in _args(viv, name)]
    assert reports == [f"{r}/reports/vivado_utilization_routed.rpt", f"{r}/reports/vivado_timing_summary_routed.rpt"]
    assert (root / "vivado" / "vitflow.bit").is_file() and (root / "vivado" / "vitflow.hwh").is_file()
    # the C simulation and the host driver there
    result = run_csim(root, compile_csim(root), data="cosim")
    assert result["bit_exact"] and result["layers_exact"] == result["layers"]
    spec = importlib.util.spec_from_file_location("drv", root / "host" / "vitflow_driver.py")
    drv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(drv)
    acc = drv.Accelerator(drv.open_device(root / "cosim", csim=compile_csim_library(root)), root / "cosim")
    out = acc.run(codes=env[prog.inputs[0]])["outputs"]
    assert np.array_equal(out[prog.outputs[0]], env[prog.outputs[0]])
