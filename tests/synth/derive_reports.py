"""Report files of a lab run of our accelerator, derived from the real hls4ml report files in
data/hls4ml_vivado/ (see its README): what `flow report` would find in a project after `flow synth`.

How each is derived (the figures are chosen, not measured: they exercise the comparison):
- vitflow_prj/solution1/syn/report/vitflow_top_csynth.xml: myproject_csynth.xml with the top, part,
  family and clock of the co-simulation project on xczu9eg at 200 MHz, a non-dataflow top, and
  resources near the model's for that project (DSP 440, BRAM18 80, FF 90,000, LUT 61,000); the top's own
  loops added in Vitis' <SummaryOfLoopLatency> form: desc_fetch, and one unlabelled loop
  (VITIS_LOOP_88_1, as Vitis names a loop without a label);
- one <module>_csynth.xml per engine, the same file with the module's name, resources and loops: every
  template loop at its target II except dw_tile at II = 4 (the case `flow report` must flag); depths
  near the templates'; conv_tile two deeper than the model, nested in its (unpipelined) tile loop
  VITIS_LOOP_117_1 as Vitis nests loops; table_load inlined twice into concat_engine (table_load,
  table_load_1);
- vitflow_prj/hls.app: vivado_hls.app naming our project and top;
- vitflow_prj/solution1/sim/report/vitflow_top_cosim.rpt: hls4ml's set has no co-simulation report;
  written in the table form Vitis writes and hls4ml's reader parses, latency 10,800 cycles;
- reports/vivado_utilization_routed.rpt: vivado_synth.rpt's tables with UltraScale+ site types and
  section numbers (1. CLB Logic, 3. BLOCKRAM, 4. ARITHMETIC), 60,000 LUTs, 88,000 FFs, 40 block RAM
  tiles (80 BRAM18), 436 DSPs;
- reports/vivado_timing_summary_routed.rpt: hls4ml's set has none; report_timing_summary's Design
  Timing Summary table, WNS +0.412 ns.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

REAL = Path(__file__).parent / "data" / "hls4ml_vivado"
PART, CLOCK_NS = "xczu9eg-ffvb1156-2-e", "5.00"
AVAILABLE = {"BRAM_18K": 1824, "DSP": 2520, "FF": 548160, "LUT": 274080, "URAM": 0}
# module -> (resources BRAM_18K, DSP, FF, LUT; loops (label, II, depth, trip count))
MODULES = {
    "vitflow_top": ((80, 440, 90000, 61000), [("desc_fetch", 1, 4, 8), ("VITIS_LOOP_88_1", 1, 3, 16)]),
    "conv_engine_16_16_16_9_32_192_0_s": ((18, 136, 30000, 18000), [("table_load", 1, 4, 256),
                                                                     ("VITIS_LOOP_117_1", None, None, 5,
                                                                      [("conv_tile", 1, 27, 4096)])]),
    "dwconv_engine_16_16_3_8_32_192_0_s": ((6, 160, 12000, 9000), [("table_load", 1, 4, 256),
                                                                    ("dw_tile", 4, 21, 1024)]),
    "lut_engine_16_256_192_s": ((16, 0, 3000, 4000), [("table_load", 1, 4, 256), ("lut_map", 1, 8, 64),
                                                      ("lut_rows", 1, 8, 64)]),
    "add_engine_16_192_s": ((0, 32, 2000, 2500), [("add", 2, 12, 64)]),
    "concat_engine_16_256_192_s": ((16, 0, 2500, 3000), [("table_load", 1, 4, 256), ("table_load_1", 1, 4, 256),
                                                         ("concat_map", 1, 8, 64)]),
    "gap_engine_16_192_s": ((0, 8, 7000, 5000), [("gap", 1, 76, 64)]),
    "layernorm_engine_16_1_192_s": ((1, 20, 9000, 6500), [("ln_shifts", 1, 4, 1), ("ln_sum", 1, 4, 16),
                                                          ("ln_var", 1, 8, 16), ("ln_sqrt", 1, 2, 32),
                                                          ("ln_out", 1, 76, 16)]),
    "linear_attention_engine_16_256_4_4_1_32_192_s": ((4, 80, 14000, 9000), [("att_load", 1, 4, 768),
                                                                             ("att_kv", 1, 8, 64),
                                                                             ("att_kv_rq", 1, 8, 20),
                                                                             ("att_out", 1, 76, 64)]),
    "stream_words_16_s": ((0, 0, 600, 500), [("stream_load", 1, 4, 512)]),
    "dma_load_16_192_s": ((0, 0, 500, 400), [("dma_load", 1, 4, 128)]),
    "dma_store_16_192_s": ((0, 0, 500, 400), [("dma_store", 1, 4, 128)]),
}
COSIM_LATENCY = 10800


def _set(root, path, text):
    root.find(path).text = str(text)


def _loops(parent, loops) -> None:
    """Vitis' loop entries: a pipelined loop's II and depth; a loop around others (ii None) has neither, "-"
    as Vitis writes, and its inner loops nested in its element."""
    for name, ii, depth, trip, *inner in loops:
        loop = ET.SubElement(parent, name)
        ET.SubElement(loop, "TripCount").text = str(trip)
        ET.SubElement(loop, "Latency").text = str(trip * ii + depth - 1) if ii else "?"
        ET.SubElement(loop, "PipelineII").text = str(ii) if ii else "-"
        ET.SubElement(loop, "PipelineDepth").text = str(depth) if depth else "-"
        _loops(loop, inner[0] if inner else [])


def _csynth(module: str, resources, loops) -> str:
    root = ET.parse(REAL / "myproject_csynth.xml").getroot()
    _set(root, "UserAssignments/TopModelName", module)
    _set(root, "UserAssignments/Part", PART)
    _set(root, "UserAssignments/ProductFamily", "zynquplus")
    _set(root, "UserAssignments/TargetClockPeriod", CLOCK_NS)
    perf = root.find("PerformanceEstimates")
    _set(perf, "PipelineType", "none")
    _set(perf, "SummaryOfTimingAnalysis/EstimatedClockPeriod", "3.912")
    _loops(ET.SubElement(perf, "SummaryOfLoopLatency"), loops)
    res = root.find("AreaEstimates/Resources")
    dsp = res.find("DSP48E")
    dsp.tag = "DSP"  # Vitis' name (Vivado HLS: DSP48E)
    for tag, value in zip(("BRAM_18K", "DSP", "FF", "LUT"), resources):
        _set(res, tag, value)
    avail = root.find("AreaEstimates/AvailableResources")
    avail.find("DSP48E").tag = "DSP"
    for tag, value in AVAILABLE.items():
        _set(avail, tag, value)
    return ET.tostring(root, encoding="unicode")


COSIM = """
================================================================
== Cosimulation Report for 'vitflow_top'
================================================================
+----------+----------+-----------------------------------------------+-----------------------------------------------+----------------------+
|          |          |             Latency(Clock Cycles)             |              Interval(Clock Cycles)           | Total Execution Time |
+   RTL    +  Status  +-----------------------------------------------+-----------------------------------------------+    (Clock Cycles)    +
|          |          |      min      |      avg      |      max      |      min      |      avg      |      max      |                      |
+----------+----------+-----------------------------------------------+-----------------------------------------------+----------------------+
|      VHDL|        NA|             NA|             NA|             NA|             NA|             NA|             NA|                    NA|
|   Verilog|      Pass|{lat:>15}|{lat:>15}|{lat:>15}|             NA|             NA|             NA|{lat:>22}|
+----------+----------+-----------------------------------------------+-----------------------------------------------+----------------------+
"""

TIMING = """------------------------------------------------------------------------------------------------
| Design Timing Summary
| ---------------------
------------------------------------------------------------------------------------------------

    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)      THS(ns)  THS Failing Endpoints  THS Total Endpoints     WPWS(ns)     TPWS(ns)  TPWS Failing Endpoints  TPWS Total Endpoints
    -------      -------  ---------------------  -------------------      -------      -------  ---------------------  -------------------     --------     --------  ----------------------  --------------------
      {wns}        0.000                      0               201544        0.010        0.000                      0               201544        1.458        0.000                       0                 81872


