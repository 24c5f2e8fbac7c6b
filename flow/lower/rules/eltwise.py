"""Element-wise layers between quantized tensors.

hardswish:  Quant(Mul(x, Clip(Add(Mul(x, 1/6), 1/2), 0, 1)))  -> a 2^bits-entry table on x's code (an
            asymmetric output's zero point is in the table's codes); one table per channel when the output
            has a scale or a zero point per channel. With a two-scale quantizer (TSPTQ) instead of the Quant,
            Where(Less(y, T), Quant_fine(y), Quant_coarse(y)), the entries are its integers at the fine
            scale (flow.lower.graph.TwoScaleSpec)
relu:       Quant(Relu(x))                                        -> table of requant(max(x, 0))
add:        Quant(Add(a, b))   -> clamp(round_half_even((a m_a + b m_b) / 2^shift)), m/2^shift ~= s/s_out
concat:     Quant(Concat(x1, x2, ..., axis=channels)) -> each input requantized to the output scale (a table)

The unary requantizations (relu, concat) are tables over the input code (flow.lower.lut.requant_lut),
which equal QONNX's float rounding for free scales too; mult/shift are kept beside them (for power-of-two
scales a pure shift, identical to the table, which the tests check).
"""

import numpy as np

from flow.errors import FlowError

from ..context import Lowering, fit_blob
from ..lut import hardswish_lut, hardswish_values, requant_lut
from ..requant import ADD_MULT_BITS, requant_params_shared


def lower_hardswish(ctx: Lowering, q) -> None:
    g = ctx.g
    mul = g.expect(q.input[0], "Mul")
    x_name, gate = mul.input
    clip = g.expect(gate, "Clip")
    add = g.expect(clip.input[0], "Add")
    mul6 = g.expect(add.input[0], "Mul")
    if mul6.input[0] != x_name or not np.isclose(g.scalar(mul6.input[1]), 1 / 6, rtol=1e-7) \
            or g.scalar(add.input[1]) != 0.5 or (g.scalar(clip.input[1]), g.scalar(clip.input[2])) != (0.0, 1.0):
        raise FlowError(f"cannot lower {q.name}: Mul/Add/Clip/Mul is not x * clip(x/6 + 1/2, 0, 1)")
    x = ctx.tensor_of(x_name)
    ti = ctx.tensors[x]
    if ti.bits > 12:
        raise FlowError(f"cannot lower {q.name}: a {ti.bits}-bit hardswish input needs a 2^{ti.bits}-entry table")
    two_scale = g.two_scale_of(mul.output[0])
    if two_scale is not None:
        spec, quantizer = two_scale
        out = ctx.add_two_scale_output(spec, quantizer[-1])
        table = spec.values(hardswish_values(ctx.scale(x), ti.bits, ti.signed))
    else:
        quantizer = [q]
        out = ctx.add_quant_output(q)
        to = ctx.tensors[out]
        # one table row per channel when the output has a scale or zero point per channel (Trio-ViT's
        # migration and shift); the input, a conv's requantized output, always has one scale
        table = hardswish_lut(ctx.scale(x), ti.bits, ti.signed, to.scale, to.bits, to.signed, to.zero_point)
    to = ctx.tensors[out]
    rows = table.shape[0] if table.ndim == 2 else 1
    if rows > 1 and (len(to.shape) < 2 or rows != to.shape[0]):
        raise FlowError(f"cannot lower {q.name}: {rows} table rows for a tensor of shape {to.shape}")
    ctx.add_layer("hardswish", [x], [out], [mul, clip, add, mul6, *quantizer],
                  attrs={"in_min": ti.range[0], "entries": table.shape[-1], "rows": rows},
                  blobs={"table": fit_blob(table)})


def lower_relu(ctx: Lowering, q) -> None:
    relu = ctx.g.expect(q.input[0], "Relu")
    x = ctx.tensor_of(relu.input[0])
    out = ctx.add_quant_output(q)
    ti, to = ctx.tensors[x], ctx.tensors[out]
    mult, shift = ctx.requant(ctx.scale(x) / ctx.scale(out))
    table = requant_lut(ctx.scale(x), ti.bits, ti.signed, ctx.scale(out), to.bits, to.signed, relu=True)
    ctx.add_layer("relu", [x], [out], [relu, q], attrs={"in_min": ti.range[0]},
                  blobs={"mult": fit_blob(mult), "shift": shift, "table": fit_blob(table)})


def lower_add(ctx: Lowering, q) -> None:
    g = ctx.g
    add = g.expect(q.input[0], "Add")
    a, b = (ctx.tensor_of(t) for t in add.input)
    out = ctx.add_quant_output(q)
    if ctx.tensors[a].shape != ctx.tensors[b].shape:
        raise FlowError(f"cannot lower {add.name}: operand shapes {ctx.tensors[a].shape} and "
                        f"{ctx.tensors[b].shape} differ (broadcasting adds are not supported)")
    mults, shift = requant_params_shared([ctx.scale(a) / ctx.scale(out), ctx.scale(b) / ctx.scale(out)],
                                         min(ctx.mult_bits, ADD_MULT_BITS))
    ctx.add_layer("add", [a, b], [out], [add, q], attrs={"shift": int(shift)},
                  blobs={"mult": fit_blob(np.array(mults))})


def lower_concat(ctx: Lowering, q) -> None:
    g = ctx.g
    cat = g.expect(q.input[0], "Concat")
    rank = len(g.shape(cat.output[0]))
    if g.attr(cat, "axis") not in (1, 1 - rank):
        raise FlowError(f"cannot lower {cat.name}: only channel concatenation (axis 1) is supported")
    xs = [ctx.tensor_of(t) for t in cat.input]
    out = ctx.add_quant_output(q)
    mult, shift = ctx.requant([ctx.scale(x) / ctx.scale(out) for x in xs])
    to = ctx.tensors[out]
    tables = {f"table{i}": fit_blob(requant_lut(ctx.scale(x), ctx.tensors[x].bits, ctx.tensors[x].signed,
                                                 ctx.scale(out), to.bits, to.signed)) for i, x in enumerate(xs)}
    ctx.add_layer("concat", xs, [out], [cat, q],
                  attrs={"channels": [int(ctx.tensors[x].shape[0]) for x in xs],
                         "in_min": [ctx.tensors[x].range[0] for x in xs]},
                  blobs={"mult": fit_blob(mult), "shift": shift, **tables})
