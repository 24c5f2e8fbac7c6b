"""LiteMLA's ReLU linear attention, from the Split of the concatenated q|k|v tensor to the projection
input, as one linear_attention layer.

Matched graph (G groups of head dim d, N = H W tokens, batch 1):
  cat (C = 3 G d, H, W) -> Reshape (1, G, 3d, N) -> Transpose (0,1,3,2) -> Split(axis 3) -> q, k, v
  q -> Relu -> Quant(q);  k -> Relu -> Quant(k) -> Transpose;  v -> Pad(last dim, +1 column of 1.0)
  MatMul(k^T, [v|1]) -> Slice [:d] -> Quant(kv),  Slice [d:] -> Quant(ksum)
  MatMul(q, kv) -> Quant(num);  MatMul(q, ksum) -> Quant(den)
  Div(num, divisor(den)) -> Quant(att) -> Transpose (0,1,3,2) -> Reshape (1, G d, H, W)
  where divisor(den) is a chain of element-wise ops with constants, recognised by what it computes on
  every den code d (evaluated in float32 as QONNX does): (2 d + 1) s_den / 2 (den + s_den / 2), or with
  Trio-ViT's log2 divisor 2^e s_den / 2, e = round(log2(2 d + 1)).

Integer form (codes; every requant is clamp(round_half_even(acc * m / 2^s))):
  q = table_q[max(v_q, 0)], k = table_k[max(v_k, 0)]   (tables of requant by s_cat/s_q, s_cat/s_k)
  kv[g,i,j] = requant(sum_n k[g,n,i] v[g,n,j], s_k s_cat / s_kv)
  ksum[g,i] = requant(sum_n k[g,n,i], s_k / s_ksum)                 (the ones column: scale s_k * 1.0)
  num[g,n,j] = requant(sum_i q kv, s_q s_kv / s_num),  den[g,n] = requant(sum_i q ksum, s_q s_ksum / s_den)
  att = clamp(round_half_even(2 num m / ((2 den + 1) 2^s)), lo, hi),  m / 2^s ~= s_num / (s_den s_att)
since num s_num / ((den + 1/2) s_den) / s_att = 2 num (s_num / (s_den s_att)) / (2 den + 1).
The divisor 2 den + 1 is odd and never zero; the hardware divides exactly (no reciprocal approximation).
Log2 divisor: att = clamp(round_half_even(2 num m / 2^(s + e[den]))), a shift; e[] is a table over the
den codes (exact integer rounding of log2, at most 4 bits).
"""

import numpy as np

from flow.errors import FlowError

from ..context import Lowering, fit_blob
from ..lut import requant_lut

ROLES = ("q", "k", "kv", "ksum", "num", "den", "att")
CHAIN_OPS = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power,
             "Log": np.log, "Round": np.round}
MAX_CHAIN = 12
LOG2_EXP_MAX = 15  # a 4-bit exponent


def round_log2_odd(t: np.ndarray) -> np.ndarray:
    """round(log2(t)) for odd integers t >= 1, exactly: floor(log2 t) plus one when t^2 >= 2^(2 floor + 1)
    (t >= 2^(floor + 1/2); never equal, sqrt 2 being irrational)."""
    t = np.asarray(t, dtype=np.int64)
    f = np.array([int(v).bit_length() - 1 for v in t.reshape(-1)], dtype=np.int64).reshape(t.shape)
    return f + (t * t >= (np.int64(1) << (2 * f + 1))).astype(np.int64)


def _divisor_chain(g, den_out: str, num_out: str) -> tuple:
    """(element-wise nodes from den to the divisor, the Div num / divisor)."""
    chain, x = [], den_out
    while len(chain) <= MAX_CHAIN:
        node = g.only_user(x)
        if node.op_type == "Div" and list(node.input) == [num_out, x]:
            return chain, node
        others = [i for i in node.input if i != x]
        if node.op_type not in CHAIN_OPS or x not in node.input or not all(g.is_const(i) for i in others):
            break
        chain.append(node)
        x = node.output[0]
    raise FlowError(f"cannot lower the attention divisor after {den_out}: expected num / f(den) with f "
                    f"element-wise ops ({', '.join(CHAIN_OPS)}) on constants")


