"""A softmax transformer's layers (flow.models.deit, as exported), in the program's token layout: a token
tensor is (N, C), the tokens' rows of C channels; per-head tensors are (heads, N, d).

patch embedding  Quant(Transpose(Reshape(Conv)))           -> conv, output as tokens (tokens_out)
position add     Quant(Add(Concat(0, x), Quant(P)))        -> add_const: the zero row (the class token's
                 place) and x, each times its multiplier, plus the constant P's codes times theirs, one shift
token linear     Quant(Add(MatMul(x, Quant(W)), Quant(b))) -> linear on each token
q, k, v          Quant(Squeeze(Slice(Transpose(Reshape(Add(MatMul(x, W), b)))))) x 3
                                                          -> one linear with three outputs (heads, N, d)
logits           Quant(MatMul(Mul(q, c), Transpose(k)))   -> matmul, transpose_b (q k^T per head, times c)
attn v           Quant(Reshape(Transpose(MatMul(p, v))))  -> matmul, merge_heads (back to (N, C))
softmax          the integer softmax of flow.models.deit.IntSoftmax -> softmax (exp table, one reciprocal
                 per row); equal to the graph exactly (its float64 steps are exact: see IntSoftmax)
GELU             Quant(Gelu(x))                            -> gelu, a table on x's code computed by the
                 graph's own Gelu operator (onnxruntime, which executes it in QONNX execution too)
requantization   Quant(Quant(x)), Quant(Gather(x, t))      -> requant, a table on x's code (of token t)

The act x act products (logits, attn v) requantize by a multiplier and a shift like a conv: exact for
power-of-two scales; free scales within the export check's 1-LSB standard.
"""

import numpy as np

from flow.errors import FlowError

from ..context import Lowering, fit_blob, int_blob
from ..lut import _quantize_f32, requant_lut
from ..requant import ADD_MULT_BITS, int_range, requant_params_shared
from .conv import check_bias_scale, lower_conv
from .layernorm import _const_operand


def _token_linear(ctx: Lowering, add, outs: list, s_out: np.ndarray, nodes: list, **attrs) -> None:
    """A linear layer on each token, from Add(MatMul(x, Quant(W)), Quant(b)) into ``outs`` at the output
    scales ``s_out`` (one per output channel); ``nodes``: the layout nodes between the Add and the outputs'
    Quants, which the layer also accounts for."""
    g = ctx.g
    mm = next(g.src(t) for t in add.input if g.src(t) is not None and g.src(t).op_type == "MatMul")
    x = ctx.tensor_of(mm.input[0])
    if len(ctx.tensors[x].shape) != 2:
        raise FlowError(f"cannot lower {mm.name}: a token linear takes (N, C) tokens, not {ctx.tensors[x].shape}")
    s_in = ctx.scale(x)
    w, w_spec, w_node = g.quantized_const(mm.input[1])  # (in, out): MatMul's layout
    b, b_spec, b_node = g.quantized_const(next(t for t in add.input if t != mm.output[0]))
    s_w = w_spec.scale.reshape(-1).astype(np.float64)
    if s_w.size == 1:
        s_w = np.full(w.shape[1], s_w[0])
    check_bias_scale(add, b_spec, s_in, s_w)
    mult, shift = ctx.requant(s_in * s_w / s_out)
    ctx.add_layer("linear", [x], outs, [mm, add, *nodes, w_node, b_node],
                  attrs={"in_features": int(w.shape[0]), "out_features": int(w.shape[1]),
                         "weight_bits": w_spec.bits, "tokens": int(ctx.tensors[x].shape[0]), **attrs},
                  blobs={"weight": int_blob(np.ascontiguousarray(w.T), w_spec.bits), "bias": fit_blob(b.reshape(-1)),
                         "mult": fit_blob(mult), "shift": shift})


def lower_token_linear(ctx: Lowering, q) -> None:
    add = ctx.g.expect(q.input[0], "Add")
    out = ctx.add_quant_output(q)
    _token_linear(ctx, add, [out], ctx.scale(out), [q])


