"""Calibration by a lab run (flow estimate --calibration): measured loop IIs and depths replace the
templates' in the cycle model, measured / modeled resource ratios scale the resource model; worked out by
hand on one pointwise convolution (tests/estimate/test_timing.py has its uncalibrated counts)."""

import json
import math
import subprocess

import pytest

from flow.errors import FlowError
from flow.estimate.calibration import calibrated_resources, load_calibration
from flow.estimate.counts import op_parts
from flow.estimate.latencies import latencies
from flow.estimate.resources import estimate_resources
from flow.estimate.timing import op_time
from flow.hls.memory_plan import plan_memory
from flow.hls.project import HwConfig
from flow.lower.program import save

from .test_timing import _pointwise

REPORT = {  # the parts of reports/synthesis_report.json (flow report) that calibration reads
    "loops": {"conv_tile": {"target_ii": 1, "ii": 2, "model_depth": 25, "depth": 30},
              "dw_tile": {"target_ii": 1, "ii": None, "model_depth": 21, "depth": None}},  # not in the run
    "resources": {"dsp": {"model": 516, "measured": 645}, "lut": {"model": 60000, "measured": 45000},
                  "uram": {"model": 0, "measured": 0}},
}


def _write(tmp_path, report=REPORT):
    path = tmp_path / "synthesis_report.json"
    path.write_text(json.dumps(report))
    return path


def test_measured_ii_and_depth_by_hand(tmp_path):
    cal = load_calibration(_write(tmp_path))
    assert cal["loops"] == {"conv_tile": {"depth": 30, "ii": 2}} and cal["resources"] == {"dsp": 1.25, "lut": 0.75}
    lat = latencies(cal)
    assert lat["loops"]["conv_tile"] == (30, 2) and lat["loops"]["dw_tile"] == latencies()["loops"]["dw_tile"]
    assert latencies()["loops"]["conv_tile"] == (latencies()["depth_conv"], 1)  # the templates' stay as they are
    program = _pointwise()
    plan = plan_memory(program, 16, 1 << 20)
    op = next(op for op in plan.ops if op.kind == "conv")
    cfg = HwConfig(lanes=16)
    _, _, engine = op_parts(op, plan, cfg, lat)
    # the conv tile loop's three executions (load tile 0: 22 iterations of two words, tile 0: 32 MACs, tile
    # 1: 32), each iteration now 2 cycles, each execution 30 cycles deep
    assert engine.cycles == 2 * 86 and engine.fill == 3 * 30
    # the layer is bound by its engine (the weight stream's 46 pairs over two ports are shorter): 86 cycles
    # more for the II, 3 x 5 for the depth
    assert op_time(op, plan, cfg, 1.0, lat)["cycles"] - op_time(op, plan, cfg, 1.0)["cycles"] == 86 + 15


def test_resource_ratios_scale_the_model(tmp_path):
    cal = load_calibration(_write(tmp_path))
    cfg = HwConfig(lanes=16)
    model, scaled = estimate_resources(cfg), calibrated_resources(cfg, cal)
    assert scaled["dsp"] == math.ceil(model["dsp"] * 645 / 516) and scaled["lut"] == math.ceil(model["lut"] * 0.75)
    assert scaled["ff"] == model["ff"] and scaled["bram18"] == model["bram18"]  # not measured: the model's


@pytest.mark.parametrize("content,message", [
    (None, "does not exist"),
    ("{not json", "is not JSON"),
    (json.dumps({"loops": {}}), "not a synthesis_report.json from `flow report`"),
    (json.dumps({"loops": {"conv_tile": {"ii": 0}}, "resources": {}}), "loop 'conv_tile' has ii 0"),
    (json.dumps({"loops": {}, "resources": {"dsps": {"model": 1, "measured": 1}}}), "unknown resource 'dsps'"),
])
def test_bad_calibration_files(tmp_path, content, message):
    path = tmp_path / "c.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(FlowError, match=message):
        load_calibration(path)


def test_a_loop_no_template_has(tmp_path):
    cal = load_calibration(_write(tmp_path, {"loops": {"mystery": {"ii": 2}}, "resources": {}}))
    with pytest.raises(FlowError, match="loop 'mystery', which no template has"):
        latencies(cal)


def test_flow_estimate_takes_the_calibration(tmp_path):
    program = _pointwise()
    program.layers[0].attrs.update(in_channels=32, out_channels=32, weight_bits=8)  # as the lowering writes them
    save(program, tmp_path / "program")
    cal = _write(tmp_path, {"loops": REPORT["loops"], "resources": {}})

    def estimate(*extra):
        out = tmp_path / ("cal" if extra else "base")
        r = subprocess.run(["flow", "estimate", "--program", str(tmp_path / "program"), "--part", "xczu9eg",
                            "--clock", "200", "--out", str(out), *extra], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return json.loads((out / "estimate" / "estimate.json").read_text()), out

    base, _ = estimate()
    calibrated, out = estimate("--calibration", str(cal))
    assert calibrated["calibration"] == str(cal) and base["calibration"] is None
    assert f"Calibrated by a lab run: {cal}" in (out / "estimate" / "estimate.md").read_text()
    assert calibrated["config"] == base["config"]  # the same design: only its conv loop is slower
    (row,) = [r for r in calibrated["layers"] if r["kind"] == "conv"]
    (row0,) = [r for r in base["layers"] if r["kind"] == "conv"]
    assert row["compute"] == 2 * row0["compute"] and calibrated["cycles"] > base["cycles"]
    r = subprocess.run(["flow", "estimate", "--program", str(tmp_path / "program"), "--calibration",
                        str(tmp_path / "none.json"), "--out", str(tmp_path / "bad")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == f"flow: error: calibration file '{tmp_path / 'none.json'}' does not exist"
    assert not (tmp_path / "bad").exists()