def _eval_chain(g, chain, start: str, x: np.ndarray) -> np.ndarray:
    vals = {start: x.astype(np.float32)}
    with np.errstate(divide="ignore", invalid="ignore"):
        for node in chain:
            args = [vals[i] if i in vals else g.const(i).astype(np.float32) for i in node.input]
            vals[node.output[0]] = np.asarray(CHAIN_OPS[node.op_type](*args), dtype=np.float32)
    return vals[chain[-1].output[0]] if chain else vals[start]


def divisor_form(g, chain, den_out: str, spec) -> str:
    """'exact' or 'log2': which divisor the chain computes on every code of the den quantizer."""
    codes = np.arange(spec.range[0], spec.range[1] + 1, dtype=np.int64)
    s = np.float32(spec.scalar_scale)
    got = _eval_chain(g, chain, den_out, codes.astype(np.float32) * s).astype(np.float64).reshape(-1)
    ratio = got / (float(s) / 2)
    odd = 2 * codes + 1
    forms = {"exact": odd.astype(np.float64), "log2": np.exp2(round_log2_odd(odd)).astype(np.float64)}
    for name, want in forms.items():
        if got.shape == want.shape and np.all(np.abs(ratio - want) <= 1e-6 * want):
            return name
    bad = int(np.argmax(np.abs(ratio - forms["exact"]) / forms["exact"]))
    raise FlowError(f"cannot lower the attention divisor after {den_out}: at den code {codes[bad]} it is "
                    f"{got[bad]:.6g}, neither (2d+1) s/2 nor 2^round(log2(2d+1)) s/2 (s = {float(s):.6g}); "
                    f"quantize with flow's LiteMLA")


def _slice_bounds(g, node):
    starts, ends = int(g.const(node.input[1]).reshape(-1)[0]), int(g.const(node.input[2]).reshape(-1)[0])
    axes = int(g.const(node.input[3]).reshape(-1)[0]) if len(node.input) > 3 and node.input[3] else 0
    steps = int(g.const(node.input[4]).reshape(-1)[0]) if len(node.input) > 4 and node.input[4] else 1
    return starts, ends, axes, steps


