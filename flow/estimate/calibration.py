"""Calibration of the estimate by a lab run: `flow report` (flow/synth/compare.py) writes what Vitis and
Vivado measured beside what the model said (synthesis_report.json); `flow estimate --calibration FILE`
takes it back:
  - each loop's measured pipeline depth and achieved II replace the templates' declared ones in the
    cycle model (flow/estimate/latencies.py), so a loop that synthesized at II = 2 costs twice its
    iterations everywhere it runs;
  - each resource kind's measured / modeled ratio scales the resource model (Vivado's figure where the run
    reached it, else the csynth estimate), so the design-space search chooses within the measured limits.
"""

import json
import math
from pathlib import Path

from flow.errors import FlowError

from .resources import KINDS, estimate_resources


def load_calibration(path) -> dict:
    """{"loops": {label: {"depth", "ii"}}, "resources": {kind: factor}, "source"} from a
    synthesis_report.json; a one-line FlowError when it is not one."""
    path = Path(path)
    try:
        report = json.loads(path.read_text())
    except FileNotFoundError:
        raise FlowError(f"calibration file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FlowError(f"calibration file '{path}' is not JSON ({type(exc).__name__})") from None
    if not isinstance(report, dict) or not isinstance(report.get("loops"), dict) \
            or not isinstance(report.get("resources"), dict):
        raise FlowError(f"calibration file '{path}' is not a synthesis_report.json from `flow report` "
                        f"(no 'loops' and 'resources')")
    loops = {}
    for name, row in report["loops"].items():
        m = {k: row.get(k) for k in ("depth", "ii")}
        for k, v in m.items():
            if v is not None and (not isinstance(v, int) or v < 1):
                raise FlowError(f"calibration file '{path}': loop '{name}' has {k} {v!r}, not a positive integer")
        if m["depth"] or m["ii"]:
            loops[name] = m
    factors = {}
    for kind, row in report["resources"].items():
        if kind not in KINDS:
            raise FlowError(f"calibration file '{path}': unknown resource '{kind}' (one of {', '.join(KINDS)})")
        measured, model = row.get("measured"), row.get("model")
        if measured is None or not model:
            continue
        if not isinstance(measured, (int, float)) or measured < 0:
            raise FlowError(f"calibration file '{path}': resource '{kind}' measured {measured!r}")
        factors[kind] = measured / model
    return {"loops": loops, "resources": factors, "source": str(path)}


def calibrated_resources(cfg, calibration: dict | None = None) -> dict:
    """estimate_resources(cfg), each kind's total scaled by the calibration's measured / modeled ratio."""
    res = estimate_resources(cfg)
    for kind, factor in (calibration or {}).get("resources", {}).items():
        res[kind] = math.ceil(res[kind] * factor)
    return res
