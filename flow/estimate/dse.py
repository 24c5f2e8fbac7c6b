"""Performance estimate of a program on a part, and the design-space exploration that picks the
parallelism. For each candidate (activation word L, PE array, depthwise lanes and multipliers per lane,
attention rows and dividers, activations fused into the convolution engines or not, residual adds as the PE
array's epilogue or not) the buffers are fitted to
the program, the activation memory gets what the part's block RAM (or UltraRAM) has left within the
limits, the memory plan places the activations in it (moving to DDR what does not fit), and the cycle
model times the plan's operations. The search keeps the fastest design within the utilisation limits
(default 80% of every kind: DSP, BRAM, URAM, LUTs and FFs; a design packed fuller than that rarely
routes at the target clock)."""

import itertools
import math
from dataclasses import asdict, replace

from flow.errors import FlowError
from flow.hls.concat_in_place import concats_in_place, output_elements, place_concats
from flow.hls.epilogues import MAX_ENTRIES, fuse_epilogues, fused_activations
from flow.hls.memory_plan import plan_memory
from flow.hls.residual_epilogues import fuse_residual_adds, residual_adds
from flow.hls.project import HwConfig

from .fit import UNBOUNDED, fitted_config, transformer_fit
from .calibration import calibrated_resources
from .latencies import latencies
from .resources import KINDS, URAM_SHAPE, memory
from .timing import program_time

DEFAULT_LIMITS = {"dsp": 0.8, "bram18": 0.8, "uram": 0.8, "lut": 0.8, "ff": 0.8}
FAST_CLOCK_FILL = 0.7  # above the part's default clock, LUTs and FFs at most this full: routing gets harder
SPACE = {"lanes": [8, 16, 32, 64], "att_rows": [1, 2, 4, 8, 16], "att_dividers": [1, 2, 4, 8, 16],
         "mm_rows": [2, 4, 8, 16], "tln_div": [2, 4, 8, 16, 32]}


def layer_macs(layer, program) -> int:
    a, kind = layer.attrs, layer.kind
    if kind in ("conv", "dwconv"):
        w = layer.blobs["weight"]
        return int(w.shape[0] * math.prod(w.shape[1:]) * a["out_shape"][1] * a["out_shape"][2])
    if kind == "linear":  # on a vector, or on each of a DeiT's tokens
        return int(layer.blobs["weight"].size) * int(a.get("tokens") or 1)
    if kind == "linear_attention":
        return 2 * a["groups"] * a["tokens"] * a["dim"] * (a["dim"] + 1)  # k^T [v|1], then q [kv|ksum]
    if kind == "layernorm":  # over a vector, or over each of a DeiT's tokens
        return math.prod(program.tensors[layer.inputs[0]].shape)
    if kind == "matmul":  # per output, the inner dimension's products
        return math.prod(program.tensors[layer.outputs[0]].shape) * a["inner"]
    return 0


def estimate(program, cfg: HwConfig, part, clock_mhz: float, plan=None, calibration: dict | None = None) -> dict:
    """The cycle model and resources of ``program`` on ``cfg`` (its plan recomputed unless given); with
    ``calibration`` (flow/estimate/calibration.py), a lab run's measured loop depths, IIs and resource
    ratios in place of the model's."""
    plan = plan or plan_memory(program, cfg.lanes, cfg.act_words, cfg.beat_bytes, cfg.tile_words)
    timing = program_time(plan, program, cfg, part, clock_mhz, latencies(calibration))
    rows = []
    for i, layer in enumerate(program.layers):
        t = timing["layers"][layer.name]
        epilogue = layer.attrs.get("epilogue", {}).get("kind", "")  # an activation fused into the layer
        rows.append({"layer": layer.name, "kind": layer.kind, "epilogue": epilogue, "macs": layer_macs(layer, program),
                     **t})
    io = timing["layers"].get("io")
    total = timing["cycles"]
    macs = sum(r["macs"] for r in rows)
    res = calibrated_resources(cfg, calibration)
    fps = clock_mhz * 1e6 / total
    gops = 2 * macs * fps / 1e9
    util = {k: res[k] / part.resources[k] for k in KINDS if part.resources[k]}
    share = {k: sum(r[k] for r in rows) + (io[k] if io else 0) for k in ("compute", "ddr", "fill")}
    return {"part": part.name, "clock_mhz": clock_mhz, "config": asdict(cfg), "layers": rows, "io": io,
            "cycles": total, "fps": fps, "gops": gops, "gops_per_dsp": gops / max(res["dsp"], 1), "macs": macs,
            "resources": res, "utilisation": util, "cycle_share": {k: v / total for k, v in share.items()},
            "peak_gops": 2 * cfg.pe_rows * cfg.pe_cols * clock_mhz * 1e6 / 1e9, "ddr_gbps": part.ddr_bandwidth_gbps,
            "ddr_beats": sum(r["beats"] for r in rows) + (io["beats"] if io else 0),
            "activations": {"words": plan.act_words, "bytes": plan.act_words * cfg.lanes,
                            "memory": "uram" if cfg.act_uram else "bram",
                            "bram18": res["activation_bram18"], "uram": res["activation_uram"],
                            "in_ddr": list(plan.spilled), "stripes": dict(plan.stripes)},
            "bounds": {b: sum(r["bound"] == b for r in rows) for b in ("compute", "ddr", "fill")}}


