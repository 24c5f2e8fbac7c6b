"""The cycle model: for each program layer, the cycles the HLS templates' loop structure implies, in
closed form from the layer's shapes and the accelerator's parallelism (flow.hls.project.HwConfig).

It counts exactly what the C-simulation counts (hls_templates/vitflow/cycles.h: one cycle per pipelined
iteration at II = 1, a fill latency per pipelined loop entry, fixed latencies for the divider and the
square root); the latencies are read from that header, so the two cannot drift apart.
"""

import math
import re
from functools import lru_cache
from importlib import resources

from flow.errors import FlowError


@lru_cache(maxsize=1)
def latencies() -> dict:
    text = (resources.files("flow.hls_templates") / "vitflow" / "cycles.h").read_text()
    found = dict(re.findall(r"#define VITFLOW_(\w+) (\d+)", text))
    return {k.lower(): int(v) for k, v in found.items()}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def layer_cycles(layer, program, cfg) -> int:
    """Cycles of ``layer`` on an accelerator with parallelism ``cfg``."""
    lat = latencies()
    fill_copy, fill_mac = lat["fill_copy"], lat["fill_mac"]
    a, kind = layer.attrs, layer.kind
    if kind in ("conv", "linear"):
        if kind == "linear":
            cin, cout, groups, taps, pixels = a["in_features"], a["out_features"], 1, 1, 1
        else:
            cin, cout, groups = a["in_channels"], a["out_channels"], a["groups"]
            taps = a["kernel"][0] * a["kernel"][1]
            pixels = a["out_shape"][1] * a["out_shape"][2]
        ci_g, co_g = cin // groups, cout // groups
        load = 2 * fill_copy + cfg.pe_rows + _ceil(cfg.pe_rows * ci_g * taps, cfg.wbus)
        tile = load + fill_mac + pixels * _ceil(ci_g, cfg.pe_cols) * taps
        return groups * _ceil(co_g, cfg.pe_rows) * tile
    if kind == "dwconv":
        taps = a["kernel"][0] * a["kernel"][1]
        pixels = a["out_shape"][1] * a["out_shape"][2]
        load = 2 * fill_copy + cfg.dw_lanes + _ceil(cfg.dw_lanes * taps, cfg.wbus)
        return _ceil(a["in_channels"], cfg.dw_lanes) * (load + fill_mac + pixels * taps)
    if kind in ("hardswish", "relu", "add"):
        n = math.prod(program.tensors[layer.inputs[0]].shape)
        rows = a.get("rows", 1) if kind == "hardswish" else 1
        if rows > 1:  # per channel: the channel's table row into the row buffer, then its plane
            return fill_copy + rows * (fill_copy + a["entries"] + _ceil(n // rows, cfg.elt_lanes))
        return fill_copy + _ceil(n, cfg.elt_lanes)
    if kind == "concat":
        ns = [math.prod(program.tensors[t].shape) for t in layer.inputs]
        return sum(fill_copy + _ceil(n, cfg.elt_lanes) for n in ns)
    if kind == "gap":
        c, h, w = program.tensors[layer.inputs[0]].shape
        return c * (fill_copy + lat["div_latency"] + h * w)
    if kind == "layernorm":
        C = a["features"]
        return 2 * fill_copy + fill_mac + lat["isqrt_latency"] + 2 * C + _ceil(C, cfg.elt_lanes)
    if kind == "linear_attention":
        G, d, N = a["groups"], a["dim"], a["tokens"]
        steps = _ceil(d, cfg.att_rows)
        outputs = steps if (a.get("divisor", "exact") == "log2" or not cfg.att_divider) else d
        return G * (1 + fill_mac + d + d * d + N * (fill_mac + 1 + outputs) + 2 * N * steps)
    raise FlowError(f"cycle model: no model for layer kind '{kind}'")
