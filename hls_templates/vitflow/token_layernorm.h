// vitflow: the token LayerNorm unit (the program's layernorm over each token of an (N, C) tensor, a DeiT's;
// the arithmetic is layernorm.h's and flow.models' QuantLayerNorm, per token t of C codes q):
//   S = sum q, d = C q - S, V = sum d^2, sigma = max(isqrt(V), 1),
//   y_c = clamp(round_half_even((d_c a_c + sigma b_c) / (sigma 2^K)))     (K < 0: numerator times 2^-K)
// layernorm.h serves a vector, one element per cycle (B1's head: 1,600 elements). A DeiT-Tiny at 224 has
// 25 LayerNorms of 197 tokens x 192 channels, so this unit takes a word of L codes per cycle in the sum and
// variance passes, and DIV outputs per cycle (DIV pipelined small-quotient dividers) in the output pass.
// Each pass is one pipelined loop over all tokens (one fill per pass, not per token):
//   tln_coef  C iterations: the coefficients (a_c, b_c) from the weight stream into DIV banks (channel c in
//             bank c % DIV), once per layer (every token uses them)
//   tln_sum   tokens x C / L: S per token
//   tln_var   tokens x C / L: V per token (L multipliers of 17-bit d)
//   tln_sqrt  ceil(tokens / 2) x 22: the digit-by-digit integer square root on 44 bits, two tokens at a
//             time, one compare-subtract per token and cycle
//   tln_out   tokens x C / DIV: DIV outputs per cycle, each an exact rounded division clamped to the
//             output's byte (requant.h ClampedDiv: 8 compare-subtract stages, not a 64-bit divider)
// Layout: token t's C codes (8-bit, signed) in C / L words from IN0 + t C / L; the output likewise at OUT0.
// The weight stream: (a_c, b_c) as int32 pairs, L / 8 pairs per word. Every index is a counter.
//
// Template parameters:
//   L           word bytes (C must be a multiple of L: a token is whole words)
//   DIV         outputs per cycle of the output pass: pipelined small-quotient dividers (dividing L)
//   C_MAX       largest C: the coefficient banks hold C_MAX / DIV pairs each
//   TOKENS_MAX  largest token count: the per-token sum, variance and sigma buffers
//   ACT_WORDS   words of the on-chip activation memory
#pragma once
#include "cycles.h"
#include "isqrt.h"
#include "word.h"

