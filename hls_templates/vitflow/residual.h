// vitflow: the residual add's arithmetic, clamp(round_half_even((a M0 + b M1) / 2^SHIFT)) per element, for
// the add engine (eltwise.h, two operands read from the activation memory, II = 2) and for a convolution
// that runs the add as its epilogue (conv_pe.h RES: the residual's word and its output codes, multiplied in
// different iterations). Codes of up to 16 bits times 31-bit multipliers: two DSP48E2s a product
// (flow/estimate/resources.py), one such multiplier per lane in either unit.
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

// The conv PE array's residual add (conv_pe.h RES) with one multiplier per lane: a word's L products with
// one multiplier m (the residual's words, then the output codes, in iterations of their own), and the sum of
// two such sets of products, rounded, clamped and packed.
template <int L>
inline void lane_products(const Word<L> &w, int eb, int sgn, int m, wide_t prod[L]) {
#pragma HLS INLINE
    int x[L];
#pragma HLS ARRAY_PARTITION variable = x complete
    unpack<L>(w, eb, sgn, x);
    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
        prod[l] = wide_t(x[l]) * m;
    }
}

template <int L>
inline Word<L> sum_products(const wide_t a[L], const wide_t b[L], int eb, int shift, int lo, int hi) {
#pragma HLS INLINE
    Word<L> yw = zero_word<L>();
    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
        if (eb == 1 || l < L / 2) set_element<L>(yw, l, eb, clamp(round_shift(a[l] + b[l], shift), lo, hi));
    }
    return yw;
}

}  // namespace vitflow
