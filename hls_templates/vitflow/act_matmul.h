// vitflow: the product of two activations (the program's matmul kind: a DeiT's q k^T and attn v, per head;
// flow/lower/rules/transformer.py). One form serves both:
//   C[i][j] = clamp(round_half_even((sum_t A[i][t] B[j][t]) MULT / 2^SHIFT), LO, HI)
// A's rows are the queries (q, or the softmax output p: 8-bit codes, signed or not), B's rows the operand
// both products read by rows: k for q k^T, and v^T (v's columns, which the producing projection writes as
// rows) for attn v. Inner dimension T: ceil(T / L) words per row of A and of B.
//
// B (NB rows) is first copied into ROWS banks (row j in bank j % ROWS: mm_load, one word per cycle), so the
// MAC loop (mm_mac) reads ROWS rows of B per cycle from ROWS banks at one index: per cycle one word of A (L
// lanes of row i) times ROWS words of B, ROWS x L products on ROWS / 2 x L DSPs (dsp_pack.h: rows 2q and
// 2q+1 share A's lane, the conv PE array's packing). Per row i: ceil(NB / ROWS) blocks of ROWS outputs, each
// after ceil(T / L) words; the outputs of row i fill ceil(NB / L) words (ROWS divides L), written at
// OUT0 + i OUT_STRIDE (OUT_STRIDE > ceil(NB / L) interleaves heads: attn v writes head h's d channels into
// each token's C / L words at the head's offset). Every index is a counter.
//
// Template parameters:
//   L          word bytes: lanes of the inner dimension per cycle (a power of two)
//   ROWS       rows of B per cycle (even, divides L: the DSP pairs, and a word's ROWS-output blocks)
//   B_DEPTH    words per bank: the largest ceil(NB / ROWS) x ceil(T / L) of the program's products
//   ACC_BITS   accumulator width (the range analysis proves it: T x 255 x 128 for attn v)
//   ACT_WORDS  words of the on-chip activation memory
//
// act_matmul_nn: attn v with v in its natural layout (rows = tokens), so no one has to write v^T:
//   C[i][j] = clamp(round_half_even((sum_t A[i][t] B[t][j]) MULT / 2^SHIFT), LO, HI)
// A (NA rows, the softmax output: 8-bit codes, signed or not per A_SIGNED): row i is ceil(T / L) words at
// A0 + i ceil(T / L). B (T rows, tokens; int8 codes): row t is ceil(D / L) words at B0 + t ceil(D / L), D the
// head dimension (the output columns), lanes past D zero. Output row i: D codes in ceil(D / L) words at
// OUT0 + i OUT_STRIDE (OUT_STRIDE >= ceil(D / L) interleaves heads into tokens, as act_matmul's), lanes past
// D written 0.
//
// B is first copied into L banks (mmv_load, one word per cycle): token t into bank t % L at address
// (t / L) ceil(D / L) + word, and the rows t in [T, ceil(T / L) L) zero-filled, so that a word of A (L lanes:
// L tokens t0 .. t0 + L - 1) meets L tokens of B at one address, one per bank, and the last, partial block of
// tokens multiplies zeros (A's lanes past T may then hold anything). The MAC loop (mmv_mac) runs
// NA x ceil(D / ROWS) x ceil(T / L) iterations: per cycle one word of A and, from each of the L banks, the
// word holding columns jb ROWS .. jb ROWS + ROWS - 1 of its token (ROWS divides L, so a block of ROWS
// columns never straddles a word; the block's word and lane offset are the output word's counters); ROWS
// accumulators, ROWS x L products on ROWS / 2 x L DSPs (dsp_pack.h: columns 2q and 2q+1 of one token share
// A's lane). Per row i, ceil(D / ROWS) blocks of ROWS outputs, each after ceil(T / L) words. Every index is
// a counter.
//   act_matmul_nn's B_DEPTH: words per bank, the largest ceil(T / L) x ceil(D / L) of the program's products
//   (its ROWS: columns per cycle, even, divides L; the others as act_matmul's)
#pragma once
#include "cycles.h"
#include "dsp_pack.h"
#include "word.h"

namespace vitflow {

// A block's ROWS outputs (columns first .. first + ROWS - 1, 0 from column n on), requantized into lanes
// lane .. lane + ROWS - 1 of the output word y: ROWS requantizers, once per block.
template <int L, int ROWS, class ACC>
inline void put_block(Word<L> &y, const ACC acc[ROWS], int lane, int first, int n, int mult, int shift, int lo,
                      int hi) {
#pragma HLS INLINE
    for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
        y.b[lane + r] = first + r < n ? uint8_t(requantize(wide_t(acc[r]), mult, shift, lo, hi)) : 0;
    }
}