def lower_qkv(ctx: Lowering, q) -> None:
    """The three quantizers of q, k and v, from one linear layer whose output is split into heads."""
    g = ctx.g
    squeeze = g.expect(q.input[0], "Squeeze")
    sl = g.expect(squeeze.input[0], "Slice")
    tr = g.expect(sl.input[0], "Transpose")
    rs = g.expect(tr.input[0], "Reshape")
    add = g.expect(rs.input[0], "Add")
    shape = g.shape(rs.output[0])
    if list(g.attr(tr, "perm")) != [2, 0, 3, 1, 4] or len(shape) != 5 or shape[2] != 3:
        raise FlowError(f"cannot lower {tr.name}: not the (B, N, 3, heads, d) -> (3, B, heads, N, d) split of qkv")
    heads, d = int(shape[3]), int(shape[4])
    parts = {}
    for s in g.users(tr.output[0]):
        if s.op_type != "Slice":
            raise FlowError(f"cannot lower {tr.name}: feeds {s.op_type} {s.name}, not the q/k/v slices")
        start = int(g.const(s.input[1]).reshape(-1)[0])
        sq = g.only_user(s.output[0], "Squeeze")
        quant = g.only_user(sq.output[0], "Quant")
        parts[start] = (s, sq, quant)
    if sorted(parts) != [0, 1, 2]:
        raise FlowError(f"cannot lower {tr.name}: q, k and v slices not found ({sorted(parts)})")
    outs = [ctx.add_quant_output(parts[i][2]) for i in range(3)]
    ranges = {ctx.tensors[o].range for o in outs}
    if len(ranges) != 1:
        raise FlowError(f"cannot lower {add.name}: q, k and v have different code ranges {sorted(ranges)}")
    s_out = np.repeat([ctx.scale(o) for o in outs], heads * d)
    _token_linear(ctx, add, outs, s_out, [rs, tr] + [n for i in range(3) for n in parts[i]],
                  split=3, heads=heads, head_dim=d)


def _scalar_mul(g, tensor):
    """(input, constant) of Mul(input, scalar constant) producing ``tensor``, or (tensor, 1.0)."""
    node = g.src(tensor)
    if node is not None and node.op_type == "Mul" and g.is_const(node.input[1]) and g.const(node.input[1]).size == 1:
        return node.input[0], g.scalar(node.input[1]), node
    return tensor, 1.0, None


def _matmul_layer(ctx: Lowering, q, mm, layout_nodes, merge_heads: bool) -> None:
    g = ctx.g
    a_t, c, mul = _scalar_mul(g, mm.input[0])
    b_t, tr = mm.input[1], None
    src = g.src(b_t)
    if src is not None and src.op_type == "Transpose":
        if list(g.attr(src, "perm")) != [0, 1, 3, 2]:
            raise FlowError(f"cannot lower {src.name}: only the last two axes may be transposed")
        tr, b_t = src, src.input[0]
    a, b = ctx.tensor_of(a_t), ctx.tensor_of(b_t)
    out = ctx.add_quant_output(q)
    mult, shift = ctx.requant(ctx.scale(a) * c * ctx.scale(b) / ctx.scale(out))
    inner = ctx.tensors[a].shape[-1]
    ctx.add_layer("matmul", [a, b], [out], [n for n in (mul, tr, mm, *layout_nodes, q) if n is not None],
                  attrs={"transpose_b": int(tr is not None), "merge_heads": int(merge_heads), "inner": int(inner)},
                  blobs={"mult": fit_blob(mult), "shift": shift})


def lower_logits(ctx: Lowering, q) -> None:
    _matmul_layer(ctx, q, ctx.g.expect(q.input[0], "MatMul"), [], merge_heads=False)


def lower_attention_output(ctx: Lowering, q) -> None:
    g = ctx.g
    rs = g.expect(q.input[0], "Reshape")
    tr = g.expect(rs.input[0], "Transpose")
    if list(g.attr(tr, "perm")) != [0, 2, 1, 3]:
        raise FlowError(f"cannot lower {tr.name}: not the (B, heads, N, d) -> (B, N, heads, d) merge of heads")
    _matmul_layer(ctx, q, g.expect(tr.input[0], "MatMul"), [tr, rs], merge_heads=True)


def lower_patch_embed(ctx: Lowering, q) -> None:
    g = ctx.g
    tr = g.expect(q.input[0], "Transpose")
    rs = g.expect(tr.input[0], "Reshape")
    conv = g.expect(rs.input[0], "Conv")
    if list(g.attr(tr, "perm")) != [0, 2, 1] or len(g.shape(rs.output[0])) != 3:
        raise FlowError(f"cannot lower {tr.name}: not the (B, C, H W) -> (B, H W, C) flattening into tokens")
    lower_conv(ctx, q, conv, [rs, tr])