All user specified timing constraints are met.
"""


def _utilization() -> str:
    text = (REAL / "vivado_synth.rpt").read_text()
    text = text.replace("Device       : 7z020clg400-1", "Device       : xczu9eg-ffvb1156-2-e")
    text = text.replace("Design State : Synthesized", "Design State : Routed")
    text = text.replace("1. Slice Logic\n", "1. CLB Logic\n").replace("2. Memory\n", "3. BLOCKRAM\n")
    text = text.replace("3. DSP\n", "4. ARITHMETIC\n")
    rows = {"Slice LUTs*": ("CLB LUTs", 60000, 274080), "Slice Registers": ("CLB Registers", 88000, 548160),
            "Block RAM Tile": ("Block RAM Tile", 40, 912), "DSPs": ("DSPs", 436, 2520)}
    for old, (new, used, avail) in rows.items():
        text = re.sub(rf"\| {re.escape(old)}\s*\|\s*\d+ \|\s*\d+ \|\s*\d+ \|\s*[\d.]+ \|",
                      f"| {new:<14} | {used:>6} |     0 | {avail:>9} | {100 * used / avail:5.2f} |", text, count=1)
    return text.replace("|   RAMB18       |    0 |", "| URAM           |    0 |", 1)


def derive(project: Path, ii_dw: int = 4) -> None:
    """Write the derived lab reports into ``project`` (a generated hls/ folder); dw_tile at II ``ii_dw``."""
    report = project / "vitflow_prj" / "solution1" / "syn" / "report"
    report.mkdir(parents=True, exist_ok=True)
    for module, (res, loops) in MODULES.items():
        loops = [(n, ii_dw if n == "dw_tile" else ii, d, *rest) for n, ii, d, *rest in loops]
        (report / f"{module}_csynth.xml").write_text(_csynth(module, res, loops))
    app = (REAL / "vivado_hls.app").read_text().replace('name="myproject_prj" top="myproject"',
                                                         'name="vitflow_prj" top="vitflow_top"')
    (project / "vitflow_prj" / "hls.app").write_text(app)
    sim = project / "vitflow_prj" / "solution1" / "sim" / "report"
    sim.mkdir(parents=True, exist_ok=True)
    (sim / "vitflow_top_cosim.rpt").write_text(COSIM.format(lat=COSIM_LATENCY))
    (project / "reports").mkdir(exist_ok=True)
    (project / "reports" / "vivado_utilization_routed.rpt").write_text(_utilization())
    (project / "reports" / "vivado_timing_summary_routed.rpt").write_text(TIMING.format(wns="0.412"))


def place_real(project: Path) -> None:
    """hls4ml's real files where a lab run of ours leaves its reports (the csynth report under our top's
    name, the 7-series utilization report as the routed one)."""
    report = project / "vitflow_prj" / "solution1" / "syn" / "report"
    report.mkdir(parents=True, exist_ok=True)
    (report / "vitflow_top_csynth.xml").write_text((REAL / "myproject_csynth.xml").read_text())
    (project / "vitflow_prj" / "vivado_hls.app").write_text((REAL / "vivado_hls.app").read_text())
    (project / "reports").mkdir(exist_ok=True)
    (project / "reports" / "vivado_utilization_routed.rpt").write_text((REAL / "vivado_synth.rpt").read_text())