// A's word as the L multiplier operands (its 8-bit codes, signed or not).
template <int L>
inline void a_lanes(const Word<L> &aw, int a_signed, pack_b_t xa[L]) {
#pragma HLS INLINE
    for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
        xa[c] = a_signed ? int(int8_t(aw.b[c])) : int(aw.b[c]);
    }
}

// Two outputs' products over a word: hi[c] and lo[c] times A's lane c on one packed DSP per lane (dsp_pack.h),
// two adder trees, added to acc_hi and acc_lo (restarted at the row's first word).
template <int L, class ACC>
inline void mac_pair(const int8_t hi[L], const int8_t lo[L], const pack_b_t xa[L], bool first, ACC &acc_hi,
                     ACC &acc_lo) {
#pragma HLS INLINE
    int s_hi = 0, s_lo = 0;
    for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
        prod_t p_hi, p_lo;
        mul2(hi[c], lo[c], xa[c], p_hi, p_lo);
        s_hi += int(p_hi);
        s_lo += int(p_lo);
    }
    acc_hi = (first ? ACC(0) : acc_hi) + s_hi;
    acc_lo = (first ? ACC(0) : acc_lo) + s_lo;
}

template <int L, int ROWS, int B_DEPTH, int ACC_BITS, int ACT_WORDS>
void act_matmul(Mem<Word<L>, ACT_WORDS> &act, int a0, int b0, int out0, int na, int nb, int t_len, int a_signed,
                int out_stride, int mult, int shift, int lo, int hi) {
    static_assert(ROWS >= 2 && ROWS % 2 == 0 && L % ROWS == 0, "rows pair on a DSP; ROWS divides L");
    typedef ap_int<ACC_BITS> acc_t;
    const int tw = (t_len + L - 1) / L, blocks = (nb + ROWS - 1) / ROWS;  // once per call
    VITFLOW_BUFFER2(Word<L>, bbuf, ROWS, B_DEPTH);
    VITFLOW_PARTITION(bbuf, complete, 1);  // ROWS banks: a cycle's ROWS reads, one per bank
    VITFLOW_AGGREGATE(bbuf);               // one L-byte word per address
    {
        int r = 0, blk = 0, w = 0, src = b0;
        VITFLOW_LOOP(mm_load, VITFLOW_DEPTH_COPY);
        mm_load: for (int it = 0; it < nb * tw; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 2400
            VITFLOW_PIPELINE(mm_load, 1);
            bbuf[r][blk + w] = act[src++];  // row j = blk / tw * ROWS + r, word w
            if (++w == tw) {
                w = 0;
                if (++r == ROWS) {
                    r = 0;
                    blk += tw;
                }
            }
        }
    }
    acc_t acc[ROWS];
#pragma HLS ARRAY_PARTITION variable = acc complete
    Word<L> y = zero_word<L>();
#pragma HLS AGGREGATE variable = y compact = bit
    int blk = 0, w = 0, bidx = 0, lane = 0, arow = a0, orow = out0, ow = 0;
    VITFLOW_LOOP(mm_mac, VITFLOW_DEPTH_CONV);
    mm_mac: for (int it = 0; it < na * blocks * tw; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 200000
        VITFLOW_PIPELINE(mm_mac, 1);
        VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps A (the memory plan)
        const Word<L> aw = act[arow + w];
        pack_b_t xa[L];
#pragma HLS ARRAY_PARTITION variable = xa complete
        a_lanes<L>(aw, a_signed, xa);  // A's lanes past T hold zeros
        for (int q = 0; q < ROWS / 2; q++) {
#pragma HLS UNROLL
            const Word<L> b_hi = bbuf[2 * q][bidx + w], b_lo = bbuf[2 * q + 1][bidx + w];
            int8_t hi_l[L], lo_l[L];  // rows 2q and 2q + 1 of B, lane by lane (over the inner dimension)
#pragma HLS ARRAY_PARTITION variable = hi_l complete
#pragma HLS ARRAY_PARTITION variable = lo_l complete
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                hi_l[c] = int8_t(b_hi.b[c]);
                lo_l[c] = int8_t(b_lo.b[c]);
            }
            mac_pair<L>(hi_l, lo_l, xa, w == 0, acc[2 * q], acc[2 * q + 1]);
        }
        if (w == tw - 1) {  // the block's ROWS outputs, into lanes lane .. lane + ROWS - 1 of the output word
            put_block<L, ROWS>(y, acc, lane, blk * ROWS, nb, mult, shift, lo, hi);
            lane += ROWS;
            if (lane == L || blk == blocks - 1) {  // the word is full, or the row's last block
                act[orow + ow] = y;
                y = zero_word<L>();  // the next word's lanes past NB stay 0
                ow++;
                lane = 0;
            }
        }
        if (++w == tw) {
            w = 0;
            bidx += tw;
            if (++blk == blocks) {
                blk = 0;
                bidx = 0;
                ow = 0;
                arow += tw;
                orow += out_stride;
            }
        }
    }
}

