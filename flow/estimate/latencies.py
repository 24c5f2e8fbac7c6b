"""The latencies the cycle model charges, read from the templates' own header
(hls_templates/vitflow/cycles.h, where each is documented with its source), so the two cannot drift."""

import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def latencies() -> dict:
    text = (resources.files("flow.hls_templates") / "vitflow" / "cycles.h").read_text()
    found = dict(re.findall(r"#define VITFLOW_(\w+) (\d+)", text))
    return {k.lower(): int(v) for k, v in found.items()}
