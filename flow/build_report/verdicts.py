"""The checks table: per stage what was checked, its figure and its verdict, judged again here from the
figures each stage recorded, against the criteria the stage itself enforces (their constants imported from
the checking modules, not copied)."""

import math
from dataclasses import dataclass

from .artifacts import Artifacts, absent_reason

PASS, FAIL, INFO, ABSENT = "PASS", "FAIL", "INFO", "ABSENT"


@dataclass(frozen=True)
class Check:
    stage: str
    what: str
    figure: str
    verdict: str


def check_rows(arts: Artifacts, cfg, model: dict | None = None) -> list:
    """One Check per stage the build's backend runs. ``model``: the float model's facts (params, macs,
    classes) when the caller has the model; the output folder does not record them."""
    rows = [_model(model), _quantize(arts, cfg), _export(arts, cfg), _lower(arts, cfg)]
    if cfg.backend == "hls4ml" or arts["hls4ml"] is not None:
        rows.append(_hls4ml(arts, cfg))
    if cfg.backend != "hls4ml" or arts["estimate"] is not None or arts["csim"] is not None:
        rows += [_estimate(arts, cfg), _csim(arts, cfg)]
    return rows


def overall(rows: list) -> str:
    """FAIL when any check failed, else PASS (INFO and ABSENT rows do not count either way)."""
    return FAIL if any(r.verdict == FAIL for r in rows) else PASS


def _absent(stage: str, what: str, key: str, arts: Artifacts, cfg) -> Check:
    return Check(stage, what, absent_reason(key, arts, cfg), ABSENT)


def _model(model: dict | None) -> Check:
    what = "the float model runs: output 1 × classes, every value finite"
    if not model:
        return Check("model", what, "not recorded in the output folder", INFO)
    return Check("model", what, f"{model['params'] / 1e6:.2f} M parameters, {model['macs'] / 1e9:.3f} GMACs, "
                                f"output 1 × {model['classes']}, finite", PASS)


def _quantize(arts: Artifacts, cfg) -> Check:
    what = "SQNR of every quantized tensor against the float model (reported; no pass threshold)"
    q = arts["quant"]
    if q is None:
        return _absent("quantize", what, "quant", arts, cfg)
    rows = q["tensors"]
    if not rows:
        return Check("quantize", what, "no quantized tensors", FAIL)
    worst = min(rows, key=lambda r: r["sqnr_db"])
    finite = sorted(r["sqnr_db"] for r in rows if math.isfinite(r["sqnr_db"]))
    median = f"; median {finite[len(finite) // 2]:.1f} dB" if finite else ""
    bad = [r for r in rows if math.isnan(r["sqnr_db"])]
    return Check("quantize", f"{what}, on {q['images']} images",
                 f"{len(rows)} tensors; lowest {worst['sqnr_db']:.1f} dB ({worst['tensor']}){median}",
                 FAIL if bad else INFO)


def _export(arts: Artifacts, cfg) -> Check:
    from flow.export.check import FREE_SCALE_MAX_LSB, FREE_SCALE_MIN_EQUAL, TOLERANCE_LSB

    e = arts["export"]
    if e is None:
        return _absent("export", "QONNX execution vs the Brevitas model", "export", arts, cfg)
    if e["scales"] == "power-of-two":
        ok = e["max_output_diff_lsb"] <= TOLERANCE_LSB and e["max_tensor_diff_lsb"] <= TOLERANCE_LSB
    else:
        ok = e["max_tensor_diff_lsb"] <= FREE_SCALE_MAX_LSB and e["min_tensor_equal_fraction"] >= FREE_SCALE_MIN_EQUAL
    return Check("export", f"QONNX execution vs the Brevitas model on {e['images']} images, {e['scales']} scales: "
                           f"{e['criterion']}",
                 f"{e['tensors_checked']} tensors: worst {e['max_tensor_diff_lsb']:.3g} LSB, "
                 f"{100 * e['min_tensor_equal_fraction']:.3f}% equal; output {e['max_output_diff_lsb']:.3g} LSB",
                 PASS if ok else FAIL)


