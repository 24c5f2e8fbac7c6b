"""`flow report`: a lab run held against the model, per loop and per engine, and in total.

Per loop (every loop the templates label, flow/estimate/latencies.py): the II the template declares (the
cycle model charges it) against the II Vitis achieved, and the pipeline depth the model charges against
the one Vitis scheduled; a loop whose II differs is flagged, and so is a loop the templates do not label
(it is outside the C-simulation's II audit). Per engine: its loops' worst II and Vitis' modules' resources.
In total: each resource kind, the model (flow/estimate/resources.py, recorded in design.json) against
Vivado's routed figure where the run reached it, else the csynth estimate, flagged beyond 20%; the
co-simulation's latency against the model's cycles for the same run, flagged beyond 20%; the clock
Vivado achieved (the period less the worst negative slack).

Writes reports/synthesis_report.json (what `flow estimate --calibration` takes) and .md.
"""

import json
from pathlib import Path

from flow.errors import FlowError
from flow.estimate.latencies import template_loops
from flow.estimate.resources import KINDS

from .reports import as_int, read_lab_reports

TOLERANCE = 0.2  # a resource or latency further than this from the model is flagged
ENGINE_OF_LOOP = {"conv_tile": "conv", "dw_tile": "depthwise", "lut_map": "tables", "lut_rows": "tables",
                  "table_load": "tables", "add": "add", "concat_map": "concat", "gap": "pool",
                  "ln_shifts": "layernorm", "ln_sum": "layernorm", "ln_var": "layernorm", "ln_sqrt": "layernorm",
                  "ln_out": "layernorm", "att_load": "attention", "att_kv": "attention", "att_kv_rq": "attention",
                  "att_out": "attention", "desc_fetch": "dma", "stream_load": "dma", "stream_pairs": "dma",
                  "dma_load": "dma", "dma_store": "dma"}
ENGINE_OF_MODULE = [("conv_engine", "conv"), ("dwconv_engine", "depthwise"), ("lut_engine", "tables"),
                    ("add_engine", "add"), ("concat_engine", "concat"), ("gap_engine", "pool"),
                    ("layernorm_engine", "layernorm"), ("linear_attention_engine", "attention"),
                    ("stream_words", "dma"), ("stream_pairs", "dma"), ("dma_load", "dma"), ("dma_store", "dma"),
                    ("fetch_descriptor", "dma")]


def load_design(project: Path) -> dict:
    path = project / "design.json"
    if not (project / "firmware" / "vitflow").is_dir() or not path.is_file():
        raise FlowError(f"'{project}' is not a vitflow HLS project with its design record (firmware/vitflow/ and "
                        f"design.json: the hls/ folder `flow build` writes)")
    return json.loads(path.read_text())


def _label(name: str, known) -> str | None:
    """A report's loop name as a template label: Vitis keeps labels, and suffixes a label inlined twice into
    one function (table_load_1)."""
    if name in known:
        return name
    base, _, tail = name.rpartition("_")
    return base if tail.isdigit() and base in known else None


def _off(measured, model) -> float | None:
    if measured is None or not model:
        return None
    return measured / model - 1


def compare(project) -> dict:
    project = Path(project)
    design = load_design(project)
    lab = read_lab_reports(project, design["top"])
    declared = template_loops(str(project / "firmware" / "vitflow"))
    loops, unknown, outer = {}, [], []
    for row in lab["loops"]:
        label = _label(row["name"], declared)
        if label is None and row["ii"] is None:  # not pipelined: a loop around pipelined ones (tiles, groups)
            outer.append(row)
        elif label is None:
            unknown.append({**row, "flag": "a pipelined loop no template labels: outside the C-simulation's II audit"})
        else:
            loops.setdefault(label, []).append(row)
    loop_rows = {}
    for label, d in declared.items():
        found = loops.get(label, [])
        iis = [r["ii"] for r in found]
        ii = None if not found or None in iis else max(iis)
        depths = [r["depth"] for r in found if r["depth"] is not None]
        flag = ""
        if found and ii is None:
            flag = f"not pipelined ({found[iis.index(None)]['ii_text'] or 'no II'})"
        elif found and ii != d["ii"]:
            flag = f"II {ii}, target {d['ii']}"
        loop_rows[label] = {"engine": ENGINE_OF_LOOP.get(label, "?"), "template": d["template"],
                            "target_ii": d["ii"], "ii": ii, "model_depth": d["depth"],
                            "depth": max(depths) if depths else None, "instances": len(found),
                            "modules": sorted({r["module"] for r in found}), "flag": flag}
    res = {}
    for k in KINDS:
        model = design["resources"][k]
        synth = as_int((lab["csynth"] or {}).get({"dsp": "DSP", "bram18": "BRAM_18K", "uram": "URAM",
                                                         "lut": "LUT", "ff": "FF"}[k]))
        viv = (lab["vivado"] or {}).get(k)
        measured = viv if viv is not None else synth
        off = _off(measured, model)
        flag = ""
        if off is not None and abs(off) > TOLERANCE:
            flag = f"{100 * off:+.0f}% from the model"
        elif measured and not model:
            flag = "the model has none"
        res[k] = {"model": model, "csynth": synth, "vivado": viv, "measured": measured, "off": off, "flag": flag}
    engines = {}
    for label, row in loop_rows.items():
        e = engines.setdefault(row["engine"], {"loops": [], "flags": 0, "resources": dict.fromkeys(KINDS, 0),
                                               "modules": []})
        e["loops"].append(label)
        e["flags"] += bool(row["flag"])
    for module, r in lab["modules"].items():
        engine = next((e for prefix, e in ENGINE_OF_MODULE if module.startswith(prefix)), None)
        if engine in engines:
            engines[engine]["modules"].append(module)
            for k in KINDS:
                engines[engine]["resources"][k] += r.get(k) or 0
    latency = None
    if lab["cosim"]:
        cyc = as_int(lab["cosim"].get("LatencyMax"))
        off = _off(cyc, design["cosim_cycles"])
        latency = {"model": design["cosim_cycles"], "cosim_min": as_int(lab["cosim"].get("LatencyMin")),
                   "cosim_max": cyc, "status": lab["cosim"].get("Status"), "off": off,
                   "flag": f"{100 * off:+.0f}% from the model" if off is not None and abs(off) > TOLERANCE else ""}
    clock = {"target_mhz": design["clock_mhz"]}
    if lab["csynth"]:
        est = float(lab["csynth"]["EstimatedClockPeriod"])
        clock["csynth_estimated_mhz"] = 1000 / est
    if lab["timing"]:
        period = 1000 / design["clock_mhz"]
        clock.update(lab["timing"])
        clock["achieved_mhz"] = 1000 / (period - lab["timing"]["wns_ns"])
        clock["flag"] = "timing not met (WNS < 0)" if lab["timing"]["wns_ns"] < 0 else ""
    flags = (sum(bool(r["flag"]) for r in loop_rows.values()) + len(unknown)
             + sum(bool(r["flag"]) for r in res.values()) + bool(latency and latency["flag"])
             + bool(clock.get("flag")))
    return {"project": str(project), "top": design["top"], "part": design["part"], "loops": loop_rows,
            "unknown_loops": unknown, "outer_loops": outer, "engines": engines, "resources": res, "latency": latency, "clock": clock,
            "flags": flags, "found": {k: bool(lab[k]) for k in ("csynth", "cosim", "loops", "vivado", "timing")}}


