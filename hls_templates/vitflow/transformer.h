// vitflow: a softmax transformer's engines as the accelerator dispatches them (a DeiT's layers,
// flow/hls/token_ops.py writes their descriptors): each reads its descriptor's fields into scalars and calls
// its unit.
//   softmax_engine          rows of attention logits (SOFTMAX_*): softmax.h
//   token_layernorm_engine  LayerNorm over each token (TOKEN_LN_*): token_layernorm.h
//   matmul_engine           per head, an activation product (MATMUL_*): MODE 0 A B^T (q k^T, act_matmul),
//                           MODE 1 A B (attn v with v's rows as stored, act_matmul_nn), head after head
//                           (a loop of HEADS calls, not pipelined: each call's loops are)
// Template parameters:
//   L           word bytes
//   MM_ROWS     output columns per cycle of the products (even, divides L)
//   MM_DEPTH    words per bank of A B^T's B buffer (MM_ROWS banks; the largest of the program's products)
//   MMV_DEPTH   words per bank of A B's B buffer (L banks)
//   SM_ROWS     rows of the largest softmax (heads x tokens)
//   SM_ENTRIES  entries of the softmax's exp table (2^bits of the logits)
//   TLN_DIV     outputs per cycle of the token LayerNorm (its dividers; divides L)
//   TLN_C       largest LayerNorm width (channels); TLN_TOKENS largest token count
//   ACC_BITS    accumulator width; ACT_WORDS words of the activation memory
#pragma once
#include "act_matmul.h"
#include "vitflow_layout.h"
#include "softmax.h"
#include "token_layernorm.h"

namespace vitflow {

template <int L, int SM_ROWS, int SM_ENTRIES, int ACT_WORDS>
void softmax_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    softmax_rows<L, SM_ROWS, SM_ENTRIES, ACT_WORDS>(ws, act, d[FIELD_IN0], d[FIELD_OUT], d[SOFTMAX_ROWS], d[SOFTMAX_N],
                                                    d[SOFTMAX_ENTRIES], d[SOFTMAX_RECIP_BITS], d[SOFTMAX_SHIFT],
                                                    d[SOFTMAX_OUT_MAX], d[SOFTMAX_TWO_SHIFT], d[SOFTMAX_FINE_MAX],
                                                    d[SOFTMAX_COARSE_MAX]);
}

template <int L, int TLN_DIV, int TLN_C, int TLN_TOKENS, int ACT_WORDS>
void token_layernorm_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    token_layernorm<L, TLN_DIV, TLN_C, TLN_TOKENS, ACT_WORDS>(ws, act, d[FIELD_IN0], d[FIELD_OUT], d[TOKEN_LN_TOKENS],
                                                             d[TOKEN_LN_C], d[TOKEN_LN_K], d[FIELD_OUT_LO], d[FIELD_OUT_HI]);
}

template <int L, int MM_ROWS, int MM_DEPTH, int MMV_DEPTH, int ACC_BITS, int ACT_WORDS>
void matmul_engine(const int d[DESC_WORDS], Mem<Word<L>, ACT_WORDS> &act) {
    const int heads = d[MATMUL_HEADS], mode = d[MATMUL_MODE], na = d[MATMUL_NA], nb = d[MATMUL_NB];
    const int t_len = d[MATMUL_T], a_head = d[MATMUL_A_HEAD], b_head = d[MATMUL_B_HEAD], o_head = d[MATMUL_OUT_HEAD];
    const int stride = d[MATMUL_OUT_STRIDE], mult = d[MATMUL_MULT], shift = d[MATMUL_SHIFT];
    const int sgn = d[FIELD_SGN_IN0], lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    int a0 = d[FIELD_IN0], b0 = d[FIELD_IN1], o0 = d[FIELD_OUT];
    mm_heads: for (int h = 0; h < heads; h++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 12
        if (mode == 0)
            act_matmul<L, MM_ROWS, MM_DEPTH, ACC_BITS, ACT_WORDS>(act, a0, b0, o0, na, nb, t_len, sgn, stride, mult,
                                                                  shift, lo, hi);
        else
            act_matmul_nn<L, MM_ROWS, MMV_DEPTH, ACC_BITS, ACT_WORDS>(act, a0, b0, o0, na, nb, t_len, sgn, stride,
                                                                     mult, shift, lo, hi);
        a0 += a_head;
        b0 += b_head;
        o0 += o_head;
    }
}

}  // namespace vitflow
