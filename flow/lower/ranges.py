"""Static range analysis: the worst-case value of every accumulator in the program, from the input
code ranges and the integer weights, recorded per layer and checked against the configured widths.

- MAC accumulators (conv, linear, gap sums, the attention's four matrix products) must fit
  ``acc_bits`` (two's complement); a layer that could overflow is a hard error naming it.
- Requantization products (accumulator x multiplier, before the shift; for add, a m_a + b m_b) and the LayerNorm unit's wide
  intermediates (sum of squares, numerator) must fit 64 bits: the reference computes in int64 and the
  hardware sizes those datapaths from the recorded widths.
- ``float32_exact``: |acc| < 2^24, i.e. the float32 graph computes this accumulator exactly, which is
  what makes power-of-two-scale models bit-exact against QONNX execution. Informational: worst cases
  are rarely reached.
"""

import math

import numpy as np

from flow.errors import FlowError

from .program import Program

WIDE_BITS = 64
FLOAT32_EXACT = 1 << 24


def signed_bits(lo: int, hi: int) -> int:
    """Two's complement width holding every integer in [lo, hi]."""
    return max(int(hi).bit_length(), int(-lo - 1).bit_length() if lo < 0 else 0) + 1


def _entry(lo: int, hi: int) -> dict:
    return {"min": int(lo), "max": int(hi), "bits": signed_bits(int(lo), int(hi))}


def _dot_bounds(w: np.ndarray, lo: int, hi: int) -> tuple:
    """Per row of w (rows x k): bounds of sum(w * x) with every x in [lo, hi] (a zero pad is inside)."""
    w = w.reshape(w.shape[0], -1).astype(object)
    top = np.maximum(w * hi, w * lo).sum(axis=1)
    bottom = np.minimum(w * hi, w * lo).sum(axis=1)
    return bottom, top


def _product(acc: dict, mult) -> dict:
    m = int(np.abs(np.asarray(mult, dtype=np.int64)).max())
    return _entry(acc["min"] * m, acc["max"] * m)


def _weighted_sum(ranges, mults) -> dict:
    """Bounds of sum_i x_i m_i with each x_i in its range (lo, hi)."""
    terms = [sorted((lo * int(m), hi * int(m))) for (lo, hi), m in zip(ranges, mults)]
    return _entry(sum(t[0] for t in terms), sum(t[1] for t in terms))


