// vitflow: integer rounding and requantization, identical to flow/lower/requant.py.
//
// Every requantization in the program is clamp(round_half_even(acc * mult / 2^shift), lo, hi):
// mult < 2^31 (1 for power-of-two scale ratios: a pure shift), shift may be negative (a left shift).
// Rounding is round half to even, as QONNX's Quant rounds.
#pragma once
// The open ap_types headers trip GCC's -Wuninitialized inside their own constructors (ap_private's
// clearUnusedBits); silence that for the headers only, so our sources stay -Wall -Werror clean.
#if defined(__GNUC__) && !defined(__SYNTHESIS__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <ap_int.h>
#if defined(__GNUC__) && !defined(__SYNTHESIS__)
#pragma GCC diagnostic pop
#endif
#include <stdint.h>


namespace vitflow {

typedef ap_int<64> wide_t;  // requantization products, LayerNorm and attention division operands

// round_half_even(x / 2^shift); shift <= 0 multiplies by 2^-shift.
inline wide_t round_shift(wide_t x, int shift) {
#pragma HLS INLINE
    if (shift <= 0) return x << (-shift);
    wide_t fl = x >> shift;  // arithmetic shift: floor
    const wide_t mask = (wide_t(1) << shift) - 1;
    wide_t rem = x & mask;   // x - floor(x / 2^shift) 2^shift, without a second shifter
    wide_t half = wide_t(1) << (shift - 1);
    bool up = rem > half || (rem == half && fl[0] == 1);
    return up ? wide_t(fl + 1) : fl;
}

// round_half_even(num / den) for den > 0, exactly (a divider, no reciprocal approximation).
inline wide_t round_div(wide_t num, wide_t den) {
#pragma HLS INLINE
    wide_t q = num / den;  // truncates toward zero
    wide_t r = num - q * den;
    if (r < 0) {           // to floor division
        q = q - 1;
        r = r + den;
    }
    bool up = 2 * r > den || (2 * r == den && q[0] == 1);
    return up ? wide_t(q + 1) : q;
}

inline int clamp(wide_t v, int lo, int hi) {
#pragma HLS INLINE
    return v < lo ? lo : (v > hi ? hi : int(v));
}

inline int requantize(wide_t acc, int32_t mult, int shift, int lo, int hi) {
#pragma HLS INLINE
    return clamp(round_shift(acc * wide_t(mult), shift), lo, hi);
}

}  // namespace vitflow
