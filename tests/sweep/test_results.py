"""A sweep's table and Pareto plot."""

import csv

from PIL import Image

from flow.sweep.grid import Cell
from flow.sweep.results import pareto, write_results


def test_pareto_keeps_the_points_nothing_beats_on_both():
    points = [(100.0, 90.0), (200.0, 85.0), (150.0, 80.0), (50.0, 90.0), (200.0, 85.0)]
    assert pareto(points) == [1, 4, 0]  # (150, 80) is beaten by (200, 85); (50, 90) by (100, 90)
    assert pareto([(1.0, 1.0)]) == [0]


def _result(bits, part, fps=None, top1=None, status="ok"):
    cell = Cell(task="estimate", model="efficientvit_b0", resolution=64, bits=bits, recipe="default", part=part)
    r = {"cell": cell.id, "settings": cell.settings(), "status": status, "seconds": 3.0}
    if status == "ok":
        r.update(fps=fps, gops=fps / 10, top1=top1, dsp_pct=70.0)
    else:
        r["error"] = "FlowError: no such thing"
    return r


def test_table_plot_and_failures(tmp_path):
    results = [_result("w8a8", "xczu9eg", 1600.0, 81.5), _result("w6a6", "xczu9eg", 1670.0, 79.0),
               _result("w8a8", "xck26", status="failed")]
    paths = write_results(results, tmp_path)
    with open(paths["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [(r["cell"], r["status"], r["fps"], r["top1"]) for r in rows] == [
        ("efficientvit_b0_r64_w8a8_default_xczu9eg", "ok", "1600.0", "81.5"),
        ("efficientvit_b0_r64_w6a6_default_xczu9eg", "ok", "1670.0", "79.0"),
        ("efficientvit_b0_r64_w8a8_default_xck26", "failed", "", "")]
    md = paths["md"].read_text()
    assert "| efficientvit_b0_r64_w6a6_default_xczu9eg | efficientvit_b0 | 64 | w6a6 | default | xczu9eg | ok |" in md
    assert "- efficientvit_b0_r64_w8a8_default_xck26 failed: FlowError: no such thing" in md
    image = Image.open(paths["pareto"])
    assert image.size[0] > 400 and len(set(image.convert("RGB").getdata())) > 20


def test_no_plot_without_accuracy(tmp_path):
    paths = write_results([_result("w8a8", "xczu9eg", 1600.0, None)], tmp_path)
    assert paths["pareto"] is None and not (tmp_path / "pareto.png").exists()
    assert "No Pareto plot" in paths["md"].read_text()