def _lower(arts: Artifacts, cfg) -> Check:
    from flow.reference.compare import FREE_SCALE_MAX_LSB, FREE_SCALE_MIN_EQUAL

    r = arts["lower"]
    if r is None:
        return _absent("lower", "integer reference vs QONNX execution", "lower", arts, cfg)
    if r["criterion"].startswith("power-of-two"):
        ok = r["max_lsb"] == 0
    else:
        ok = r["max_lsb"] <= FREE_SCALE_MAX_LSB and r["min_equal_fraction"] >= FREE_SCALE_MIN_EQUAL
    top1 = f"; top-1 agrees on {r['top1_agree']}/{r['images']}" if not cfg.block and "top1_agree" in r else ""
    return Check("lower", f"integer reference vs QONNX on {r['images']} images: {r['criterion']}",
                 f"{r['tensors_exact']}/{r['tensors']} tensors identical, worst {r['max_lsb']} LSB, "
                 f"{100 * r['min_equal_fraction']:.3f}% equal{top1}", PASS if ok else FAIL)


def _estimate(arts: Artifacts, cfg) -> Check:
    est = arts["estimate"]
    if est is None:
        return _absent("estimate", "cycle and resource estimate", "estimate", arts, cfg)
    util, limits = est["utilisation"], est.get("limits", {})
    over = [k for k, u in util.items() if k in limits and u > limits[k] + 1e-9]
    within = ", ".join(f"{k.upper()} ≤ {100 * v:.0f}%" for k, v in limits.items())
    worst = max(util, key=lambda k: util[k] / limits.get(k, 1.0)) if util else None
    use = f"; {worst.upper()} {100 * util[worst]:.0f}% used" if worst else ""
    return Check("estimate", f"design-space exploration over {est['candidates']:,} designs within {within}",
                 f"{est['fps']:.1f} FPS at {est['clock_mhz']:g} MHz ({est['cycles']:,} cycles/frame, "
                 f"{est['gops']:.1f} GOPS){use}" + (f"; over the limit: {', '.join(over)}" if over else ""),
                 FAIL if over else PASS)


def counts_agree(csim: dict) -> tuple:
    """(entries whose counted iterations, fills, DDR beats and bursts equal the cycle model's, entries): one
    entry per layer, "io" (the input and output transfers) and "check" (the testbench's check pass)."""
    counted, model = csim.get("counts", {}), csim.get("model_counts", {})
    names = set(counted) | set(model)
    return sum(1 for n in names if counted.get(n) == model.get(n)), len(names)


def _csim(arts: Artifacts, cfg) -> Check:
    c = arts["csim"]
    what = "C-simulation vs the integer reference, II audit on; the cycle model vs the counted loops"
    if c is None:
        return _absent("csim", what, "csim", arts, cfg)
    same, n = counts_agree(c)
    ok = c["bit_exact"] and c["layers_exact"] == c["layers"] and same == n
    return Check("csim", f"{what}, on {c['images']} images",
                 f"{c['layers_exact']}/{c['layers']} layers bit-exact, audit-clean; the cycle model equals the "
                 f"counts of {same}/{n} entries (layers, io, the check pass)", PASS if ok else FAIL)


def _hls4ml(arts: Artifacts, cfg) -> Check:
    h = arts["hls4ml"]
    what = "hls4ml compile() and predict(), every layer traced, vs the integer reference"
    if h is None:
        return _absent("hls4ml", what, "hls4ml", arts, cfg)
    layers = h["layers"]
    ok = h["output_bit_exact"] and layers["bit_exact"]
    return Check("hls4ml", f"{what}, on {h['images']} images",
                 f"output and {layers['layers_exact']}/{layers['layers']} layers bit-exact; compile() "
                 f"{h['compile_seconds']:.1f} s, predict() {h['predict_seconds_per_image']:.3f} s/image",
                 PASS if ok else FAIL)