def _fmt(v) -> str:
    return "-" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def markdown(cmp: dict) -> str:
    lines = [f"# Synthesis against the model: {cmp['top']} on {cmp['part']}", "",
             "Reports found: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in cmp["found"].items()),
             f"Flags: {cmp['flags']}", "", "## Loops (II: the template's target, Vitis' achieved)", "",
             "| loop | engine | target II | II | model depth | depth | instances | flag |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for name, r in cmp["loops"].items():
        lines.append(f"| {name} | {r['engine']} | {r['target_ii']} | {_fmt(r['ii'])} | {r['model_depth']} | "
                     f"{_fmt(r['depth'])} | {r['instances']} | {r['flag'] or ('not in the reports' if not r['instances'] else '')} |")
    for r in cmp["unknown_loops"]:
        lines.append(f"| {r['name']} ({r['module']}) | ? | - | {_fmt(r['ii'])} | - | {_fmt(r['depth'])} | 1 | {r['flag']} |")
    if cmp["outer_loops"]:
        lines += ["", "Loops around the pipelined ones (not pipelined, as written): " + ", ".join(
            f"{r['name']} ({r['module']})" for r in cmp["outer_loops"])]
    lines += ["", "## Engines (Vitis modules' resources)", "",
              "| engine | loops | flagged | modules | DSP | BRAM18 | LUT | FF |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, e in cmp["engines"].items():
        r = e["resources"]
        lines.append(f"| {name} | {len(e['loops'])} | {e['flags']} | {len(e['modules'])} | {r['dsp']:,} | "
                     f"{r['bram18']:,} | {r['lut']:,} | {r['ff']:,} |")
    lines += ["", "## Resources (measured: Vivado routed, else csynth)", "",
              "| resource | model | csynth | Vivado | off | flag |", "|---|---:|---:|---:|---:|---|"]
    for k, r in cmp["resources"].items():
        off = "-" if r["off"] is None else f"{100 * r['off']:+.0f}%"
        lines.append(f"| {k} | {_fmt(r['model'])} | {_fmt(r['csynth'])} | {_fmt(r['vivado'])} | {off} | {r['flag']} |")
    lat = cmp["latency"]
    lines += ["", "## Co-simulation latency", ""]
    if lat:
        off = "-" if lat["off"] is None else f"{100 * lat['off']:+.0f}%"
        lines.append(f"model {lat['model']:,} cycles; cosim {_fmt(lat['cosim_min'])}..{_fmt(lat['cosim_max'])} "
                     f"({lat['status']}); off {off} {lat['flag']}")
    else:
        lines.append("no co-simulation report")
    c = cmp["clock"]
    lines += ["", "## Clock", "", f"target {c['target_mhz']:g} MHz"
              + (f"; csynth estimate {c['csynth_estimated_mhz']:.1f} MHz" if "csynth_estimated_mhz" in c else "")
              + (f"; Vivado WNS {c['wns_ns']:+.3f} ns, achieved {c['achieved_mhz']:.1f} MHz {c['flag']}"
                 if "wns_ns" in c else "; no Vivado timing report")]
    return "\n".join(lines) + "\n"


def write_comparison(project) -> dict:
    cmp = compare(project)
    out = Path(project) / "reports"
    out.mkdir(exist_ok=True)
    (out / "synthesis_report.json").write_text(json.dumps(cmp, indent=1))
    (out / "synthesis_report.md").write_text(markdown(cmp))
    return cmp