def _layer_ranges(layer, tensors) -> dict:
    ins = [tensors[t].range for t in layer.inputs]
    b = layer.blobs
    kind = layer.kind
    r = {}
    if kind in ("conv", "dwconv", "linear"):
        lo, hi = ins[0]
        bottom, top = _dot_bounds(b["weight"].astype(np.int64), lo, hi)
        bias = b["bias"].astype(np.int64).astype(object)
        r["acc"] = _entry(min(bottom + bias), max(top + bias))
        r["product"] = _product(r["acc"], b["mult"])
    elif kind == "add":
        r["product"] = _weighted_sum(ins, b["mult"].astype(np.int64))  # a m_a + b m_b
    elif kind in ("relu", "concat"):
        lo, hi = min(i[0] for i in ins), max(i[1] for i in ins)
        r["product"] = _product(_entry(min(lo, 0), hi), b["mult"])
    elif kind == "gap":
        lo, hi = ins[0]
        n = layer.attrs["divisor"]
        r["acc"] = _entry(n * lo, n * hi)
        r["product"] = _product(r["acc"], b["mult"])
    elif kind == "layernorm":
        lo, hi = ins[0]
        if "in_shift" in b:
            top = int(b["in_shift"].max())
            lo, hi = min(lo, lo << top), max(hi, hi << top)
        C = layer.attrs["features"]
        d = (hi - lo) * C
        v = C * d * d
        sigma = max(math.isqrt(v), 1)
        a, bb = int(np.abs(b["a"].astype(np.int64)).max()), int(np.abs(b["b"].astype(np.int64)).max())
        k = layer.attrs["k"]
        r["sum"] = _entry(C * lo, C * hi)
        r["variance"] = _entry(0, v)
        num = (d * a + sigma * bb) << max(0, -k)
        r["numerator"] = _entry(-num, num)
        r["divisor"] = _entry(1, sigma << max(0, k))
    elif kind == "linear_attention":
        a = layer.attrs
        qr = {role: a["quant"][role]["range"] for role in a["quant"]}
        lo, hi = ins[0]
        N, d = a["tokens"], a["dim"]
        peak = lambda rng: max(abs(rng[0]), abs(rng[1]))  # noqa: E731

        # a sum of n products x y, x and y in their ranges (the tables' codes may be signed: every corner)
        def sums(n, xr, yr):
            corners = [x * y for x in (min(xr[0], 0), max(xr[1], 0)) for y in (min(yr[0], 0), max(yr[1], 0))]
            return _entry(n * min(corners), n * max(corners))
        r["kv_acc"] = sums(N, qr["k"], (lo, hi))
        r["ksum_acc"] = sums(N, qr["k"], (1, 1))
        r["num_acc"] = sums(d, qr["q"], qr["kv"])
        r["den_acc"] = sums(d, qr["q"], qr["ksum"])
        for role in ("q", "k", "kv", "ksum", "num", "den"):
            src = {"q": (min(lo, 0), hi), "k": (min(lo, 0), hi)}.get(role)
            acc = _entry(*src) if src else r[f"{role}_acc"]
            r[f"{role}_product"] = _product(acc, b[f"{role}_mult"])
        m = int(b["att_mult"][0]) << max(0, -int(b["att_shift"][0]))
        r["division_numerator"] = _entry(-2 * peak(qr["num"]) * m, 2 * peak(qr["num"]) * m)
        if a.get("divisor", "exact") == "exact":  # the log2 divisor shifts instead (exponents >= 0)
            r["division_divisor"] = _entry(1, (2 * qr["den"][1] + 1) << max(0, int(b["att_shift"][0])))
    elif kind in ("hardswish", "gelu", "requant"):
        pass  # a table lookup: no arithmetic
    elif kind == "matmul":
        (alo, ahi), (blo, bhi) = ins
        corners = [alo * blo, alo * bhi, ahi * blo, ahi * bhi]
        n = layer.attrs["inner"]
        r["acc"] = _entry(n * min(corners), n * max(corners))
        r["product"] = _product(r["acc"], b["mult"])
    elif kind == "softmax":
        e_max = int(b["table"].astype(np.int64).max())
        total = layer.attrs["row_length"] * e_max
        recip = (1 << layer.attrs["recip_bits"]) // max(e_max, 1)  # S >= the row max's entry
        r["row_sum"] = _entry(0, total)
        r["reciprocal"] = _entry(0, recip)
        r["product"] = _entry(0, e_max * recip + (1 << (layer.attrs["shift"] - 1)))
    elif kind == "add_const":  # the tokens (and the zero rows before them) and the constant
        c = b["const"].astype(np.int64)
        r["product"] = _weighted_sum([(min(ins[0][0], 0), ins[0][1]), (int(c.min()), int(c.max()))],
                                     b["mult"].astype(np.int64))
    else:
        raise FlowError(f"range analysis: unknown layer kind {kind}")
    return r


MAC_KEYS = ("acc", "kv_acc", "ksum_acc", "num_acc", "den_acc")


def analyse_ranges(program: Program, acc_bits: int) -> dict:
    """Fill ``layer.ranges`` for every layer; raise if an accumulator could overflow its width."""
    worst = {"acc_bits": 0, "wide_bits": 0, "not_float32_exact": []}
    for layer in program.layers:
        layer.ranges = _layer_ranges(layer, program.tensors)
        for key, e in layer.ranges.items():
            if key in MAC_KEYS:
                e["float32_exact"] = max(abs(e["min"]), abs(e["max"])) < FLOAT32_EXACT
                if not e["float32_exact"]:
                    worst["not_float32_exact"].append(f"{layer.name}.{key}")
                worst["acc_bits"] = max(worst["acc_bits"], e["bits"])
                if e["bits"] > acc_bits:
                    raise FlowError(f"accumulator '{key}' of layer {layer.name} ({layer.kind}) needs {e['bits']} bits "
                                    f"for its worst-case range [{e['min']}, {e['max']}]; the configured accumulator "
                                    f"width is {acc_bits} bits")
            else:
                worst["wide_bits"] = max(worst["wide_bits"], e["bits"])
                if e["bits"] > WIDE_BITS:
                    raise FlowError(f"'{key}' of layer {layer.name} ({layer.kind}) needs {e['bits']} bits, "
                                    f"more than the {WIDE_BITS}-bit datapath")
    program.meta["ranges"] = {"acc_bits_needed": worst["acc_bits"], "acc_bits_configured": acc_bits,
                              "wide_bits_needed": worst["wide_bits"],
                              "accumulators_not_float32_exact": len(worst["not_float32_exact"])}
    return program.meta["ranges"]
