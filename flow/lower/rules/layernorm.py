"""The integer LayerNorm of flow.models' QuantLayerNorm (frozen), as exported:

  Div(x, s_in) Round Cast(double) -> q;  d = Mul(q, C) - ReduceSum(q);  V = Squeeze(MatMul(Unsqueeze(d), Unsqueeze(d)));
  sigma = Max(Floor(Sqrt(V)), 1);  y = Round((d a + sigma b) / (sigma 2^k));  Clip;  Cast(float);  Mul(s_out)

-> layernorm with blobs a, b and attribute k, over a vector (C,) or each token of (N, C) (a DeiT's).
In the program (all integers), q_c = x_c << in_shift_c
(in_shift: TSPTQ's outlier-aware two scales, input scale s_in 2^in_shift_c; absent when all zero):
  S = sum(q), d = C q - S, V = sum(d^2), sigma = max(isqrt(V), 1),
  y = clamp(round_half_even((d a + sigma b) / (sigma 2^k)), lo, hi)            (2^k: k may be negative)
This equals the graph exactly: up to the division every float64 step is exact (integers < 2^53, checked
when the model froze it); the graph's division is correctly rounded, so its rounded result is the exact
quotient's unless the quotient is within float64 error (|y| 2^-53) of a half, and a rational with
denominator sigma 2^k is either exactly a half (then float64 is exact too) or at least 1/(2 sigma 2^k)
away, which exceeds that error while sigma 2^k < 2^40.
"""

import math

import numpy as np

from flow.errors import FlowError

from ..context import Lowering, fit_blob


def _const_operand(g, node):
    """(constant, other input) of a binary node with one constant operand."""
    a, b = node.input
    if g.is_const(b):
        return g.const(b), a
    if g.is_const(a):
        return g.const(a), b
    raise FlowError(f"cannot lower {node.name}: expected one constant operand")


def lower_layernorm(ctx: Lowering, q) -> None:
    g = ctx.g
    mul_out = g.expect(q.input[0], "Mul")
    s_out, cast_f = _const_operand(g, mul_out)
    cast_f = g.expect(cast_f, "Cast")
    clip = g.expect(cast_f.input[0], "Clip")
    rnd = g.expect(clip.input[0], "Round")
    div = g.expect(rnd.input[0], "Div")
    num = g.expect(div.input[0], "Add")
    den = g.expect(div.input[1], "Mul")
    pow2k, sig = _const_operand(g, den)
    sigma = g.expect(sig, "Max")
    one, floor_t = _const_operand(g, sigma)
    floor = g.expect(floor_t, "Floor")
    sqrt = g.expect(floor.input[0], "Sqrt")
    squeeze = g.expect(sqrt.input[0], "Squeeze")
    v = g.expect(squeeze.input[0], "MatMul")
    unsq = [g.expect(t, "Unsqueeze") for t in v.input]
    terms = [g.expect(t, "Mul") for t in num.input]
    mul_a = next((t for t in terms if not g.is_const(t.input[0]) and g.src(t.input[0]) is not None
                  and g.src(t.input[0]).op_type == "Sub"), None)
    mul_b = next((t for t in terms if t is not mul_a), None)
    if mul_a is None or mul_b is None:
        raise FlowError(f"cannot lower {num.name}: expected d * a + sigma * b")
    a, d_t = _const_operand(g, mul_a)
    b, sig_b = _const_operand(g, mul_b)
    sub = g.expect(d_t, "Sub")
    mul_c = g.expect(sub.input[0], "Mul")
    rsum = g.expect(sub.input[1], "ReduceSum")
    c_const, cast_d = _const_operand(g, mul_c)
    cast_d = g.expect(cast_d, "Cast")
    rnd_in = g.expect(cast_d.input[0], "Round")
    div_in = g.expect(rnd_in.input[0], "Div")
    s_in, x_t = _const_operand(g, div_in)
    x = ctx.tensor_of(x_t)
    k = math.log2(float(pow2k.reshape(())))
    C = ctx.tensors[x].shape[-1]
    if sig_b != sigma.output[0] or rsum.input[0] != cast_d.output[0] or float(one.reshape(())) != 1.0 \
            or any(u.input[0] != sub.output[0] for u in unsq) \
            or k != int(k) or float(c_const.reshape(())) != C or len(ctx.tensors[x].shape) not in (1, 2):
        raise FlowError(f"cannot lower the LayerNorm ending at {q.name}: graph is not the integer LayerNorm")
    # the input's scale per channel is s_in 2^k_c (TSPTQ's outlier-aware two scales; k_c = 0 for one scale):
    # the graph's q = round(x / s_in) is code_c << k_c
    s_in = np.float32(s_in.reshape(()))
    scales = np.asarray(ctx.channel_scales(x), dtype=np.float32)
    shifts = np.round(np.log2(scales / s_in)).astype(np.int64)
    if np.any(shifts < 0) or not np.allclose(s_in * np.exp2(shifts).astype(np.float32), scales, rtol=1e-7, atol=0):
        raise FlowError(f"cannot lower {div_in.name}: divides by {float(s_in)}, and the input scales are not that "
                        f"times powers of two >= 1 ({scales.min()} .. {scales.max()})")
    if np.any(a != np.round(a)) or np.any(b != np.round(b)):
        raise FlowError(f"cannot lower the LayerNorm ending at {q.name}: coefficients are not integers")
    out = ctx.add_quant_output(q)
    lo, hi = float(g.const(clip.input[1])), float(g.const(clip.input[2]))
    if (lo, hi) != ctx.tensors[out].range or not np.isclose(float(s_out.reshape(())), ctx.scale(out), rtol=1e-7):
        raise FlowError(f"cannot lower {q.name}: LayerNorm clip/scale do not match its output quantizer")
    nodes = [div_in, rnd_in, cast_d, mul_c, rsum, sub, *unsq, v, squeeze, sqrt, floor, sigma, mul_a, mul_b, num,
             den, div, rnd, clip, cast_f, mul_out, q]
    blobs = {"a": fit_blob(a.reshape(-1)), "b": fit_blob(b.reshape(-1))}
    if shifts.any():
        blobs["in_shift"] = fit_blob(shifts)
    ctx.add_layer("layernorm", [x], [out], nodes, attrs={"features": int(C), "k": int(k)}, blobs=blobs)
