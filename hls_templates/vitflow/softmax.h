// vitflow: the integer softmax unit (the program's softmax kind: a softmax transformer's attention rows,
// flow/lower/rules/transformer.py; the arithmetic is flow.models.deit.IntSoftmax's, which the exported
// graph computes exactly). Per row of N logit codes l (signed, 8-bit):
//   m = max l,  e_j = E[m - l_j]  (E: the exp table, 2^bits entries of 17 bits, E[0] = 2^16),
//   S = sum e_j,  r = floor(2^RECIP / S)  (one division per row),
//   y_j = min((e_j r + 2^(K-1)) >> K, OUT_MAX)   (unsigned codes on the scale 2^-bits)
// With TSPTQ's two scales on the output (TWO_SHIFT = k > 0; flow.models.two_scale_quant, unsigned fine
// codes), 2^-bits is the fine scale and a code above FINE_MAX takes the coarse one, 2^k times larger:
//   y_j <- min(round_half_even(y_j / 2^k), COARSE_MAX) << k        (still an integer at the fine scale)
// a compare, a k-bit shift and an increment per lane (k <= 4), no multiplier.
//
// Layout: row i's N codes in W = ceil(N / L) words from IN0 + i W (lanes past N in the last word are
// ignored and written 0); the output the same way from OUT0. A word of L codes per cycle, in four pipelined
// loops over all rows: the row maxima (sm_max), the row sums (sm_sum), the reciprocals (sm_recip, one
// pipelined divider at II = 1), the outputs (sm_out). The exponentials are looked up twice (in sm_sum and in
// sm_out) instead of kept: a row of 17-bit values would need a second row-sized buffer of L-lane words.
// Every index is a counter (row, word of the row); no division or modulo in a pipelined body but the
// reciprocal's, which is the loop's purpose.
//
// The weight stream: the table, L / 4 entries per word (each a little-endian int32 of 17 significant bits).
//
// Template parameters:
//   L           word bytes: codes per cycle (a power of two)
//   ROWS_MAX    rows of the largest softmax (heads x tokens of one layer run as rows in one call, or one
//               head per call): the sizes of the per-row maxima, sums and reciprocals
//   TAB_ENTRIES entries of the exp table (2^bits of the logits; 256 at 8 bits)
//   ACT_WORDS   words of the on-chip activation memory
#pragma once
#include "cycles.h"
#include "word.h"

