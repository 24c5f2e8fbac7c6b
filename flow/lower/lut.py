"""Unary functions of a quantized tensor as lookup tables: activations, and requantizations that take
one code to another (ReLU, concatenation inputs, the attention's q and k).

The model quantizes every Hardswish input (flow.models: ConvNormAct's pre-activation quantizer), so
the activation is a function of one act_bits-wide integer code: a 2**bits-entry table. Each entry is
computed with the exported graph's own float32 steps (dequantize, Mul 1/6, Add 1/2, Clip 0..1, Mul,
then the output Quant with round half to even), so the table equals QONNX execution by construction,
for power-of-two and free scales alike.
"""

import numpy as np

from .requant import int_range


def _quantize_f32(x: np.ndarray, scale, lo: int, hi: int, zero_point=0) -> np.ndarray:
    # QONNX Quant: clip(x / scale + zero point), then ROUND = half to even
    return np.round(np.clip(x / scale + np.asarray(zero_point, dtype=np.float32), lo, hi)).astype(np.int64)


def hardswish_values(in_scale: float, in_bits: int, in_signed: bool) -> np.ndarray:
    """hardswish(code * in_scale) in float32 for every input code lo..hi, with the graph's own steps."""
    lo, hi = int_range(in_bits, in_signed)
    x = np.arange(lo, hi + 1, dtype=np.float32) * np.float32(in_scale)
    gate = np.clip(x * np.float32(1.0 / 6.0) + np.float32(0.5), np.float32(0.0), np.float32(1.0))
    return x * gate


def hardswish_lut(in_scale: float, in_bits: int, in_signed: bool,
                  out_scale, out_bits: int, out_signed: bool, out_zero_point=0) -> np.ndarray:
    """Table t with t[code - lo] = quantized hardswish(code * in_scale), codes lo..hi of the input; an
    asymmetric output's codes include its zero point. With an output scale or zero point per channel
    (channel-wise migration, filter-wise shift; sequences of C values) one table row per channel:
    t[c, code - lo]."""
    y = hardswish_values(in_scale, in_bits, in_signed)
    per_channel = np.ndim(out_scale) > 0 or np.ndim(out_zero_point) > 0
    if per_channel:
        rows = max(np.size(out_scale), np.size(out_zero_point))
        scale = np.broadcast_to(np.asarray(out_scale, dtype=np.float32).reshape(-1), (rows,))[:, None]
        zp = np.broadcast_to(np.asarray(out_zero_point).reshape(-1), (rows,))[:, None]
        return _quantize_f32(y[None, :], scale, *int_range(out_bits, out_signed), zero_point=zp)
    return _quantize_f32(y, np.float32(out_scale), *int_range(out_bits, out_signed), zero_point=out_zero_point)


def requant_lut(in_scale: float, in_bits: int, in_signed: bool, out_scale: float, out_bits: int, out_signed: bool,
                relu: bool = False) -> np.ndarray:
    """Table of a unary requantization (optionally after ReLU), with QONNX's float32 steps: dequantize,
    [max(x, 0)], divide by the output scale, round half to even, clip. For power-of-two scales this is
    the shift requant.py computes; for free scales it also reproduces the graph's float rounding, which a
    multiplier-and-shift cannot near ties."""
    lo, hi = int_range(in_bits, in_signed)
    x = np.arange(lo, hi + 1, dtype=np.float32) * np.float32(in_scale)
    if relu:
        x = np.maximum(x, np.float32(0.0))
    return _quantize_f32(x, np.float32(out_scale), *int_range(out_bits, out_signed))


def apply_lut(codes: np.ndarray, table: np.ndarray, in_bits: int, in_signed: bool) -> np.ndarray:
    lo, _ = int_range(in_bits, in_signed)
    return table[np.asarray(codes, dtype=np.int64) - lo]
