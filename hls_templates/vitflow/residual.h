// vitflow: the residual add's arithmetic, clamp(round_half_even((a M0 + b M1) / 2^SHIFT)) per element, for
// the add engine (eltwise.h, two operands read from the activation memory, II = 2: its two products per lane
// share one multiplier) and for a convolution that runs the add as its epilogue (conv_pe.h RES: its output
// codes and the residual's word, both products every write). Codes of up to 16 bits (17-bit signed) times
// multipliers below 2^24 (the lowering's ADD_MULT_BITS, flow/lower/requant.py; flow/hls/project.py refuses
// a program with wider ones): a 25 x 18 product, one DSP48E1 or DSP48E2 each (flow/estimate/resources.py).
//
// Synthesis sees those widths (and C-simulation with VITFLOW_PACK_AP_INT, as dsp_pack.h); plain
// C-simulation runs the same arithmetic on native 64-bit integers.
#pragma once
#include "dsp_pack.h"
#include "word.h"

namespace vitflow {

const int ADD_MULT_BITS = 24;  // an add's multipliers lie in 1 .. 2^ADD_MULT_BITS - 1 (the lowering's)

#if defined(__SYNTHESIS__) || defined(VITFLOW_PACK_AP_INT)
typedef ap_uint<ADD_MULT_BITS> add_mult_t;    // an add's multiplier
typedef ap_int<17 + ADD_MULT_BITS> add_prod_t;  // a 17-bit code times it: -2^16 < p < 2^40
typedef ap_int<18 + ADD_MULT_BITS> add_sum_t;   // the two products' sum
#else
typedef long long add_mult_t;
typedef long long add_prod_t;
typedef long long add_sum_t;
#endif

// The lanes of two unpacked operands; an element of eb bytes per lane (eb = 2: the first L / 2 lanes).
template <int L>
inline Word<L> weighted_sum(const int a[L], const int b[L], int eb, int m0, int m1, int shift, int lo, int hi) {
#pragma HLS INLINE
    Word<L> yw = zero_word<L>();
#if !defined(__SYNTHESIS__) && !defined(VITFLOW_NO_AUDIT)
    // the native form would compute a wider multiplier right where synthesis truncates it
    if (m0 <= 0 || m1 <= 0 || m0 >= (1 << ADD_MULT_BITS) || m1 >= (1 << ADD_MULT_BITS))
        audit::fail("an add multiplier outside 1 .. 2^" + std::to_string(ADD_MULT_BITS) + " - 1");
#endif
    const add_mult_t mm0 = m0, mm1 = m1;
    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
        const add_prod_t p0 = code_t(a[l]) * mm0;
#pragma HLS BIND_OP variable = p0 op = mul impl = dsp  // one DSP a product (the resource model's count)
        const add_prod_t p1 = code_t(b[l]) * mm1;
#pragma HLS BIND_OP variable = p1 op = mul impl = dsp
        const add_sum_t acc = add_sum_t(p0) + p1;
        if (eb == 1 || l < L / 2) set_element<L>(yw, l, eb, clamp(round_shift(wide_t(acc), shift), lo, hi));
    }
    return yw;
}

// Two packed words of one element width: `aw`'s codes (signed when sgn_a) weighted M0, `bw`'s M1 (the conv PE
// array's epilogue: its output codes and the residual's word, conv_pe.h RES).
template <int L>
inline Word<L> residual_sum(const Word<L> &aw, const Word<L> &bw, int eb, int sgn_a, int sgn_b, int m0, int m1,
                            int shift, int lo, int hi) {
#pragma HLS INLINE
    int a[L], b[L];
#pragma HLS ARRAY_PARTITION variable = a complete
#pragma HLS ARRAY_PARTITION variable = b complete
    unpack<L>(aw, eb, sgn_a, a);
    unpack<L>(bw, eb, sgn_b, b);
    return weighted_sum<L>(a, b, eb, m0, m1, shift, lo, hi);
}

}  // namespace vitflow
