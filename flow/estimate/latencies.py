"""The latencies the cycle model charges, read from the templates themselves, so the two cannot drift:
hls_templates/vitflow/cycles.h's documented constants (pipeline depths, the burst latency, the line
buffer's distance), and each pipelined loop's own declaration in the templates, by its label:
`VITFLOW_LOOP(name, VITFLOW_DEPTH_X)` (its pipeline depth) and `VITFLOW_PIPELINE(name, ii)` (its target II).

A lab run measures both per loop (flow/synth/reports.py reads them from Vitis' csynth reports);
``latencies(calibration)`` takes them in place of the templates' figures (flow estimate --calibration).
"""

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from flow.errors import FlowError


def _templates():
    return resources.files("flow.hls_templates") / "vitflow"


@lru_cache(maxsize=4)
def _constants(folder: str | None = None) -> dict:
    text = ((Path(folder) if folder else _templates()) / "cycles.h").read_text()
    found = dict(re.findall(r"#define VITFLOW_(\w+) (\d+)", text))
    return {k.lower(): int(v) for k, v in found.items()}


@lru_cache(maxsize=4)
def template_loops(folder: str | None = None) -> dict:
    """Every pipelined loop of the templates (or of the copy in ``folder``, a project's firmware/vitflow):
    label -> {"depth", "ii", "template"}."""
    consts = _constants(folder)
    loops = {}
    for path in sorted((Path(folder) if folder else _templates()).iterdir(), key=lambda p: p.name):
        if not path.name.endswith(".h") or path.name == "audit.h":
            continue
        text = path.read_text()
        iis = dict(re.findall(r"VITFLOW_PIPELINE\((\w+), (\d+)\)", text))
        for name, depth in re.findall(r"VITFLOW_LOOP\((\w+), VITFLOW_(\w+)\)", text):
            loops[name] = {"depth": consts[depth.lower()], "ii": int(iis[name]), "template": path.name}
    return loops


@lru_cache(maxsize=1)
def _template_latencies() -> dict:
    return {**_constants(), "loops": {name: (l["depth"], l["ii"]) for name, l in template_loops().items()}}


def latencies(calibration: dict | None = None) -> dict:
    """cycles.h's constants, and "loops": label -> (pipeline depth, II); with ``calibration`` (a lab run's
    measured figures, flow/estimate/calibration.py), each measured loop's depth and II in place of the
    templates'. Without one, the same (cached, not to be modified) dict every call: the cycle model asks
    for it once per operation."""
    if not calibration:
        return _template_latencies()
    base = _template_latencies()
    lat = {**base, "loops": dict(base["loops"])}
    for name, m in calibration.get("loops", {}).items():
        if name not in lat["loops"]:
            raise FlowError(f"calibration names loop '{name}', which no template has")
        depth, ii = lat["loops"][name]
        lat["loops"][name] = (int(m.get("depth") or depth), int(m.get("ii") or ii))
    return lat
