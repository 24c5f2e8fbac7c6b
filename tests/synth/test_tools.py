"""`flow synth`: the command lines and environment each step gets (checked without the tools, through fake
tools on PATH), the one-line error and nothing written when a tool is missing, and, where Vitis HLS and
Vivado are installed, the real runs (skipped here, the reason shown)."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from flow.cli.main import main
from flow.errors import FlowError
from flow.synth.compare import compare
from flow.synth.tools import commands, parse_steps, run_synth

FAKE = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_RECORD"], "a") as f:
    f.write(json.dumps({{"tool": name, "argv": sys.argv[1:], "cwd": os.getcwd(),
                        "steps": os.environ.get("VITFLOW_STEPS")}}) + "\\n")
for step in (os.environ.get("VITFLOW_STEPS") or "bitstream").split():
    print("vitflow: step " + step, flush=True)
    print("INFO: working on " + step, flush=True)
    if os.environ.get("FAKE_FAIL") == step:
        print("ERROR: [HLS 200-70] Compilation errors found", flush=True)
        sys.exit(1)
"""


def _fake_tools(tmp_path, monkeypatch, names=("vitis_hls", "vivado")):
    """A PATH holding only fake tools that record how they were called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        (bin_dir / name).write_text(FAKE.format(python=sys.executable))
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_RECORD", str(tmp_path / "calls.jsonl"))
    return tmp_path / "calls.jsonl"


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_steps_and_command_lines(tmp_path, monkeypatch):
    _fake_tools(tmp_path, monkeypatch)
    assert parse_steps(None) == ["csynth", "cosim", "export", "bitstream"]
    assert parse_steps("bitstream, csynth") == ["csynth", "bitstream"]  # pipeline order
    with pytest.raises(FlowError, match="unknown synth step 'synth'"):
        parse_steps("synth")
    hls, viv = commands(parse_steps(None))
    assert hls.argv == ["vitis_hls", "-f", "run_hls.tcl"] and hls.env == {"VITFLOW_STEPS": "csynth cosim export"}
    assert hls.log == "logs/vitis_hls.log" and hls.steps == ["csynth", "cosim", "export"]
    assert viv.argv == ["vivado", "-mode", "batch", "-nolog", "-nojournal", "-source", "vivado/build_bitstream.tcl"]
    assert viv.env == {} and viv.log == "logs/vivado.log"
    (only,) = commands(["cosim"])
    assert only.env == {"VITFLOW_STEPS": "cosim"}


def test_vitis_run_when_vitis_hls_is_gone(tmp_path, monkeypatch):
    _fake_tools(tmp_path, monkeypatch, names=("vitis-run",))  # Vitis 2024.2 and later
    (hls,) = commands(["csynth"])
    assert hls.argv == ["vitis-run", "--mode", "hls", "--tcl", "run_hls.tcl"]


def test_missing_tool_is_one_line_and_writes_nothing(project, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    before = _listing(project)
    assert main(["synth", "--project", str(project)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("flow: error: vitis_hls is not on PATH")
    assert f"cd {project} && VITFLOW_STEPS='csynth cosim export' vitis_hls -f run_hls.tcl && vivado -mode batch" in err[0]
    assert _listing(project) == before
    monkeypatch.setenv("PATH", str(_fake_tools(tmp_path, monkeypatch, names=("vitis_hls",)).parent / "bin"))
    assert main(["synth", "--project", str(project), "--steps", "export,bitstream"]) == 2  # no vivado
    assert "vivado is not on PATH (Vivado needed for bitstream)" in capsys.readouterr().err
    assert _listing(project) == before


def test_lab_commands_quote_the_path(tmp_path, monkeypatch):
    from flow.synth.tools import lab_commands

    _fake_tools(tmp_path, monkeypatch)
    assert lab_commands(Path("/lab/it's here"), ["csynth"]) == (
        """cd '/lab/it'"'"'s here' && VITFLOW_STEPS=csynth vitis_hls -f run_hls.tcl""")


def test_runs_each_tool_in_the_project_with_progress_and_logs(project, tmp_path, monkeypatch):
    record = _fake_tools(tmp_path, monkeypatch)
    said = []
    logs = run_synth(project, None, say=said.append)
    calls = [json.loads(l) for l in record.read_text().splitlines()]
    assert [c["tool"] for c in calls] == ["vitis_hls", "vivado"]
    assert calls[0]["argv"] == ["-f", "run_hls.tcl"] and calls[0]["steps"] == "csynth cosim export"
    assert all(os.path.samefile(c["cwd"], project) for c in calls) and calls[1]["steps"] is None
    assert logs == [project / "logs" / "vitis_hls.log", project / "logs" / "vivado.log"]
    assert "INFO: working on cosim" in logs[0].read_text()
    progress = [s for s in said if s.endswith("...") or " done (" in s]
    assert [p.split(": ")[2].split()[0] for p in progress] == [
        "csynth", "csynth", "cosim", "cosim", "export", "export", "bitstream", "bitstream"]


def test_a_failing_step_names_itself_and_its_log(project, tmp_path, monkeypatch):
    _fake_tools(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_FAIL", "cosim")
    with pytest.raises(FlowError, match=r"vitis_hls failed in step cosim \(exit 1\): ERROR: \[HLS 200-70\] "
                                        r"Compilation errors found; log .*logs/vitis_hls.log"):
        run_synth(project, None, say=lambda s: None)


def test_bitstream_alone_needs_the_exported_ip(project, tmp_path, monkeypatch):
    _fake_tools(tmp_path, monkeypatch)
    with pytest.raises(FlowError, match="no exported IP"):
        run_synth(project, "bitstream")
    assert not (project / "logs").exists()


@pytest.mark.skipif(shutil.which("vitis_hls") is None and shutil.which("vitis-run") is None,
                    reason="needs Vitis HLS (vitis_hls or vitis-run on PATH): a lab machine")
def test_vitis_synthesis_reaches_every_target_ii(project):
    """On a lab machine: C synthesis and co-simulation of the co-simulation project; every template loop at
    its target II, the co-simulation passes."""
    run_synth(project, "csynth,cosim")
    cmp = compare(project)
    assert not [n for n, r in cmp["loops"].items() if r["flag"]], cmp["loops"]
    assert cmp["latency"] and cmp["latency"]["status"] == "Pass"


@pytest.mark.skipif(shutil.which("vivado") is None or not os.environ.get("VITFLOW_LAB_BITSTREAM"),
                    reason="needs Vivado on PATH and VITFLOW_LAB_BITSTREAM=1 (a bitstream takes hours)")
def test_vivado_bitstream_meets_timing(project):
    run_synth(project, None)
    assert (project / "vivado" / "vitflow.bit").is_file() and (project / "vivado" / "vitflow.hwh").is_file()
    assert compare(project)["clock"]["wns_ns"] >= 0
