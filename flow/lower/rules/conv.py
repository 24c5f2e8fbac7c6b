"""Quant(Conv(x, Quant(W), Quant(b))) -> conv / dwconv;  Quant(Gemm(x, Quant(W), Quant(b))) -> linear.

acc[o] = sum(w_code * x_code) + b_code[o]  (the bias is quantized at s_in * s_w[o], so it adds as is;
a depthwise conv may have one input scale per channel, s_in[o]),
y[o] = clamp(round_half_even(acc[o] * mult[o] / 2^shift[o]), lo, hi) with mult/2^shift ~= s_in s_w[o] / s_out[o]
(the output may have one scale per channel, for a consumer that takes that: TSPTQ's LayerNorm input).

An input with a zero point z (an asymmetric tensor: value = (code - z) s_in), one per tensor or one per
channel (filter-wise shift), is folded into the bias: sum(w (x - z)) + b = sum(w x) + (b - sum(w z)), exact
in integers. Only where every tap reads a real input
(a 1 x 1 conv without padding, or a linear layer): a padded tap would read 0, not z.
"""

import numpy as np

from flow.errors import FlowError

from ..context import Lowering, fit_blob, int_blob


def _fold_zero_point(ctx: Lowering, node, x: str, w: np.ndarray, b: np.ndarray, pointwise: bool,
                     groups: int = 1) -> np.ndarray:
    z = ctx.channel_zero_points(x)
    if not z.any():
        return b
    if not pointwise:
        zp = ctx.tensors[x].zero_point
        raise FlowError(f"cannot lower {node.name}: input {x} has zero point {zp if np.isscalar(zp) else 'per channel'}"
                        f", which only an unpadded 1 x 1 convolution or a linear layer can fold into its bias")
    # output o of group g reads input channels g*cin_g .. (g+1)*cin_g - 1
    w2 = w.reshape(w.shape[0], -1).astype(np.int64)
    cin_g = w2.shape[1]
    first = (np.arange(w.shape[0]) // (w.shape[0] // groups)) * cin_g
    z_read = z[first[:, None] + np.arange(cin_g)[None, :]]
    return b.astype(np.int64) - (w2 * z_read).sum(1)


def check_bias_scale(node, b_spec, s_in, s_w: np.ndarray) -> None:
    """The bias is quantized at s_in x s_w (float32, as Brevitas computes it), so it adds to the accumulator
    as is."""
    expected = (np.float32(s_in) * s_w.astype(np.float32)).astype(np.float64)
    if not np.allclose(b_spec.scale.reshape(-1).astype(np.float64), expected, rtol=1e-6, atol=0):
        raise FlowError(f"cannot lower {node.name}: bias scale is not input scale x weight scale")


def _weights_and_bias(ctx: Lowering, node, s_in: float, out_channels: int):
    g = ctx.g
    w, w_spec, w_node = g.quantized_const(node.input[1])
    s_w = w_spec.scale.reshape(-1).astype(np.float64)
    if s_w.size == 1:
        s_w = np.full(out_channels, s_w[0])
    nodes = [w_node]
    if len(node.input) > 2 and node.input[2]:
        b, b_spec, b_node = g.quantized_const(node.input[2])
        check_bias_scale(node, b_spec, s_in, s_w)
        nodes.append(b_node)
    else:
        b = np.zeros(out_channels, dtype=np.int64)
    return w, w_spec, s_w, b.reshape(-1), nodes


def lower_conv(ctx: Lowering, q, node=None, layout_nodes=()) -> None:
    """Quant(Conv); or, with ``node`` and the ``layout_nodes`` between it and q (Reshape, Transpose: a
    patch embedding), a conv whose output map (C, H, W) is written as H W tokens of C channels."""
    g = ctx.g
    tokens = node is not None
    node = node if tokens else g.expect(q.input[0], "Conv")
    x = ctx.tensor_of(node.input[0], zero_point_ok=True)
    in_shape = ctx.tensors[x].shape
    out = ctx.add_quant_output(q)
    # one scale per output channel when its consumer takes that (e.g. a LayerNorm); tokens: one
    map_shape = tuple(g.shape(node.output[0])[1:]) if tokens else ctx.tensors[out].shape
    c_out = map_shape[0]
    s_out = ctx.scale(out) if tokens else ctx.channel_scales(out)
    groups = int(g.attr(node, "group", 1))
    c_in = in_shape[0]
    depthwise = groups == c_in == c_out > 1  # (so each filter has one input channel)
    # a depthwise conv's output channel c reads only input channel c: a scale per input channel (channel-wise
    # migration) joins channel c's requantization
    s_in = ctx.channel_scales(x) if depthwise else ctx.scale(x)
    w, w_spec, s_w, b, nodes = _weights_and_bias(ctx, node, s_in, c_out)
    if depthwise and w.shape[1] != 1:
        raise FlowError(f"cannot lower {node.name}: {c_in} groups of {c_in} channels with weights {w.shape}")
    kh, kw = g.attr(node, "kernel_shape", list(w.shape[2:]))
    strides = g.attr(node, "strides", [1, 1])
    pads = g.attr(node, "pads", [0, 0, 0, 0])
    if list(g.attr(node, "dilations", [1, 1])) != [1, 1]:
        raise FlowError(f"cannot lower {node.name}: dilated convolutions are not supported")
    if g.attr(node, "auto_pad", "NOTSET") != "NOTSET":
        raise FlowError(f"cannot lower {node.name}: auto_pad is not supported (use explicit pads)")
    b = _fold_zero_point(ctx, node, x, w, b, (int(kh), int(kw)) == (1, 1) and not any(pads), groups)
    mult, shift = ctx.requant(s_in * s_w / s_out)
    ctx.add_layer(
        "dwconv" if depthwise else "conv", [x], [out], [node, *layout_nodes, q] + nodes,
        attrs={"in_channels": c_in, "out_channels": c_out, "kernel": [int(kh), int(kw)],
               "stride": [int(s) for s in strides], "pad": [int(p) for p in pads], "groups": groups,
               "in_shape": list(in_shape), "out_shape": [int(d) for d in map_shape], "weight_bits": w_spec.bits,
               **({"tokens_out": 1} if tokens else {})},
        blobs={"weight": int_blob(w, w_spec.bits), "bias": fit_blob(b), "mult": fit_blob(mult), "shift": shift})


def lower_linear(ctx: Lowering, q) -> None:
    g = ctx.g
    node = g.expect(q.input[0], "Gemm")
    if (g.attr(node, "transA", 0), g.attr(node, "transB", 0)) != (0, 1) or \
            g.attr(node, "alpha", 1.0) != 1.0 or g.attr(node, "beta", 1.0) != 1.0:
        raise FlowError(f"cannot lower {node.name}: only Gemm with transB=1, alpha=beta=1 (a Linear layer)")
    x = ctx.tensor_of(node.input[0], zero_point_ok=True)
    s_in = ctx.scale(x)
    out = ctx.add_quant_output(q)
    s_out = ctx.channel_scales(out)
    c_out = ctx.tensors[out].shape[0]
    w, w_spec, s_w, b, nodes = _weights_and_bias(ctx, node, s_in, c_out)
    if len(ctx.tensors[x].shape) != 1 or w.shape[1] != ctx.tensors[x].shape[0]:
        raise FlowError(f"cannot lower {node.name}: input {ctx.tensors[x].shape} does not match weights {w.shape}")
    b = _fold_zero_point(ctx, node, x, w, b, True)
    mult, shift = ctx.requant(s_in * s_w / s_out)
    ctx.add_layer("linear", [x], [out], [node, q] + nodes,
                  attrs={"in_features": int(w.shape[1]), "out_features": c_out, "weight_bits": w_spec.bits},
                  blobs={"weight": int_blob(w, w_spec.bits), "bias": fit_blob(b), "mult": fit_blob(mult),
                         "shift": shift})