def lower_position_add(ctx: Lowering, q) -> None:
    """Quant(Add(Concat(zero rows, x), Quant(P))): x's tokens after the zero rows, plus a constant."""
    g = ctx.g
    add = g.expect(q.input[0], "Add")
    cat_t, p_t = add.input if g.src(add.input[0]).op_type == "Concat" else add.input[::-1]
    cat = g.expect(cat_t, "Concat")
    if len(cat.input) != 2 or not g.is_const(cat.input[0]) or np.any(g.const(cat.input[0])) \
            or g.attr(cat, "axis") not in (1, -2):
        raise FlowError(f"cannot lower {cat.name}: expected Concat(zero rows, tokens) along the tokens")
    pad = int(g.const(cat.input[0]).shape[1])
    p, p_spec, p_node = g.quantized_const(p_t)
    x = ctx.tensor_of(cat.input[1])
    out = ctx.add_quant_output(q)
    s_p = float(p_spec.scale.reshape(-1)[0]) if p_spec.scale.size == 1 else None
    if s_p is None:
        raise FlowError(f"cannot lower {p_node.name}: the position constant needs one scale")
    mults, shift = requant_params_shared([ctx.scale(x) / ctx.scale(out), s_p / ctx.scale(out)],
                                         min(ctx.mult_bits, ADD_MULT_BITS))
    ctx.add_layer("add_const", [x], [out], [cat, add, q, p_node], attrs={"shift": int(shift), "pad_tokens": pad},
                  blobs={"mult": fit_blob(np.array(mults)), "const": fit_blob(p.reshape(ctx.tensors[out].shape))})


def _requant_table(ctx: Lowering, x: str, out: str) -> np.ndarray:
    ti, to = ctx.tensors[x], ctx.tensors[out]
    return requant_lut(ctx.scale(x), ti.bits, ti.signed, ctx.scale(out), to.bits, to.signed)


def lower_requant(ctx: Lowering, q) -> None:
    """Quant(Quant(x)) (one quantizer after another) or Quant(Gather(x, token t)): a table on the code."""
    g = ctx.g
    src = g.expect(q.input[0], "Quant", "Gather")
    token = None
    if src.op_type == "Gather":
        idx = g.const(src.input[1])
        if idx.size != 1 or g.attr(src, "axis", 0) not in (1, -2):
            raise FlowError(f"cannot lower {src.name}: only one token of a token tensor may be taken")
        token = int(idx.reshape(()))
    x = ctx.tensor_of(src.input[0] if token is not None else src.output[0])
    out = ctx.add_quant_output(q)
    nodes = [src, q] if token is not None else [q]
    ctx.add_layer("requant", [x], [out], nodes,
                  attrs={"in_min": ctx.tensors[x].range[0], **({"token": token} if token is not None else {})},
                  blobs={"table": fit_blob(_requant_table(ctx, x, out))})


