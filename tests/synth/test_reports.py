"""The lab-report readers on hls4ml's real Vivado HLS / Vivado files (the figures hls4ml's own test expects
of them) and on the files derived from them with our top's loops (derive_reports.py)."""

import pytest

from flow.errors import FlowError
from flow.synth.reports import read_lab_reports, read_timing_summary, read_utilization

from .derive_reports import REAL, derive, place_real


def test_real_files(project):
    place_real(project)
    lab = read_lab_reports(project, "vitflow_top")
    c = lab["csynth"]  # through hls4ml's reader
    assert (c["BestLatency"], c["WorstLatency"], c["IntervalMin"], c["EstimatedClockPeriod"]) == ("10", "10", "8", "4.049")
    assert (c["DSP"], c["FF"], c["LUT"], c["BRAM_18K"]) == ("73", "7969", "2532", "0")
    assert lab["vivado"] == {"lut": 1526, "ff": 2428, "bram18": 0, "dsp": 66}  # 7-series utilization
    assert lab["loops"] == [] and lab["cosim"] is None and lab["timing"] is None


def test_derived_files(project):
    derive(project)
    lab = read_lab_reports(project, "vitflow_top")
    loops = {(l["name"], l["module"]): l for l in lab["loops"]}
    dw = loops[("dw_tile", "dwconv_engine_16_16_3_8_32_192_0_s")]
    assert (dw["ii"], dw["depth"], dw["trip_count"]) == (4, 21, 1024)
    outer = loops[("VITIS_LOOP_117_1", "conv_engine_16_16_16_9_32_192_0_s")]  # a loop around conv_tile
    assert (outer["ii"], outer["depth"], outer["trip_count"]) == (None, None, 5)
    assert loops[("conv_tile", "conv_engine_16_16_16_9_32_192_0_s")]["ii"] == 1  # nested inside it
    assert ("table_load_1", "concat_engine_16_256_192_s") in loops and len(lab["loops"]) == 27
    assert lab["modules"]["conv_engine_16_16_16_9_32_192_0_s"] == {"dsp": 136, "bram18": 18, "uram": 0,
                                                                    "lut": 18000, "ff": 30000}
    assert lab["csynth"]["DSP"] == "440" and lab["csynth"]["TargetClockPeriod"] == "5.00"
    assert (lab["cosim"]["Status"], lab["cosim"]["LatencyMax"]) == ("Pass", "10800")  # hls4ml's reader
    assert lab["vivado"] == {"lut": 60000, "ff": 88000, "bram18": 80, "uram": 0, "dsp": 436}  # UltraScale+ sections
    assert lab["timing"] == {"wns_ns": 0.412, "tns_ns": 0.0, "whs_ns": 0.01, "ths_ns": 0.0}


def test_nothing_to_read_is_one_error(project, tmp_path):
    with pytest.raises(FlowError, match="no Vitis or Vivado reports .* run `flow synth --project"):
        read_lab_reports(project, "vitflow_top")
    (project / "vitflow_prj" / "solution1").mkdir(parents=True)  # a run that stopped before writing anything
    with pytest.raises(FlowError, match="no Vitis or Vivado reports"):
        read_lab_reports(project, "vitflow_top")
    bad = tmp_path / "t.rpt"
    bad.write_text((REAL / "vivado_synth.rpt").read_text())
    with pytest.raises(FlowError, match="no Design Timing Summary"):
        read_timing_summary(bad)
    assert read_utilization(bad)["dsp"] == 66
