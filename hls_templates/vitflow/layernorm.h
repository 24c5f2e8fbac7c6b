// vitflow: integer LayerNorm over a vector of C codes x (LAYERNORM_* fields), exactly the program's:
//   q_c = x_c << sh_c (sh: TSPTQ's outlier-aware two scales, int32 parameters at SH_OFF; none when < 0),
//   S = sum q, d = C q - S, V = sum d^2, sigma = max(isqrt(V), 1),
//   y = clamp(round_half_even((d a_c + sigma b_c) / (sigma 2^K)))      (K < 0: numerator times 2^-K)
// isqrt is the digit-by-digit (shift-subtract) integer square root, 32 iterations for a 64-bit V;
// the division is an exact divider. a_c, b_c are int32 parameters.
// Template parameters:
//   LANES  elements normalised in parallel in the final pass
//   P_T    storage type of the parameter words (deduced): int32_t in the accelerator (DDR),
//          ap_int<32> in the hls4ml bridge
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

namespace vitflow {

inline ap_uint<64> isqrt64(ap_uint<64> v) {
    ap_uint<64> res = 0, bit = ap_uint<64>(1) << 62;
    for (int i = 0; i < 32; i++) {
#pragma HLS PIPELINE II = 1
        if (v >= res + bit) {
            v -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

// input c at the fine scale: the code, shifted left by its channel's shift when there are shifts
template <class P_T>
inline wide_t layernorm_in(const int16_t *x, const P_T *prm, int sh_off, int c) {
    return sh_off < 0 ? wide_t(x[c]) : wide_t(wide_t(x[c]) << int(prm[sh_off + c]));
}

template <int LANES, class P_T>
void layernorm_layer(const int32_t *d, const P_T *prm, int16_t *act) {
    const int ch = d[LAYERNORM_C], k = d[LAYERNORM_K];
    const P_T *a = prm + d[LAYERNORM_A_OFF], *b = prm + d[LAYERNORM_B_OFF];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int sh_off = d[LAYERNORM_SH_OFF];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    VITFLOW_CYCLES(VITFLOW_FILL_COPY + VITFLOW_FILL_MAC + VITFLOW_ISQRT_LATENCY + VITFLOW_FILL_COPY);
    wide_t s = 0;
    for (int c = 0; c < ch; c++) {
#pragma HLS PIPELINE II = 1
        VITFLOW_CYCLES(1);
        s += layernorm_in(x, prm, sh_off, c);
    }
    wide_t v = 0;
    for (int c = 0; c < ch; c++) {
#pragma HLS PIPELINE II = 1
        VITFLOW_CYCLES(1);
        const wide_t dc = layernorm_in(x, prm, sh_off, c) * ch - s;
        v += dc * dc;
    }
    wide_t sigma = wide_t(isqrt64(ap_uint<64>(v)));
    if (sigma < 1) sigma = 1;
    const wide_t den = k >= 0 ? wide_t(sigma << k) : sigma;
    for (int c = 0; c < ch; c++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
        if (c % LANES == 0) VITFLOW_CYCLES(1);  // a pipelined divider per lane
        wide_t num = (layernorm_in(x, prm, sh_off, c) * ch - s) * a[c] + sigma * b[c];
        if (k < 0) num = num << (-k);
        y[c] = clamp(round_div(num, den), lo, hi);
    }
}

}  // namespace vitflow