def lower_attention(ctx: Lowering, split) -> None:
    g = ctx.g
    tr_in = g.expect(split.input[0], "Transpose")
    rs_in = g.expect(tr_in.input[0], "Reshape")
    cat = ctx.tensor_of(rs_in.input[0])
    C, H, W = ctx.tensors[cat].shape
    _, G, three_d, N = g.shape(rs_in.output[0])
    d = three_d // 3
    if list(g.attr(tr_in, "perm")) != [0, 1, 3, 2] or G * three_d != C or N != H * W or three_d % 3 \
            or len(split.output) != 3 or g.attr(split, "axis") not in (3, -1):
        raise FlowError(f"cannot lower the attention at {split.name}: q|k|v layout is not LiteMLA's")
    q_raw, k_raw, v_raw = split.output
    relu_q, relu_k = g.only_user(q_raw, "Relu"), g.only_user(k_raw, "Relu")
    quant = {"q": g.only_user(relu_q.output[0], "Quant"), "k": g.only_user(relu_k.output[0], "Quant")}
    k_t = g.only_user(quant["k"].output[0], "Transpose")
    pad = g.only_user(v_raw, "Pad")
    pads = list(g.const(pad.input[1]).reshape(-1))
    if pads != [0, 0, 0, 0, 0, 0, 0, 1] or g.scalar(pad.input[2]) != 1.0 or g.attr(pad, "mode", "constant") != "constant":
        raise FlowError(f"cannot lower {pad.name}: expected a column of ones appended to v")
    mm_kv = g.only_user(k_t.output[0], "MatMul")
    if list(mm_kv.input) != [k_t.output[0], pad.output[0]]:
        raise FlowError(f"cannot lower {mm_kv.name}: expected k^T [v | 1]")
    slices = g.users(mm_kv.output[0])
    if len(slices) != 2 or any(s.op_type != "Slice" for s in slices):
        raise FlowError(f"cannot lower {mm_kv.name}: expected two Slices of k^T [v | 1]")
    by_start = {}
    for sl in slices:
        start, end, axis, step = _slice_bounds(g, sl)
        if axis not in (3, -1) or step != 1:
            raise FlowError(f"cannot lower {sl.name}: expected a slice of the last axis")
        by_start[start % (d + 1)] = sl
    if set(by_start) != {0, d}:
        raise FlowError(f"cannot lower {mm_kv.name}: slices should split columns [0, {d}) and [{d}, {d + 1})")
    quant["kv"] = g.only_user(by_start[0].output[0], "Quant")
    quant["ksum"] = g.only_user(by_start[d].output[0], "Quant")
    q_users = g.users(quant["q"].output[0])
    mm_num = next((n for n in q_users if n.op_type == "MatMul" and n.input[1] == quant["kv"].output[0]), None)
    mm_den = next((n for n in q_users if n.op_type == "MatMul" and n.input[1] == quant["ksum"].output[0]), None)
    if mm_num is None or mm_den is None or len(q_users) != 2:
        raise FlowError(f"cannot lower the attention at {split.name}: q should feed q kv and q ksum only")
    quant["num"] = g.only_user(mm_num.output[0], "Quant")
    quant["den"] = g.only_user(mm_den.output[0], "Quant")
    chain, div = _divisor_chain(g, quant["den"].output[0], quant["num"].output[0])
    quant["att"] = g.only_user(div.output[0], "Quant")
    tr_out = g.only_user(quant["att"].output[0], "Transpose")
    rs_out = g.only_user(tr_out.output[0], "Reshape")
    if list(g.attr(tr_out, "perm")) != [0, 1, 3, 2] or tuple(g.shape(rs_out.output[0])) != (1, G * d, H, W):
        raise FlowError(f"cannot lower {rs_out.name}: attention output is not reshaped to (1, {G * d}, {H}, {W})")

    spec = {r: g.quant_spec(quant[r]) for r in ROLES}
    s = {r: spec[r].scalar_scale for r in ROLES}
    s_cat = ctx.scale(cat)
    form = divisor_form(g, chain, quant["den"].output[0], spec["den"])
    ratios = {"q": s_cat / s["q"], "k": s_cat / s["k"], "kv": s["k"] * s_cat / s["kv"],
              "ksum": s["k"] / s["ksum"], "num": s["q"] * s["kv"] / s["num"], "den": s["q"] * s["ksum"] / s["den"],
              "att": s["num"] / (s["den"] * s["att"])}
    out = ctx.add_tensor(rs_out.output[0], spec["att"], (G * d, H, W), source=quant["att"].output[0])
    ctx.alias[rs_out.output[0]] = out
    blobs = {}
    attrs = {"groups": G, "dim": d, "tokens": N, "height": H, "width": W, "divisor": form,
             "quant": {r: {"bits": spec[r].bits, "signed": spec[r].signed, "range": list(spec[r].range)}
                       for r in ROLES}}
    for r in ROLES:
        mult, shift = ctx.requant([ratios[r]])
        blobs[f"{r}_mult"], blobs[f"{r}_shift"] = fit_blob(mult), shift
    ti = ctx.tensors[cat]
    for r in ("q", "k"):  # unary: a table over the cat code, like QONNX's float rounding (flow.lower.lut)
        blobs[f"{r}_table"] = fit_blob(requant_lut(s_cat, ti.bits, ti.signed, s[r], spec[r].bits, spec[r].signed,
                                                   relu=True))
    attrs["in_min"] = ti.range[0]
    if form == "log2":
        lo, hi = spec["den"].range
        exps = round_log2_odd(2 * np.arange(lo, hi + 1, dtype=np.int64) + 1)
        if lo != 0 or exps.max() > LOG2_EXP_MAX:
            raise FlowError(f"cannot lower the log2 divisor at {div.name}: den codes {lo}..{hi} need exponents "
                            f"0..{exps.max()}, more than 4 bits")
        blobs["den_exp"] = fit_blob(exps)
    nodes = [tr_in, rs_in, split, relu_q, relu_k, k_t, pad, mm_kv, *slices, mm_num, mm_den, *chain, div,
             tr_out, rs_out] + [quant[r] for r in ROLES]
    ctx.add_layer("linear_attention", [cat], [out], nodes, attrs=attrs, blobs=blobs,
                  dumps={r: quant[r].output[0] for r in ROLES})