def gelu_values(in_scale: float, in_bits: int, in_signed: bool, opset: int) -> np.ndarray:
    """GELU(code * in_scale) in float32 for every input code, by onnxruntime's Gelu (opset >= 20), the
    operator QONNX execution runs."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    lo, hi = int_range(in_bits, in_signed)
    x = np.arange(lo, hi + 1, dtype=np.float32) * np.float32(in_scale)
    node = helper.make_node("Gelu", ["x"], ["y"])
    graph = helper.make_graph([node], "gelu", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [x.size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [x.size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(opset, 20))])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def lower_gelu(ctx: Lowering, q) -> None:
    g = ctx.g
    gelu = g.expect(q.input[0], "Gelu")
    if g.attr(gelu, "approximate", "none") != "none":
        raise FlowError(f"cannot lower {gelu.name}: only the exact (erf) GELU")
    x = ctx.tensor_of(gelu.input[0])
    ti = ctx.tensors[x]
    if ti.bits > 12:
        raise FlowError(f"cannot lower {q.name}: a {ti.bits}-bit GELU input needs a 2^{ti.bits}-entry table")
    y = gelu_values(ctx.scale(x), ti.bits, ti.signed, g.opsets.get("", 20))
    two_scale = g.two_scale_of(gelu.output[0])
    if two_scale is not None:  # TSPTQ's value-aware two scales: the table's entries are fine-scale integers
        spec, quantizer = two_scale
        out = ctx.add_two_scale_output(spec, quantizer[-1])
        table = spec.values(y)
    else:
        quantizer = [q]
        out = ctx.add_quant_output(q)
        to = ctx.tensors[out]
        table = _quantize_f32(y, np.float32(ctx.scale(out)), *int_range(to.bits, to.signed))
    ctx.add_layer("gelu", [x], [out], [gelu, *quantizer], attrs={"in_min": ti.range[0], "entries": int(table.size)},
                  blobs={"table": fit_blob(table)})


def _const(g, node):
    """The scalar constant operand of ``node`` and its other input."""
    value, other = _const_operand(g, node)
    return float(value.reshape(())), other


def lower_softmax(ctx: Lowering, q) -> None:
    """The integer softmax, walked back from its output quantizer (flow.models.deit.IntSoftmax)."""
    g = ctx.g
    mul_out = g.expect(q.input[0], "Mul")
    s_out, t = _const(g, mul_out)
    cast_out = g.expect(t, "Cast")
    mn = g.expect(cast_out.input[0], "Min")
    top, t = _const(g, mn)
    floor = g.expect(t, "Floor")
    mul_k = g.expect(floor.input[0], "Mul")
    inv_2k, t = _const(g, mul_k)
    add_half = g.expect(t, "Add")
    half, t = _const(g, add_half)
    mul_er = g.expect(t, "Mul")
    e_t, r_t = mul_er.input
    if g.src(e_t).op_type == "Floor":
        e_t, r_t = r_t, e_t
    floor_r = g.expect(r_t, "Floor")
    mul_r = g.expect(floor_r.input[0], "Mul")
    two_r, t = _const(g, mul_r)
    recip = g.expect(t, "Reciprocal")
    rsum = g.expect(recip.input[0], "ReduceSum")
    cast_e = g.expect(e_t, "Cast")
    if rsum.input[0] != e_t:
        raise FlowError(f"cannot lower {rsum.name}: the row sum is not of the exponentials (not the integer softmax)")
    gather = g.expect(cast_e.input[0], "GatherND", "Gather")
    table = g.const(gather.input[0]).astype(np.int64)
    unsq = g.src(gather.input[1])
    sub = g.expect(unsq.input[0] if unsq.op_type == "Unsqueeze" else gather.input[1], "Sub")
    rmax = g.expect(sub.input[0], "ReduceMax")
    cast_c = g.expect(sub.input[1], "Cast")
    if rmax.input[0] != cast_c.output[0]:
        raise FlowError(f"cannot lower {rmax.name}: the row max is not of the logits' codes")
    rnd = g.expect(cast_c.input[0], "Round")
    div = g.expect(rnd.input[0], "Div")
    s_in, x_t = _const(g, div)
    x = ctx.tensor_of(x_t)
    recip_bits, k = np.log2(two_r), -np.log2(inv_2k)
    two_scale = g.two_scale_of(mul_out.output[0])
    if two_scale is not None:  # TSPTQ's value-aware two scales: codes on the fine scale, then the coarse rounding
        spec, quantizer = two_scale
        out = ctx.add_two_scale_output(spec, quantizer[-1])
        (lo_f, hi_f), (lo_c, hi_c) = spec.fine.range, spec.coarse.range
        grid = spec.fine.scalar_scale
        two = {"two_shift": spec.shift, "fine_max": hi_f, "coarse_max": hi_c}
        if lo_f != 0 or lo_c != 0 or spec.threshold != np.float32((hi_f + 0.5) * grid):
            raise FlowError(f"cannot lower the softmax ending at {q.name}: its two-scale quantizer is not the "
                            "unsigned one of a softmax output (fine codes from 0, threshold at the last fine code)")
    else:
        quantizer = [q]
        out = ctx.add_quant_output(q)
        grid, two = ctx.scale(out), {}
    ti, to = ctx.tensors[x], ctx.tensors[out]
    top_ok = top == round(1 / grid) - 1 if two else top == to.range[1]
    if recip_bits != int(recip_bits) or k != int(k) or half != 2.0 ** (k - 1) or not top_ok \
            or not np.isclose(s_in, ctx.scale(x), rtol=1e-7) or s_out != grid or to.signed \
            or table.size != ti.range[1] - ti.range[0] + 1:
        raise FlowError(f"cannot lower the softmax ending at {q.name}: its constants are not the integer softmax's")
    nodes = [div, rnd, cast_c, rmax, sub, gather, cast_e, rsum, recip, mul_r, floor_r, mul_er, add_half, mul_k, floor,
             mn, cast_out, mul_out, *quantizer] + ([unsq] if unsq.op_type == "Unsqueeze" else [])
    ctx.add_layer("softmax", [x], [out], nodes,
                  attrs={"recip_bits": int(recip_bits), "shift": int(k), "out_max": int(top), "rows": int(ti.shape[-2]),
                         "row_length": int(ti.shape[-1]), **two},
                  blobs={"table": fit_blob(table)})
