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
# an add's two multipliers (a code of up to 16 bits, signed or not, times each): below 2^24, so a product is
# one 25 x 18 multiplier, one DSP48E1 or DSP48E2 (hls_templates/vitflow/residual.h). The two terms share
# one shift, so the smaller ratio keeps fewer significant bits; 24 still leave it 2^-24 relative error
# against the larger term's scale, far below an output code's half step.
ADD_MULT_BITS = 24


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


def round_shift(x: np.ndarray, shift) -> np.ndarray:
    """round_half_even(x / 2**shift) for int64 ``x``, exactly; ``shift`` is an int or an array that
    broadcasts against ``x`` (one shift per channel); a negative shift multiplies."""
    x = np.asarray(x, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    right = np.maximum(shift, 0)
    x = x << np.maximum(-shift, 0)
    floor = x >> right  # arithmetic shift: floor division for negative x too
    rem = x - (floor << right)
    half = (np.int64(1) << np.maximum(right - 1, 0)) * (right > 0)
    up = (right > 0) & ((rem > half) | ((rem == half) & ((floor & 1) == 1)))
    return floor + up.astype(np.int64)


def round_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """round_half_even(num / den) for int64 arrays with den > 0, exactly (the rational, not a float)."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    if np.any(den <= 0):
        raise FlowError("round_div needs positive denominators")
    q, r = np.divmod(num, den)  # floor division: 0 <= r < den
    up = (2 * r > den) | ((2 * r == den) & ((q & 1) == 1))
    return q + up.astype(np.int64)


def requant_params_shared(ratios, mult_bits: int = MULT_BITS) -> tuple:
    """([multipliers], shift) with ratios[i] ~= multipliers[i] * 2**-shift, one shift for all (for sums of
    differently scaled terms), every multiplier below 2**mult_bits. Exact when the ratios are powers of
    two (and less than 2**mult_bits apart)."""
    ratios = [float(r) for r in ratios]
    if any(not math.isfinite(r) or r <= 0 for r in ratios):
        raise FlowError(f"requantization ratios {ratios} must be positive finite numbers")
    shift = mult_bits - math.frexp(max(ratios))[1]  # the largest lands in [2^(mult_bits-1), 2^mult_bits)
    mults = [round(r * 2.0 ** shift) for r in ratios]
    if max(mults) >= 1 << mult_bits:  # the largest rounded up to 2^mult_bits
        shift -= 1
        mults = [round(r * 2.0 ** shift) for r in ratios]
    if min(mults) < 1:
        raise FlowError(f"scale ratios {ratios} are too far apart to share one shift")
    while all(m % 2 == 0 for m in mults):  # smallest exact form: powers of two become small multipliers
        mults, shift = [m >> 1 for m in mults], shift - 1
    return mults, shift


def requantize(acc: np.ndarray, multiplier, shift, lo: int, hi: int) -> np.ndarray:
    """clamp(round_half_even(acc * multiplier / 2**shift), lo, hi) in int64 arithmetic; multiplier and
    shift are ints or arrays broadcasting against ``acc`` (per channel)."""
    acc = np.asarray(acc, dtype=np.int64)
    multiplier = np.asarray(multiplier, dtype=np.int64)
    if acc.size:
        peak = int(np.abs(acc).max()) * int(np.abs(multiplier).max()) << int(max(0, -np.min(shift)))
        if peak > np.iinfo(np.int64).max:
            raise FlowError(f"requantization overflows int64: |acc| {int(np.abs(acc).max())} "
                            f"x multiplier {int(np.abs(multiplier).max())}")
    return np.clip(round_shift(acc * multiplier, shift), lo, hi)


def int_range(bits: int, signed: bool, narrow: bool = False) -> tuple:
    """(lo, hi) of a QONNX integer quantizer."""
    if signed:
        return -(1 << (bits - 1)) + (1 if narrow else 0), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - (1 if narrow else 0)
