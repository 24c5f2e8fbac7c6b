"""Performance estimate of a program on a part, and the design-space exploration that picks the
parallelism: every layer takes max(compute cycles, DDR cycles) (double buffering overlaps transfers with
compute), so the frame time is their sum; the search keeps the fastest design within the utilisation
limits (default 80% of DSP and BRAM, and 85% of LUTs and FFs: a design packed fuller than that rarely
routes at the target clock)."""

import itertools
import math
from dataclasses import replace

from flow.errors import FlowError
from flow.hls.project import HwConfig

from .cycles import layer_cycles
from .resources import estimate_resources
from .traffic import layer_traffic

DEFAULT_LIMITS = {"dsp": 0.8, "bram18": 0.8, "lut": 0.85, "ff": 0.85}
SPACE = {"pe_rows": [4, 8, 16, 32, 64], "pe_cols": [4, 8, 16, 32, 64], "dw_lanes": [4, 8, 16, 32, 64],
         "elt_lanes": [2, 4, 8, 16], "att_rows": [1, 4, 16]}


def fitted_config(program, acc_bits: int = 32, **par) -> HwConfig:
    """A HwConfig whose buffers are sized for ``program`` (weight rows, filter taps, head dimension), with
    the attention's divider only if some attention layer divides exactly."""
    rows = [math.prod(l.blobs["weight"].shape[1:]) for l in program.layers if l.kind in ("conv", "linear")]
    taps = [math.prod(l.attrs["kernel"]) for l in program.layers if l.kind == "dwconv"]
    dims = [l.attrs["dim"] for l in program.layers if l.kind == "linear_attention"]
    divides = any(l.attrs.get("divisor", "exact") == "exact" for l in program.layers if l.kind == "linear_attention")
    pow2 = lambda n: 1 << max(0, math.ceil(math.log2(max(n, 1))))  # noqa: E731
    d_max = pow2(max(dims, default=1))
    par["att_rows"] = min(par.get("att_rows", 1), d_max)
    return HwConfig(wbuf_depth=pow2(max(rows, default=1)), dw_taps=max(taps, default=1),
                    att_d_max=d_max, att_divider=int(divides), acc_bits=acc_bits, **par)


def estimate(program, cfg: HwConfig, part, clock_mhz: float) -> dict:
    bytes_per_cycle = part.ddr_bandwidth_gbps * 1e9 / (clock_mhz * 1e6)
    rows, total, macs = [], 0, 0
    for layer in program.layers:
        compute = layer_cycles(layer, program, cfg)
        t = layer_traffic(layer, program, cfg)
        memory = math.ceil(t["bytes"] / bytes_per_cycle)
        cycles = max(compute, memory)
        rows.append({"layer": layer.name, "kind": layer.kind, "macs": t["macs"], "bytes": t["bytes"],
                     "compute_cycles": compute, "memory_cycles": memory, "cycles": cycles,
                     "bound": "memory" if memory > compute else "compute"})
        total += cycles
        macs += t["macs"]
    res = estimate_resources(cfg)
    fps = clock_mhz * 1e6 / total
    gops = 2 * macs * fps / 1e9
    util = {k: res[k] / part.resources[k] for k in ("dsp", "bram18", "lut", "ff") if part.resources[k]}
    return {"part": part.name, "clock_mhz": clock_mhz, "config": cfg.__dict__, "layers": rows, "cycles": total,
            "fps": fps, "gops": gops, "gops_per_dsp": gops / max(res["dsp"], 1), "macs": macs,
            "resources": res, "utilisation": util,
            "peak_gops": 2 * (cfg.pe_rows * cfg.pe_cols) * clock_mhz * 1e6 / 1e9,
            "ddr_gbps": part.ddr_bandwidth_gbps,
            "compute_bound_layers": sum(r["bound"] == "compute" for r in rows),
            "memory_bound_layers": sum(r["bound"] == "memory" for r in rows)}


def fits(res: dict, part, limits: dict) -> str | None:
    """The first resource over its limit, or None."""
    for key, limit in limits.items():
        if res[key] > limit * part.resources[key]:
            return key
    return None


def explore(program, part, clock_mhz: float, limits: dict = DEFAULT_LIMITS, acc_bits: int = 32) -> dict:
    """The fastest design within ``limits``; a FlowError naming the overflowing resource if none fits."""
    best, smallest = None, None
    for values in itertools.product(*SPACE.values()):
        cfg = fitted_config(program, acc_bits, **dict(zip(SPACE, values)))
        res = estimate_resources(cfg)
        over = fits(res, part, limits)
        if smallest is None or res["dsp"] < smallest[1]["dsp"]:
            smallest = (cfg, res, over)
        if over:
            continue
        est = estimate(program, cfg, part, clock_mhz)
        if best is None or (est["fps"], -res["dsp"]) > (best["fps"], -best["resources"]["dsp"]):
            best = est
    if best is None:
        cfg, res, over = smallest
        raise FlowError(f"no design fits {part.name}: the smallest ({cfg.pe_rows}x{cfg.pe_cols} PE array, "
                        f"{cfg.dw_lanes} depthwise lanes) needs {res[over]} {over.upper()} of "
                        f"{part.resources[over]} ({100 * limits[over]:.0f}% limit)")
    best["candidates"] = math.prod(len(v) for v in SPACE.values())
    best["limits"] = limits
    return best


def with_config(est: dict) -> HwConfig:
    return replace(HwConfig(), **est["config"])
