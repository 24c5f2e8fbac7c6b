"""Requantization: an integer accumulator times a real scale ratio, in integer arithmetic only.

A float ratio r (e.g. s_in * s_w / s_out) becomes r ~= M * 2^-shift with an integer multiplier M of at
most ``MULT_BITS`` bits; a power of two becomes M = 1 (a pure shift) and is exact. Rounding is round half
to even, as QONNX's Quant node rounds (its "ROUND" mode is numpy.round), so a power-of-two requantization
equals QONNX's float computation bit for bit.
"""

import math

import numpy as np

from flow.errors import FlowError

MULT_BITS = 31  # multiplier fits an int32 (and a DSP48E2 27x18 pair in two steps)


def requant_params(ratio: float, mult_bits: int = MULT_BITS) -> tuple:
    """(multiplier, shift) with ratio ~= multiplier * 2**-shift; exact when ``ratio`` is a power of two
    or has at most ``mult_bits`` significant bits. shift may be negative (a left shift)."""
    if not math.isfinite(ratio) or ratio <= 0:
        raise FlowError(f"requantization ratio {ratio!r} must be a positive finite number")
    mantissa, exponent = math.frexp(ratio)  # ratio = mantissa * 2**exponent, mantissa in [0.5, 1)
    multiplier = round(mantissa * (1 << mult_bits))
    shift = mult_bits - exponent
    if multiplier == 1 << mult_bits:  # mantissa rounded up to 1.0
        multiplier, shift = multiplier >> 1, shift - 1
    while multiplier % 2 == 0 and multiplier > 1:  # smallest exact form: powers of two become M = 1
        multiplier, shift = multiplier >> 1, shift - 1
    return multiplier, shift


def round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """round_half_even(x / 2**shift) for int64 ``x``, exactly; a negative shift multiplies."""
    x = np.asarray(x, dtype=np.int64)
    if shift <= 0:
        return x << (-shift)
    floor = x >> shift  # arithmetic shift: floor division for negative x too
    rem = x - (floor << shift)
    half = np.int64(1) << (shift - 1)
    up = (rem > half) | ((rem == half) & ((floor & 1) == 1))
    return floor + up.astype(np.int64)


def requantize(acc: np.ndarray, multiplier: int, shift: int, lo: int, hi: int) -> np.ndarray:
    """clamp(round_half_even(acc * multiplier / 2**shift), lo, hi) in int64 arithmetic."""
    acc = np.asarray(acc, dtype=np.int64)
    limit = np.iinfo(np.int64).max // max(multiplier, 1)
    if acc.size and int(np.abs(acc).max()) > limit:
        raise FlowError(f"requantization overflows int64: |acc| {int(np.abs(acc).max())} x multiplier {multiplier}")
    return np.clip(round_shift(acc * np.int64(multiplier), shift), lo, hi)


def int_range(bits: int, signed: bool, narrow: bool = False) -> tuple:
    """(lo, hi) of a QONNX integer quantizer."""
    if signed:
        return -(1 << (bits - 1)) + (1 if narrow else 0), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - (1 if narrow else 0)
