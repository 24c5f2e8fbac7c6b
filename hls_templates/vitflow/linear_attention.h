// vitflow: the linear-attention unit of EfficientViT's LiteMLA (LINEAR_ATTENTION_* fields).
//
// Input: the concatenated q|k|v map, channel g*3D + part*D + j (part 0 q, 1 k, 2 v), N = H*W tokens.
// Per group g (a head), two passes over the tokens:
//   1. k = K_TAB[x_k]  (ReLU and requantization as one table); accumulate
//        kv[i][j] += k_i v_j   and   ksum[i] += k_i        (k^T [v | 1])
//      then requantize kv (KV_*) and ksum (KSUM_*);
//   2. q = Q_TAB[x_q]; num_j = sum_i q_i kv[i][j], den = sum_i q_i ksum[i], requantized (NUM_*, DEN_*);
//      att_j = clamp(round_half_even(2 num_j ATT_MULT / ((2 den + 1) 2^ATT_SHIFT)))   (ATT_*)
//      an exact division by the odd divisor 2 den + 1 (never zero); or, when the layer has a divisor
//      exponent table (EXP_TAB >= 0, Trio-ViT's log2 divisor), a shift:
//      att_j = clamp(round_half_even(2 num_j ATT_MULT / 2^(ATT_SHIFT + EXP[den]))),
//      EXP[den] = round(log2(2 den + 1)) (4 bits).
// Output: channel g*D + j, token n.
// Template parameters:
//   D_MAX     largest head dimension supported (kv is a D_MAX x D_MAX register file)
//   ROWS      rows i of kv updated (pass 1) and of q kv accumulated (pass 2) per cycle: ROWS x D_MAX
//             multipliers in each pass; with the log2 divisor ROWS outputs are shifted per cycle too
//             (the exact divider produces one quotient per cycle)
//   ACC_BITS  accumulator width of the four products (proven by the range analysis)
//   DIVIDER   1: the unit has the exact divider; 0: shift-only (every layer must use the log2 divisor,
//             which flow's project generation checks)
//   P_T       storage type of the parameter words (deduced): int32_t in the accelerator (DDR),
//             ap_int<32> in the hls4ml bridge
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

namespace vitflow {

template <int D_MAX, int ROWS, int ACC_BITS, int DIVIDER, class P_T>
void linear_attention_layer(const int32_t *d, const P_T *prm, int16_t *act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int groups = d[LINEAR_ATTENTION_G], dim = d[LINEAR_ATTENTION_D], n_tok = d[LINEAR_ATTENTION_N];
    const int in_min = d[LINEAR_ATTENTION_IN_MIN];
    const P_T *qtab = prm + d[LINEAR_ATTENTION_Q_TAB], *ktab = prm + d[LINEAR_ATTENTION_K_TAB];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    int16_t kv[D_MAX][D_MAX], ksum[D_MAX];
#pragma HLS ARRAY_PARTITION variable = kv complete dim = 2
    for (int g = 0; g < groups; g++) {
        const int16_t *xq = x + (g * 3 * dim) * n_tok, *xk = xq + dim * n_tok, *xv = xk + dim * n_tok;
        const int steps = (dim + ROWS - 1) / ROWS;  // row groups of ROWS
        const int exp_tab = d[LINEAR_ATTENTION_EXP_TAB];
        const bool shifts = !DIVIDER || exp_tab >= 0;
        // clear, k^T [v|1] fill, requantize kv and ksum (one per cycle), then per token its fill, the den
        // requantization and the outputs: ROWS shifts per cycle, or one quotient of the pipelined divider
        VITFLOW_CYCLES(1 + VITFLOW_FILL_MAC + dim + dim * dim + n_tok * (VITFLOW_FILL_MAC + 1 + (shifts ? steps : dim)));
        acc_t kv_acc[D_MAX][D_MAX], ks_acc[D_MAX];
#pragma HLS ARRAY_PARTITION variable = kv_acc complete dim = 2
        for (int i = 0; i < dim; i++) {
            ks_acc[i] = 0;
            for (int j = 0; j < dim; j++) kv_acc[i][j] = 0;
        }
        for (int n = 0; n < n_tok; n++)
            for (int st = 0; st < steps; st++) {
#pragma HLS PIPELINE II = 1
                VITFLOW_CYCLES(1);
                for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                    const int i = st * ROWS + r;
                    if (i < dim) {
                        const ap_int<16> ki = ktab[xk[i * n_tok + n] - in_min];
                        ks_acc[i] += ki;
                        for (int j = 0; j < dim; j++) {
#pragma HLS UNROLL
                            kv_acc[i][j] += ki * ap_int<16>(xv[j * n_tok + n]);
                        }
                    }
                }
            }
        for (int i = 0; i < dim; i++) {
            ksum[i] = requantize(wide_t(ks_acc[i]), d[LINEAR_ATTENTION_KSUM_MULT], d[LINEAR_ATTENTION_KSUM_SHIFT],
                                 d[LINEAR_ATTENTION_KSUM_LO], d[LINEAR_ATTENTION_KSUM_HI]);
            for (int j = 0; j < dim; j++)
                kv[i][j] = requantize(wide_t(kv_acc[i][j]), d[LINEAR_ATTENTION_KV_MULT], d[LINEAR_ATTENTION_KV_SHIFT],
                                      d[LINEAR_ATTENTION_KV_LO], d[LINEAR_ATTENTION_KV_HI]);
        }
        const int att_shift = d[LINEAR_ATTENTION_ATT_SHIFT];
        for (int n = 0; n < n_tok; n++) {
            acc_t num_acc[D_MAX], den_acc = 0;
#pragma HLS ARRAY_PARTITION variable = num_acc complete
            for (int j = 0; j < dim; j++) num_acc[j] = 0;
            for (int st = 0; st < steps; st++) {
#pragma HLS PIPELINE II = 1
                VITFLOW_CYCLES(1);
                for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                    const int i = st * ROWS + r;
                    if (i < dim) {
                        const ap_int<16> qi = qtab[xq[i * n_tok + n] - in_min];
                        den_acc += qi * ap_int<16>(ksum[i]);
                        for (int j = 0; j < dim; j++) {
#pragma HLS UNROLL
                            num_acc[j] += qi * ap_int<16>(kv[i][j]);
                        }
                    }
                }
            }
            const wide_t den = requantize(wide_t(den_acc), d[LINEAR_ATTENTION_DEN_MULT], d[LINEAR_ATTENTION_DEN_SHIFT],
                                          d[LINEAR_ATTENTION_DEN_LO], d[LINEAR_ATTENTION_DEN_HI]);
            for (int j = 0; j < dim; j++) {
                const wide_t num = requantize(wide_t(num_acc[j]), d[LINEAR_ATTENTION_NUM_MULT],
                                              d[LINEAR_ATTENTION_NUM_SHIFT], d[LINEAR_ATTENTION_NUM_LO],
                                              d[LINEAR_ATTENTION_NUM_HI]);
                wide_t numer = 2 * num * wide_t(d[LINEAR_ATTENTION_ATT_MULT]), att;
                if (shifts) {
                    att = round_shift(numer, att_shift + prm[exp_tab + den]);
                } else {
                    wide_t denom = 2 * den + 1;
                    if (att_shift >= 0) denom = denom << att_shift;
                    else numer = numer << (-att_shift);
                    att = round_div(numer, denom);
                }
                y[(g * dim + j) * n_tok + n] = clamp(att, d[LINEAR_ATTENTION_ATT_LO], d[LINEAR_ATTENTION_ATT_HI]);
            }
        }
    }
}

}  // namespace vitflow
