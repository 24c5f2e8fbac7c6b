// vitflow: the residual add's arithmetic, clamp(round_half_even((a M0 + b M1) / 2^SHIFT)) per element, for
// the add engine (eltwise.h, two operands read from the activation memory, II = 2: its two products per lane
// share one multiplier) and for a convolution that runs the add as its epilogue (conv_pe.h RES: its output
// codes and the residual's word, both products every write). Codes of up to 16 bits times 31-bit
// multipliers: two DSP48E2s a product (flow/estimate/resources.py).
#pragma once
#include "requant.h"
#include "word.h"

namespace vitflow {

// The lanes of two unpacked operands; an element of eb bytes per lane (eb = 2: the first L / 2 lanes).
template <int L>
inline Word<L> weighted_sum(const int a[L], const int b[L], int eb, int m0, int m1, int shift, int lo, int hi) {
#pragma HLS INLINE
    Word<L> yw = zero_word<L>();
    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
        const wide_t acc = wide_t(a[l]) * m0 + wide_t(b[l]) * m1;
        if (eb == 1 || l < L / 2) set_element<L>(yw, l, eb, clamp(round_shift(acc, shift), lo, hi));
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