// C = requant(A B), B in its rows-are-tokens layout (see the header's comment).
template <int L, int ROWS, int B_DEPTH, int ACC_BITS, int ACT_WORDS>
void act_matmul_nn(Mem<Word<L>, ACT_WORDS> &act, int a0, int b0, int out0, int na, int d_len, int t_len,
                   int a_signed, int out_stride, int mult, int shift, int lo, int hi) {
    static_assert(ROWS >= 2 && ROWS % 2 == 0 && L % ROWS == 0, "columns pair on a DSP; ROWS divides L");
    typedef ap_int<ACC_BITS> acc_t;
    const int tw = (t_len + L - 1) / L, dw = (d_len + L - 1) / L, blocks = (d_len + ROWS - 1) / ROWS;  // once
    VITFLOW_BUFFER2(Word<L>, vbuf, L, B_DEPTH);
    VITFLOW_PARTITION(vbuf, complete, 1);  // L banks: a cycle's L reads (L tokens), one per bank
    VITFLOW_AGGREGATE(vbuf);               // one L-byte word per address
    {
        int c = 0, w = 0, blk = 0, t = 0, src = b0;
        VITFLOW_LOOP(mmv_load, VITFLOW_DEPTH_COPY);
        mmv_load: for (int it = 0; it < tw * L * dw; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 1024
            VITFLOW_PIPELINE(mmv_load, 1);
            Word<L> x = zero_word<L>();
#pragma HLS AGGREGATE variable = x compact = bit
            if (t < t_len) x = act[src++];  // rows past T: zeros
            vbuf[c][blk + w] = x;           // token t = blk / dw * L + c, word w
            if (++w == dw) {
                w = 0;
                t++;
                if (++c == L) {
                    c = 0;
                    blk += dw;
                }
            }
        }
    }
    acc_t acc[ROWS];
#pragma HLS ARRAY_PARTITION variable = acc complete
    Word<L> y = zero_word<L>();
#pragma HLS AGGREGATE variable = y compact = bit
    // blk: the column block; w: A's word (tokens w L ..); bidx = w dw; ow, lane: the block's word and first
    // lane, in B's rows and in the output row alike
    int blk = 0, w = 0, bidx = 0, ow = 0, lane = 0, arow = a0, orow = out0;
    VITFLOW_LOOP(mmv_mac, VITFLOW_DEPTH_CONV);
    mmv_mac: for (int it = 0; it < na * blocks * tw; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 200000
        VITFLOW_PIPELINE(mmv_mac, 1);
        VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps A (the memory plan)
        const Word<L> aw = act[arow + w];
        pack_b_t xa[L];
#pragma HLS ARRAY_PARTITION variable = xa complete
        a_lanes<L>(aw, a_signed, xa);
        Word<L> bw[L];  // token w L + c's word holding the block's columns, from bank c
#pragma HLS ARRAY_PARTITION variable = bw complete
        for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
            bw[c] = vbuf[c][bidx + ow];
        }
        for (int q = 0; q < ROWS / 2; q++) {
#pragma HLS UNROLL
            int8_t hi_l[L], lo_l[L];  // columns 2q and 2q + 1 of the block, token by token
#pragma HLS ARRAY_PARTITION variable = hi_l complete
#pragma HLS ARRAY_PARTITION variable = lo_l complete
            for (int c = 0; c < L; c++) {
#pragma HLS UNROLL
                hi_l[c] = int8_t(bw[c].b[lane + 2 * q]);
                lo_l[c] = int8_t(bw[c].b[lane + 2 * q + 1]);
            }
            mac_pair<L>(hi_l, lo_l, xa, w == 0, acc[2 * q], acc[2 * q + 1]);
        }
        if (w == tw - 1) {  // the block's ROWS outputs, into lanes lane .. lane + ROWS - 1 of the output word
            put_block<L, ROWS>(y, acc, lane, blk * ROWS, d_len, mult, shift, lo, hi);
            lane += ROWS;
            if (lane == L || blk == blocks - 1) {  // the word is full, or the row's last block
                act[orow + ow] = y;
                y = zero_word<L>();  // the lanes a last, partial word leaves unwritten stay 0
                ow++;
                lane = 0;
            }
        }
        if (++w == tw) {
            w = 0;
            bidx = 0;
            if (++blk == blocks) {
                blk = 0;
                ow = 0;
                arow += tw;
                orow += out_stride;
            }
        } else {
            bidx += dw;
        }
    }
}

}  // namespace vitflow
