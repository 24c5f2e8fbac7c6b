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

// clamp(round_div(num, den), lo, hi) without a general divider, for 0 < den < 2^DB and a range of at most
// 2^QB codes (hi - lo < 2^QB): one object per divisor (its products once), then one call per numerator.
// With M = 2 num + den and E = 2 den, floor(M / E) is num / den rounded half up, and a zero remainder
// marks a tie (then the odd result steps down to the even one). Below lo E the result is lo, from
// (hi + 1) E on it is hi; in between, M - lo E < 2^QB E, so the quotient has QB bits: QB compare-subtract
// stages of DB + QB + 1 bits (restoring division). They are feed-forward, so a loop calling this
// pipelines at II = 1 with the stages as its depth (VITFLOW_DEPTH_QDIV); a 64-bit divider is 64 stages of
// 64 bits. Equal to clamp(round_div(num, den), lo, hi) for every such input: tests/hls/test_clamped_div.py.
//   QB  bits of the output range (8 for byte codes)
//   DB  bits of the divisor
template <int QB, int DB>
struct ClampedDiv {
    static_assert(DB + 12 <= 68 && QB <= 16, "M and lo E fit 68 bits");
    typedef ap_int<68> m_t;               // M = 2 num + den (num: 64 bits), lo E, (hi - lo + 1) E
    typedef ap_uint<DB + QB + 1> r_t;     // the partial remainder, < 2^QB E
    ap_uint<DB> den;
    ap_uint<DB + 1> e;
    m_t lo_e, span_e;
    int lo, hi;
    ClampedDiv(wide_t d, int lo_, int hi_) : den(d), lo(lo_), hi(hi_) {
#pragma HLS INLINE
        e = ap_uint<DB + 1>(den) << 1;
        lo_e = m_t(ap_int<QB + 2>(lo) * ap_int<DB + 2>(e));           // a narrow product: QB + 2 x DB + 2 bits
        span_e = m_t(ap_uint<QB + 1>(hi - lo + 1) * ap_uint<DB + 1>(e));
    }
    int operator()(wide_t num) const {
#pragma HLS INLINE
        const m_t mp = (m_t(num) << 1) + m_t(den) - lo_e;  // M - lo E
        if (mp < 0) return lo;
        if (mp >= span_e) return hi;
        r_t r = r_t(mp);
        ap_uint<QB> q = 0;
        for (int b = QB - 1; b >= 0; b--) {
#pragma HLS UNROLL
            const r_t step = r_t(e) << b;
            if (r >= step) {
                r -= step;
                q[b] = 1;
            }
        }
        const int f = lo + int(q);
        const int res = (r == 0 && (f & 1)) ? f - 1 : f;  // a tie: half to even
        return res < lo ? lo : res;
    }
};

inline int requantize(wide_t acc, int32_t mult, int shift, int lo, int hi) {
#pragma HLS INLINE
    return clamp(round_shift(acc * wide_t(mult), shift), lo, hi);
}

}  // namespace vitflow