def fits(res: dict, part, limits: dict) -> str | None:
    """The first resource over its limit, or None."""
    for key, limit in limits.items():
        if res[key] > limit * part.resources[key]:
            return key
    return None


def activation_capacity(cfg: HwConfig, part, limits: dict, need: int, calibration: dict | None = None) -> tuple:
    """(words, in UltraRAM) for the activation memory: what the limits leave beside cfg's other buffers;
    UltraRAM when the part has it and it holds more (or all of ``need``)."""
    width = 8 * cfg.lanes
    budget = (limits["bram18"] * part.resources["bram18"]
              - calibrated_resources(replace(cfg, act_words=0), calibration)["bram18"])
    lo, hi = 0, 1 << 24
    while lo < hi:  # the most words whose memory fits the BRAM left
        mid = (lo + hi + 1) // 2
        if memory(width, mid)["bram18"] <= budget:
            lo = mid
        else:
            hi = mid - 1
    bram_words = lo
    uram_words = int(limits["uram"] * part.resources["uram"]) // math.ceil(width / URAM_SHAPE[0]) * URAM_SHAPE[1]
    if uram_words and (uram_words >= need or uram_words > bram_words):
        return uram_words, 1
    return bram_words, 0


def _cosim_plan(cfg):
    """The memory plan of the co-simulation program the design with ``cfg`` carries (flow/hls/cosim.py)."""
    from flow.hls.cosim import cosim_program

    return plan_memory(cosim_program(cfg.att_dividers, cfg.acc_bits, bool(cfg.tf), bool(cfg.dw_engine),
                                     bool(cfg.att_engine))[0], cfg.lanes, UNBOUNDED,
                       cfg.beat_bytes, cfg.tile_words)


# the configuration fields each operation's time depends on (the others time the same on any)
KNOBS = {"conv": ("pe_rows", "pe_cols"), "linear": ("pe_rows", "pe_cols"), "dwconv": ("dw_lanes", "dw_taps", "dw_pairs"),
         "linear_attention": ("att_rows", "att_dividers"), "matmul": ("mm_rows",), "token_layernorm": ("tln_div",)}