namespace vitflow {

typedef ap_uint<17> exp_t;    // an entry of the exp table: 0 .. 2^16
typedef ap_uint<25> recip_t;  // floor(2^40 / S) with S >= 2^16 (the row's max contributes E[0]): < 2^24 + 1

template <int L, int ROWS_MAX, int TAB_ENTRIES, int ACT_WORDS>
void softmax_rows(Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act, int in0, int out0, int rows, int n,
                  int entries, int recip_bits, int shift, int out_max, int two_shift, int fine_max,
                  int coarse_max) {
    static_assert(L >= 4 && (L & (L - 1)) == 0, "a word holds L / 4 table entries");
    const int words = (n + L - 1) / L, last_lanes = n - (words - 1) * L;  // once per call
    // the table, one bank per lane: L lookups per cycle, one per bank (distributed RAM: 2^8 x 17 bits)
    VITFLOW_BUFFER2(exp_t, etab, L, TAB_ENTRIES);
    VITFLOW_PARTITION(etab, complete, 1);
    VITFLOW_STORAGE(etab, ram_1p, lutram, 1);
    // per row: its max, sum and reciprocal (one read and one write per iteration of the loops that touch them)
    VITFLOW_BUFFER1(int, rmax, ROWS_MAX);
    VITFLOW_BUFFER1(ap_uint<32>, rsum, ROWS_MAX);
    VITFLOW_BUFFER1(recip_t, rrec, ROWS_MAX);
    {
        Word<L> w = zero_word<L>();
        int lane = 0;
        VITFLOW_LOOP(sm_table, VITFLOW_DEPTH_COPY);
        sm_table: for (int e = 0; e < entries; e++) {
#pragma HLS LOOP_TRIPCOUNT min = 16 max = 256
            VITFLOW_PIPELINE(sm_table, 1);
            if (lane == 0) w = ws.read();
            const exp_t v = exp_t(uint32_t(word_int(w, lane)));
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                etab[c][e] = v;  // L writes, one per bank
            }
            if (++lane == L / 4) lane = 0;
        }
    }
    const int total = rows * words;
    {
        int row = 0, wd = 0, run = -128;
        VITFLOW_LOOP(sm_max, VITFLOW_DEPTH_ELT);
        sm_max: for (int it = 0; it < total; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 10000
            VITFLOW_PIPELINE(sm_max, 1);
            const Word<L> x = act[in0 + it];
            const int valid = wd == words - 1 ? last_lanes : L;
            int m = wd == 0 ? -128 : run;
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                const int v = int(int8_t(x.b[c]));
                if (c < valid && v > m) m = v;
            }
            run = m;
            if (wd == words - 1) rmax[row] = m;
            if (++wd == words) {
                wd = 0;
                row++;
            }
        }
    }
    {
        int row = 0, wd = 0;
        ap_uint<32> run = 0;
        VITFLOW_LOOP(sm_sum, VITFLOW_DEPTH_SOFTMAX);
        sm_sum: for (int it = 0; it < total; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 10000
            VITFLOW_PIPELINE(sm_sum, 1);
            const Word<L> x = act[in0 + it];
            const int m = rmax[row];
            const int valid = wd == words - 1 ? last_lanes : L;
            ap_uint<32> s = 0;  // the word's L exponentials: an adder tree
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                const int t = (m - int(int8_t(x.b[c]))) & (TAB_ENTRIES - 1);
                const exp_t e = etab[c][t];
                s += c < valid ? ap_uint<32>(e) : ap_uint<32>(0);
            }
            run = (wd == 0 ? ap_uint<32>(0) : run) + s;
            if (wd == words - 1) rsum[row] = run;
            if (++wd == words) {
                wd = 0;
                row++;
            }
        }
    }
    {
        const ap_uint<64> one = ap_uint<64>(1) << recip_bits;
        VITFLOW_LOOP(sm_recip, VITFLOW_DEPTH_DIV);
        sm_recip: for (int row = 0; row < rows; row++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2400
            VITFLOW_PIPELINE(sm_recip, 1);
            const ap_uint<32> s = rsum[row];
            rrec[row] = recip_t(one / ap_uint<64>(s));  // the row's one division (a pipelined divider)
        }
    }
    {
        int row = 0, wd = 0;
        const ap_uint<43> half = ap_uint<43>(1) << (shift - 1);
        // the two-scale rounding's constants, once per call: without two scales no code exceeds fine_lim
        const int fine_lim = two_shift > 0 ? fine_max : out_max;
        const int tmask = (1 << two_shift) - 1, thalf = two_shift > 0 ? 1 << (two_shift - 1) : 0;
        VITFLOW_LOOP(sm_out, VITFLOW_DEPTH_SOFTMAX);
        sm_out: for (int it = 0; it < total; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 10000
            VITFLOW_PIPELINE(sm_out, 1);
            VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (the memory plan)
            const Word<L> x = act[in0 + it];
            const int m = rmax[row];
            const recip_t r = rrec[row];
            const int valid = wd == words - 1 ? last_lanes : L;
            Word<L> y;
#pragma HLS AGGREGATE variable = y compact = bit
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                const int t = (m - int(int8_t(x.b[c]))) & (TAB_ENTRIES - 1);
                const exp_t e = etab[c][t];
                const ap_uint<43> p = ap_uint<43>(e * r) + half;  // 17 x 25 bits: one DSP per lane
                const ap_uint<43> q = p >> shift;
                const int code = q > ap_uint<64>(out_max) ? out_max : int(q);
                // requant.h's round_shift (half to even) on an int: its wide_t form would put a 64-bit
                // shifter in every lane for a code of at most 16 bits
                const int cq = code >> two_shift, rem = code & tmask;
                const int up = cq + int(rem > thalf || (rem == thalf && (cq & 1) && two_shift > 0));
                const int coarse = (up > coarse_max ? coarse_max : up) << two_shift;
                y.b[c] = c < valid ? uint8_t(code > fine_lim ? coarse : code) : 0;
            }
            act[out0 + it] = y;
            if (++wd == words) {
                wd = 0;
                row++;
            }
        }
    }
}

}  // namespace vitflow
