"""`flow report`: the comparison of a lab run with the model, on the real and the derived report files."""

import json

from flow.cli.main import main
from flow.estimate.calibration import load_calibration
from flow.estimate.latencies import template_loops

from .derive_reports import derive, place_real


def test_derived_run_flags_the_loop_at_ii_4(project, capsys):
    derive(project)  # every template loop at its target II but dw_tile, at 4
    assert main(["report", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "| dw_tile | depthwise | 1 | 4 | 21 | 21 | 1 | II 4, target 1 |" in out
    assert "| conv_tile | conv | 1 | 1 | 25 | 27 | 1 |  |" in out  # deeper than the model: shown, not flagged
    cmp = json.loads((project / "reports" / "synthesis_report.json").read_text())
    flagged = sorted(n for n, r in cmp["loops"].items() if r["flag"])
    assert flagged == ["dw_tile"] and set(cmp["loops"]) == set(template_loops())
    assert [l["name"] for l in cmp["unknown_loops"]] == ["VITIS_LOOP_88_1"]  # pipelined, outside the audit
    assert [l["name"] for l in cmp["outer_loops"]] == ["VITIS_LOOP_117_1"]  # around conv_tile: listed, no flag
    assert cmp["loops"]["table_load"]["instances"] == 5  # table_load_1 is the label inlined twice
    assert cmp["flags"] == 2
    # resources within 20% of the model (422 DSP, 84 BRAM18, 65,304 LUT, 81,648 FF): none flagged
    assert {k: r["measured"] for k, r in cmp["resources"].items()} == {"dsp": 436, "bram18": 80, "uram": 0,
                                                                       "lut": 60000, "ff": 88000}
    assert not any(r["flag"] for r in cmp["resources"].values())
    assert cmp["latency"]["model"] == 9642 and cmp["latency"]["cosim_max"] == 10800 and not cmp["latency"]["flag"]
    assert round(cmp["clock"]["achieved_mhz"], 1) == 218.0  # 1000 / (5 - 0.412)
    assert cmp["engines"]["depthwise"]["flags"] == 1 and cmp["engines"]["conv"]["resources"]["dsp"] == 136


def test_derived_run_at_target_has_no_loop_flag(project):
    derive(project, ii_dw=1)
    assert main(["report", "--project", str(project)]) == 0
    cmp = json.loads((project / "reports" / "synthesis_report.json").read_text())
    assert not [n for n, r in cmp["loops"].items() if r["flag"]]


def test_real_files_compare_and_exit_0(project, capsys):
    place_real(project)  # hls4ml's 16 -> 5 dense layer: another design, so its resources are flagged
    assert main(["report", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert "| dsp | 422 | 73 | 66 | -84% | -84% from the model |" in out
    assert "| conv_tile | conv | 1 | - | 25 | - | 0 | not in the reports |" in out
    cal = load_calibration(project / "reports" / "synthesis_report.json")
    assert cal["loops"] == {} and round(cal["resources"]["dsp"], 4) == round(66 / 422, 4)


def test_not_a_project_or_no_reports(tmp_path, project, capsys):
    assert main(["report", "--project", str(tmp_path)]) == 2
    assert "is not a vitflow HLS project" in capsys.readouterr().err
    assert main(["report", "--project", str(project)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no Vitis or Vivado reports" in err[0]
    assert not (project / "reports").exists()
