"""What a lab run leaves in a project, read back:
  - Vitis HLS C synthesis: the top's latency, estimated clock and resources, read with hls4ml's report
    reader (hls4ml.report.parse_vivado_report); every loop's achieved II, pipeline depth and trip count
    and every module's resources, from all of syn/report/*_csynth.xml (hls4ml reads the top's summary only);
  - the C/RTL co-simulation's latency (hls4ml's reader, from sim/report/<top>_cosim.rpt);
  - Vivado's routed utilization and timing summary (reports/, written by vivado/build_bitstream.tcl): ours,
    since hls4ml's utilization reader knows the 7-series section numbering only (UltraScale+ reports put
    block RAM in section 3 and DSPs in section 4) and its timing reader one fixed project path.

hls4ml's reader expects its own project layout (project.tcl naming the top, <top>_prj/); it is shown ours
through a temporary folder of links, never by moving the lab's files.
"""

import contextlib
import io
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from flow.errors import FlowError

VITIS_PROJECT = "vitflow_prj"
SOLUTION = "solution1"
UTILIZATION = "reports/vivado_utilization_routed.rpt"
TIMING = "reports/vivado_timing_summary_routed.rpt"
# report_utilization's site types (7-series names, then UltraScale+ names) -> our resource kinds
SITE_TYPES = {"Slice LUTs": "lut", "CLB LUTs": "lut", "Slice Registers": "ff", "CLB Registers": "ff",
              "Block RAM Tile": "bram_tile", "URAM": "uram", "DSPs": "dsp"}


def as_int(text):
    """A report's number as an int; None for what is not one ("-", "undef", missing)."""
    try:
        return int(float(text))
    except (TypeError, ValueError):
        return None


def solution_dir(project: Path) -> Path:
    return project / VITIS_PROJECT / SOLUTION


def read_hls4ml_view(project: Path, top: str) -> dict:
    """hls4ml's parse_vivado_report on the project's Vitis solution: {"CSynthesisReport", "CosimReport"}
    (either absent when the run did not reach it)."""
    from hls4ml.report import parse_vivado_report

    prj = project / VITIS_PROJECT
    if not (prj / "hls.app").is_file() and not (prj / "vivado_hls.app").is_file():
        return {}  # no Vitis project file (a run that stopped early): hls4ml's reader would have no solution
    with tempfile.TemporaryDirectory() as tmp:
        view = Path(tmp)
        (view / "project.tcl").write_text(f'set project_name "{top}"\nset backend "vitis"\n')
        os.symlink(prj.resolve(), view / f"{top}_prj", target_is_directory=True)
        with contextlib.redirect_stdout(io.StringIO()):  # its "... not found" lines: we say what is missing
            report = parse_vivado_report(str(view)) or {}
    return {k: v for k, v in report.items() if k in ("CSynthesisReport", "CosimReport") and v}


def _trip(node) -> int | None:
    t = node.find("TripCount")
    if t is None:
        return None
    if t.find("range/max") is not None:
        return as_int(t.find("range/max").text)
    return as_int(t.text)


def _loops_of(node, module: str, out: list) -> None:
    for loop in node:
        if loop.find("PipelineII") is None and loop.find("TripCount") is None:
            continue
        name = loop.findtext("Name") or loop.tag
        ii = loop.findtext("PipelineII")
        out.append({"name": name, "module": module, "ii": as_int(ii), "ii_text": (ii or "").strip(),
                    "depth": as_int(loop.findtext("PipelineDepth")), "trip_count": _trip(loop),
                    "latency": (loop.findtext("Latency") or "").strip()})
        _loops_of(loop, module, out)  # nested loops sit inside their parent's element


def read_csynth_modules(project: Path) -> tuple:
    """(loops, modules) of every *_csynth.xml of the solution: loops [{"name", "module", "ii", "depth",
    "trip_count", ...}], modules {module: {"dsp", "bram18", "uram", "lut", "ff"}}."""
    loops, modules = [], {}
    folder = solution_dir(project) / "syn" / "report"
    for path in sorted(folder.glob("*_csynth.xml")) if folder.is_dir() else []:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise FlowError(f"{path} is not a readable csynth report ({exc})") from None
        module = path.name[: -len("_csynth.xml")]
        for summary in root.iter("SummaryOfLoopLatency"):
            _loops_of(summary, module, loops)
        res = root.find("AreaEstimates/Resources")
        if res is not None:
            get = lambda *tags: next((as_int(res.findtext(t)) for t in tags if res.find(t) is not None), None)  # noqa: E731
            modules[module] = {"dsp": get("DSP", "DSP48E"), "bram18": get("BRAM_18K"), "uram": get("URAM"),
                               "lut": get("LUT"), "ff": get("FF")}
    return loops, modules


def read_utilization(path: Path) -> dict:
    """Vivado report_utilization (7-series or UltraScale+): {"lut", "ff", "bram18", "uram", "dsp"} used.
    Block RAM tiles are 36 Kb, two BRAM18 each."""
    used = {}
    for line in path.read_text(errors="replace").splitlines():
        cells = [c.strip().rstrip("*").strip() for c in line.split("|")]  # "Slice LUTs*": a footnote mark
        if len(cells) > 3 and cells[1] in SITE_TYPES and SITE_TYPES[cells[1]] not in used:
            try:
                used[SITE_TYPES[cells[1]]] = float(cells[2])
            except ValueError:
                continue
    if "bram_tile" in used:
        used["bram18"] = int(round(2 * used.pop("bram_tile")))
    return {k: int(v) for k, v in used.items()}


def read_timing_summary(path: Path) -> dict:
    """Vivado report_timing_summary's Design Timing Summary: {"wns_ns", "tns_ns", "whs_ns", "ths_ns"}."""
    lines = path.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*WNS\(ns\)\s+TNS\(ns\)", line):
            for row in lines[i + 1: i + 4]:
                cells = row.split()
                if cells and re.match(r"-?\d", cells[0]):
                    return {"wns_ns": float(cells[0]), "tns_ns": float(cells[1]), "whs_ns": float(cells[4]),
                            "ths_ns": float(cells[5])}
    raise FlowError(f"{path} has no Design Timing Summary (WNS) table")


def read_lab_reports(project, top: str) -> dict:
    """Everything a lab run left in ``project``; a FlowError when it left nothing."""
    project = Path(project)
    hls = read_hls4ml_view(project, top)
    loops, modules = read_csynth_modules(project)
    out = {"csynth": hls.get("CSynthesisReport"), "cosim": hls.get("CosimReport"), "loops": loops,
           "modules": modules, "vivado": None, "timing": None}
    if (project / UTILIZATION).is_file():
        out["vivado"] = read_utilization(project / UTILIZATION)
    if (project / TIMING).is_file():
        out["timing"] = read_timing_summary(project / TIMING)
    if not any(out[k] for k in ("csynth", "cosim", "loops", "vivado", "timing")):
        raise FlowError(f"no Vitis or Vivado reports in '{project}' ({VITIS_PROJECT}/{SOLUTION}/syn/report, "
                        f"{UTILIZATION}): run `flow synth --project {project}` on a lab machine first")
    return out