namespace vitflow {

// the operands' widths, so that each product binds to the DSPs the resource model counts: d = C q - S is
// within +-2 x 128 C <= 2^17 for C <= 512 (18 bits); |a_c| <= 2^15 (the model's LN_COEF_BITS; 2^15 itself
// when the largest coefficient is a power of two: 17 bits);
// sigma = isqrt(V) <= sqrt(C) 2^17 < 2^22
typedef ap_int<18> ln_d_t;
typedef ap_int<17> ln_a_t;
typedef ap_uint<22> ln_sigma_t;
// V = sum_c d_c^2 <= C (255 (C - 1))^2 < 512 x 2^34 = 2^43: the square root runs on 44 bits, 22 steps
// (a 64-bit root would take 32), its result sigma < 2^22
const int SQRT_BITS = 44, SQRT_STEPS = SQRT_BITS / 2;
typedef ap_uint<SQRT_BITS> sqrt_t;
// the output's divisor sigma 2^K < 2^(22 + K): K <= LN_MAX_K (flow/hls/token_ops.py refuses more)
const int LN_MAX_K = 26, LN_DEN_BITS = 22 + LN_MAX_K;

template <int L, int DIV, int C_MAX, int TOKENS_MAX, int ACT_WORDS>
void token_layernorm(Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act, int in0, int out0, int tokens, int ch, int k,
                     int lo, int hi) {
    static_assert(L % DIV == 0 && L >= 8, "an input word feeds L / DIV output iterations; L / 8 pairs per word");
    static_assert(C_MAX <= 512, "d fits 18 bits and sigma 22 bits up to C = 512");
    const int words = ch / L, total = tokens * words;  // once per call
    // a_c and b_c of DIV consecutive channels per cycle: DIV banks each
    VITFLOW_BUFFER2(int32_t, acoef, DIV, C_MAX / DIV);
    VITFLOW_PARTITION(acoef, complete, 1);
    VITFLOW_BUFFER2(int32_t, bcoef, DIV, C_MAX / DIV);
    VITFLOW_PARTITION(bcoef, complete, 1);
    // per token: S, V, sigma (one write in the pass that makes it, one read per iteration of the later ones)
    VITFLOW_BUFFER1(wide_t, tsum, TOKENS_MAX);
    VITFLOW_BUFFER1(wide_t, tvar, TOKENS_MAX);
    VITFLOW_BUFFER1(wide_t, tsig, TOKENS_MAX);
    {
        Word<L> w = zero_word<L>();
        int pl = 0, bank = 0, idx = 0;
        VITFLOW_LOOP(tln_coef, VITFLOW_DEPTH_COPY);
        tln_coef: for (int c = 0; c < ch; c++) {
#pragma HLS LOOP_TRIPCOUNT min = 8 max = 768
            VITFLOW_PIPELINE(tln_coef, 1);
            if (pl == 0) w = ws.read();
            acoef[bank][idx] = word_int<L>(w, 2 * pl);  // one write per bank and cycle
            bcoef[bank][idx] = word_int<L>(w, 2 * pl + 1);
            if (++pl == L / 8) pl = 0;
            if (++bank == DIV) {
                bank = 0;
                idx++;
            }
        }
    }
    {
        int t = 0, wd = 0;
        wide_t run = 0;
        VITFLOW_LOOP(tln_sum, VITFLOW_DEPTH_ELT);
        tln_sum: for (int it = 0; it < total; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 10000
            VITFLOW_PIPELINE(tln_sum, 1);
            const Word<L> x = act[in0 + it];
            wide_t s = 0;  // an adder tree over the word's L codes
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                s += wide_t(int8_t(x.b[c]));
            }
            run = (wd == 0 ? wide_t(0) : run) + s;
            if (wd == words - 1) tsum[t] = run;
            if (++wd == words) {
                wd = 0;
                t++;
            }
        }
    }
    {
        int t = 0, wd = 0;
        wide_t run = 0;
        VITFLOW_LOOP(tln_var, VITFLOW_DEPTH_MAC);
        tln_var: for (int it = 0; it < total; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 10000
            VITFLOW_PIPELINE(tln_var, 1);
            const Word<L> x = act[in0 + it];
            const wide_t s = tsum[t];
            wide_t v = 0;  // L products d^2 (18 x 18 bits: one DSP each), an adder tree
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                const ln_d_t dc = ln_d_t(wide_t(int8_t(x.b[c])) * ch - s);
                v += wide_t(dc * dc);
            }
            run = (wd == 0 ? wide_t(0) : run) + v;
            if (wd == words - 1) tvar[t] = run;
            if (++wd == words) {
                wd = 0;
                t++;
            }
        }
    }
    {
        // the square roots of two tokens at once (2 p and 2 p + 1 in lanes 0 and 1, two independent chains of
        // isqrt.h's step, so the loop-carried path stays one subtract and a select), SQRT_STEPS steps each,
        // flattened over the pairs: step i of pair p at iteration SQRT_STEPS p + i. tvar is read and tsig
        // written twice in an iteration, once per lane: a RAM's two ports.
        sqrt_t v[2], res[2], bit[2];
#pragma HLS ARRAY_PARTITION variable = v complete
#pragma HLS ARRAY_PARTITION variable = res complete
#pragma HLS ARRAY_PARTITION variable = bit complete
        int t = 0, step = 0;
        VITFLOW_LOOP(tln_sqrt, VITFLOW_DEPTH_ISQRT);
        tln_sqrt: for (int it = 0; it < (tokens + 1) / 2 * SQRT_STEPS; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 22 max = 44000
            VITFLOW_PIPELINE(tln_sqrt, 1);
            for (int j = 0; j < 2; j++) {
#pragma HLS UNROLL
                if (step == 0) {
                    const wide_t vt = t + j < tokens ? wide_t(tvar[t + j]) : wide_t(0);  // 0: an odd count's last pair
                    v[j] = sqrt_t(vt);
                    res[j] = 0;
                    bit[j] = sqrt_t(1) << (SQRT_BITS - 2);
                }
                isqrt_step(v[j], res[j], bit[j]);
                if (step == SQRT_STEPS - 1 && t + j < tokens) tsig[t + j] = res[j] < 1 ? wide_t(1) : wide_t(res[j]);
            }
            if (++step == SQRT_STEPS) {
                step = 0;
                t += 2;
            }
        }
    }
    {
        int t = 0, grp = 0, idx = 0, wd = 0, word = 0;  // word: the token word under way, over all tokens
        const int groups = L / DIV, num_shift = k >= 0 ? 0 : -k;
        Word<L> x = zero_word<L>(), y = zero_word<L>();
#pragma HLS AGGREGATE variable = y compact = bit
        VITFLOW_LOOP(tln_out, VITFLOW_DEPTH_QDIV);
        tln_out: for (int it = 0; it < tokens * (ch / DIV); it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 80000
            VITFLOW_PIPELINE(tln_out, 1);
            VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (the memory plan)
            if (grp == 0) x = act[in0 + word];
            const wide_t s = tsum[t], sigma = tsig[t];
            const ln_sigma_t sg = ln_sigma_t(sigma);
            // the token's divisor sigma 2^K (< 2^LN_DEN_BITS), its two products shared by the DIV lanes
            const ClampedDiv<8, LN_DEN_BITS> div(k >= 0 ? wide_t(sigma << k) : sigma, lo, hi);
            for (int j = 0; j < DIV; j++) {
#pragma HLS UNROLL
                const int32_t ac = acoef[j][idx], bc = bcoef[j][idx];
                const ln_d_t d = ln_d_t(wide_t(int8_t(x.b[grp * DIV + j])) * ch - s);
                // d a: 18 x 17 bits (one DSP); sigma b: 22 x 32 bits (two)
                const wide_t num = wide_t(d * ln_a_t(ac)) + wide_t(sg * ap_int<32>(bc));
                y.b[grp * DIV + j] = uint8_t(div(num << num_shift));  // DIV small-quotient dividers
            }
            idx++;
            if (++grp == groups) {
                grp = 0;
                act[out0 + word] = y;
                word++;
                if (++wd == words) {
                    wd = 0;
                    idx = 0;
                    t++;
                }
            }
        }
    }
}

}  // namespace vitflow