def _word_space(program, part, clock_mhz, limits, acc_bits, lanes, exact, calibration=None) -> tuple:
    """Every fitting design with words of ``lanes`` bytes: [(fps, -dsp, cfg)], and the smallest design's
    (resources, resource over its limit) for the error when none fits. The memory plan is the word's;
    an operation's time depends on the one unit it runs on, so the frame's time is a sum of per-unit
    tables over their own knobs."""
    from .timing import ddr_cycles_per_beat, op_time

    div_space = SPACE["att_dividers"] if exact else [0]
    base = fitted_config(program, acc_bits, lanes=lanes, att_rows=max(SPACE["att_rows"]), att_dividers=max(div_space),
                         beat_bytes=part.beat_bytes)
    # the most room the smallest buffers leave (each design's own buffers are checked with its resources):
    # the fewest PE rows (the fewest, deepest weight banks), one attention row, the fewest dividers
    units = [v for v in (lanes // 4, lanes // 2, lanes) if v >= 1]
    smallest = replace(base, pe_rows=min(units), att_rows=1, att_dividers=min(div_space))
    capacity, in_uram = activation_capacity(smallest, part, limits, base.act_words, calibration)
    try:  # a plan per tile width of the PE array (its conv streams differ, its activations do not)
        plans = {tw: plan_memory(program, lanes, min(capacity, base.act_words), base.beat_bytes, tw) for tw in (1, 2)}
    except FlowError:
        return [], (calibrated_resources(base, calibration), "uram" if in_uram else "bram18"), None
    plan = plans[1]
    cosim_plan = _cosim_plan(base)
    base = replace(base, act_words=max(plan.act_words, cosim_plan.act_words), act_uram=in_uram)
    # the depthwise multipliers per lane: the program's kernels' m x m (each such layer in one fold)
    sides = {max(l.attrs["kernel"]) for l in program.layers if l.kind == "dwconv"}
    choices = {"pe_rows": units + [2 * lanes], "pe_cols": units, "dw_lanes": units if base.dw_engine else [base.dw_lanes],
               "dw_taps": sorted({m * m for m in sides}) if base.dw_engine else [base.dw_taps],
               # tile pairs (dwconv.h PAIRS), with the two-word PE tiles only (the designs below skip the others)
               "dw_pairs": [0, 1] if base.dw_engine else [0],
               "att_rows": [r for r in SPACE["att_rows"] if r <= base.att_rows] if base.att_engine else [base.att_rows],
               "att_dividers": [v for v in div_space if v <= base.att_dividers] if base.att_engine
               else [base.att_dividers],  # an engine not built has no parallelism to choose
               # a softmax transformer's products and token LayerNorm (one value each when it has none)
               "mm_rows": [r for r in SPACE["mm_rows"] if r <= lanes] if base.tf else [base.mm_rows],
               "tln_div": [v for v in SPACE["tln_div"] if v <= lanes] if base.tf else [base.tln_div]}

    fitted = {}  # (mm_rows, tln_div) -> the transformer engines' buffers, fitted once per pair

    def design(par):  # the transformer engines' buffers follow their parallelism
        cfg = replace(base, **par)
        if not base.tf:
            return cfg
        key = (cfg.mm_rows, cfg.tln_div)
        if key not in fitted:
            fitted[key] = transformer_fit(plan.ops + cosim_plan.ops, lanes, *key)
        return replace(cfg, **fitted[key])
    cpb = ddr_cycles_per_beat(part, clock_mhz, base.beat_bytes)
    lat = latencies(calibration)
    tables = {}  # knob names -> {values: cycles}
    for ops in zip(plans[1].ops, plans[2].ops):
        names = KNOBS.get(ops[0].kind, ())
        table = tables.setdefault(names, {})
        for values in itertools.product(*(choices[n] for n in names)):
            cfg = design(dict(zip(names, values)))
            tw = 2 if cfg.dw_pairs else cfg.tile_words  # a depthwise layer's pairs: the two-bank plan's fields
            table[values] = table.get(values, 0) + op_time(ops[tw - 1], plans[tw], cfg, cpb, lat)["cycles"]
    designs, smallest = [], None
    names = list(choices)
    for values in itertools.product(*choices.values()):
        par = dict(zip(names, values))
        cfg = design(par)
        if cfg.dw_pairs and cfg.tile_words != 2:  # a pair's words are one read of each of the two banks
            continue
        res = calibrated_resources(cfg, calibration)
        over = fits(res, part, limits)
        if smallest is None or res["dsp"] < smallest[0]["dsp"]:
            smallest = (res, over)
        if over:
            continue
        cycles = sum(t[tuple(par[n] for n in knobs)] for knobs, t in tables.items())
        designs.append((clock_mhz * 1e6 / cycles, -res["dsp"], cfg))
    return designs, smallest, plans


def explore(program, part, clock_mhz: float | None = None, limits: dict = DEFAULT_LIMITS, acc_bits: int = 32,
            calibration: dict | None = None) -> dict:
    """The fastest design within ``limits``, over the parallelism, over fusion (``program`` with its
    activations fused into the engines that produce their inputs, flow/hls/epilogues.py: the design has
    the engines' tables, EPI_ENTRIES > 0; or as it is), over its residual adds as the PE array's epilogue
    (flow/hls/residual_epilogues.py: RES = 1) or not, and over the clock: ``clock_mhz``, or each clock the
    part's speed grade allows (constraints/parts: clocks_mhz). The resource model does not depend on the
    clock, but a clock above the part's default keeps the logic emptier (clock_limits), so a faster clock
    may run a smaller design; it also gains less than its ratio where DDR bounds a layer (a beat takes more
    cycles). ``calibration``: a lab run's measured figures in place of the model's (estimate()). A FlowError
    names the overflowing resource if no design fits."""
    clocks = [clock_mhz] if clock_mhz else list(part.clocks_mhz or [part.default_clock_mhz])
    best, error = None, None
    for clock in clocks:
        try:
            est = _explore_at(program, part, clock, clock_limits(limits, part, clock), acc_bits, calibration)
        except FlowError as exc:  # nothing fits at this clock's limits; a slower clock may still
            error = error or exc
            continue
        if best is None or est["fps"] > best["fps"]:
            best = est
    if best is None:
        raise error
    best["clocks"] = clocks
    return best


def clock_limits(limits: dict, part, clock_mhz: float) -> dict:
    """The utilisation limits at a clock: above the part's default clock, the logic (LUTs, FFs) at most
    FAST_CLOCK_FILL full, a rule of thumb for designs that must still route at the faster clock."""
    if clock_mhz <= part.default_clock_mhz:
        return limits
    return {**limits, **{k: min(limits[k], FAST_CLOCK_FILL) for k in ("lut", "ff")}}


def program_variants(program) -> list:
    """The programs the search weighs (each then with its residual adds fused or not), as ladders: for the
    activations as the engines' epilogues and not, the program with its concatenations done in place where
    they can be (with the epilogue tables, also those that rescale an input: flow/hls/concat_in_place.py),
    then with only the smaller ones in place, down to none. A concatenation in place pins its three tensors
    on chip: where that sends other tensors to DDR (or nothing fits), the next rung may be faster."""
    fused = fuse_epilogues(program)
    sizes = sorted({output_elements(program, l) for l in program.layers if l.kind == "concat"})
    ladders = []
    for prog, entries in ([(fused, MAX_ENTRIES)] if fused is not program else []) + [(program, 0)]:
        rungs = [place_concats(prog, entries, s) for s in reversed(sizes)] + [prog]
        ladders.append([r for k, r in enumerate(rungs)
                        if k == 0 or concats_in_place(r) < concats_in_place(rungs[k - 1])])
    return ladders


def _explore_at(program, part, clock_mhz: float, limits: dict, acc_bits: int, calibration: dict | None) -> dict:
    """explore at one clock."""
    exact = any(l.attrs.get("divisor", "exact") == "exact" for l in program.layers if l.kind == "linear_attention")
    best, best_plan, best_prog, smallest, tried, layout_error = None, None, None, None, 0, None
    for lanes, ladder in itertools.product(SPACE["lanes"], program_variants(program)):
        if lanes % part.beat_bytes:
            continue
        for unfused in ladder:  # fewer concatenations in place while some tensor goes to DDR (or none fits)
            try:  # the residual adds as the PE array's epilogue, where the word lets them fuse, or not
                res = fuse_residual_adds(unfused, lanes)
            except FlowError as exc:  # this word width cannot lay the program out (a DeiT's heads of d channels
                layout_error = layout_error or exc  # must be whole words of the merged tokens)
                break
            tight = False
            for prog in ([res] if res is not unfused else []) + [unfused]:
                try:
                    designs, small, plans = _word_space(prog, part, clock_mhz, limits, acc_bits, lanes, exact,
                                                        calibration)
                except FlowError as exc:
                    layout_error = layout_error or exc
                    continue
                tight = tight or plans is None or bool(plans[1].spilled)
                tried += len(designs)
                if small and (smallest is None or small[0]["dsp"] < smallest[1][0]["dsp"]):
                    smallest = (lanes, small)
                for d in designs:
                    if best is None or d[:2] > best[:2]:
                        best, best_plan, best_prog = d, plans[d[2].tile_words], prog
            if not tight:
                break
    if best is None and smallest is None:
        raise layout_error
    if best is None:
        lanes, (res, over) = smallest
        over = over or "bram18"
        raise FlowError(f"no design fits {part.name}: the smallest (L={lanes}, a {max(lanes // 4, 1)}x"
                        f"{max(lanes // 4, 1)} PE array) needs {res[over]} {over.upper()} of {part.resources[over]} "
                        f"({100 * limits[over]:.0f}% limit)")
    est = estimate(best_prog, best[2], part, clock_mhz, best_plan, calibration)
    est["candidates"] = tried
    est["limits"] = limits
    est["fused_epilogues"] = fused_activations(best_prog)
    est["fused_residual_adds"] = residual_adds(best_prog)
    est["concats_in_place"] = concats_in_place(best_prog)
    return est


def with_config(est: dict) -> HwConfig:
    return HwConfig(**est["config"])
