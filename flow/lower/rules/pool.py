"""Quant(Reshape(ReduceMean(x, axes=[2, 3]))) -> gap (global average pool to a vector).

y[c] = clamp(round_half_even(S[c] * mult / (H W 2^shift)), lo, hi), S[c] = sum of x[c] over H x W,
mult / 2^shift ~= s_in / s_out: the division by H*W is exact (no rounded 1/(H W) factor), so ties of
the mean are rounded like onnxruntime rounds sum / count.
"""

from flow.errors import FlowError

from ..context import Lowering, fit_blob


def lower_gap(ctx: Lowering, q) -> None:
    g = ctx.g
    reshape = g.expect(q.input[0], "Reshape")
    mean = g.expect(reshape.input[0], "ReduceMean")
    x = ctx.tensor_of(mean.input[0])
    shape = ctx.tensors[x].shape
    axes = list(g.const(mean.input[1]).reshape(-1)) if len(mean.input) > 1 else g.attr(mean, "axes")
    rank = len(shape) + 1
    if len(shape) != 3 or sorted(int(a) % rank for a in axes) != [2, 3]:
        raise FlowError(f"cannot lower {mean.name}: only a mean over H and W of a C x H x W tensor is supported")
    out = ctx.add_quant_output(q)
    if ctx.tensors[out].shape != (shape[0],):
        raise FlowError(f"cannot lower {reshape.name}: pooled output should be a vector of {shape[0]}")
    mult, shift = ctx.requant(ctx.scale(x) / ctx.scale(out))
    ctx.add_layer("gap", [x], [out], [mean, reshape, q], attrs={"divisor": int(shape[1] * shape[2])},
                  blobs={"mult": fit_blob(mult), "shift": shift})
