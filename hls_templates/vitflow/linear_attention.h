// vitflow: the linear-attention unit of EfficientViT's LiteMLA (LINEAR_ATTENTION_* fields).
//
// Input: the concatenated q|k|v map, N = H*W tokens; group g (a head) has its q, k and v in the input's
// channel blocks 3g, 3g+1, 3g+2 of D channels each. The memory plan lays the input out so that no block
// straddles a word: densely when D divides the word's lanes (BLOCK_LANES = D: L / EB_IN / D blocks share a
// word) or the lanes divide D (blocks of WS_IN whole words), else each block from a word boundary (WS_IN
// words, padded). Per group, three loops:
//   1. k = K_TAB[x_k] (ReLU and requantization as one table); over the tokens accumulate
//        kv[i][j] += k_i v_j   and   ksum[i] += k_i        (k^T [v | 1])
//      ROWS rows i by one word of v columns j per cycle: ROWS x min(D_MAX, L) products (two per DSP with
//      PACK);
//   2. requantize kv (KV_*) and ksum (KSUM_*) into registers: ROWS values of a row of kv per cycle, and
//      its ksum with the first (ROWS + 1 requantizers);
//   3. per token: q = Q_TAB[x_q]; num_j = sum_i q_i kv[i][j], den = sum_i q_i ksum[i] (ROWS rows per cycle,
//      ROWS x D_MAX products, two per DSP with PACK, and ROWS for den), requantized (NUM_*, DEN_*), then
//      the outputs, OUTS per cycle, beside the next token's rows: a token's sums are held (num_hold,
//      den_hold) at the end of its period of P = max(row steps, output steps) iterations and its outputs
//      are computed in the next period's last output-steps iterations, so the loop runs (N + 1) P
//      iterations where rows then outputs took N (row steps + output steps). A group whose outputs read
//      back a word another group wrote lanes of, in a single output step, keeps P = row steps + 1 (the
//      read back, the write and a q read would be three accesses of the memory's two ports in one
//      iteration):
//      att_j = clamp(round_half_even(2 num_j ATT_MULT / ((2 den + 1) 2^ATT_SHIFT)))   (ATT_*)
//      an exact division by the odd divisor 2 den + 1 (never zero), one pipelined divider per output
//      lane; or, when the layer has a divisor exponent table (EXP_WORDS > 0, Trio-ViT's log2 divisor), a
//      shift: att_j = clamp(round_half_even(2 num_j ATT_MULT / 2^(ATT_SHIFT + EXP[den]))), ROWS per cycle.
// Output: group g's D channels, token after token: densely when D divides an output word's lanes
// (OUT_BLOCK_LANES = D: the lanes_out / D groups of a word each write it whole, the later ones over the
// word read back at the token's first output step, on the port the q reads leave free), else from a word
// boundary (WS_OUT words per group).
// The weight stream: the q table and the k table (2^bits entries of EB_T bytes each, L / EB_T per word,
// each table from a word boundary; copied into ROWS banks each, one lookup per bank per cycle), then the
// exponent table (one byte per den code, L per word) when the layer divides by shifting.
//
// Template parameters:
//   L          word bytes (ROWS must divide the input's lanes per word, L / EB_IN)
//   D_MAX      largest head dimension supported (kv is a D_MAX x D_MAX register file)
//   ROWS       rows i of kv updated (loop 1) and of q kv accumulated (loop 3) per cycle, and columns of a kv
//              row requantized per cycle (loop 2); a power of two, at most D_MAX
//   DIVIDERS   exact dividers (outputs per cycle of an exact layer); 0: shift-only (every layer must use
//              the log2 divisor, which flow's project generation checks). Each is requant.h's ClampedDiv:
//              the output's range is at most 16 bits and the divisor (2 den + 1) 2^att_shift below 2^48
//              (flow/hls/project.py checks both), so 16 compare-subtract stages give the clamped quotient
//   ACC_BITS   accumulator width of the four products (proven by the range analysis)
//   PACK       1: the products of loops 1 and 3 two per DSP48E2 (dsp_pack.h): in loop 1 two v codes share
//              a row's k, in loop 3 two kv codes of a row share its q. It needs every layer's v codes
//              and kv codes signed 8-bit and its q and k tables within -256..255 (flow's project
//              generation checks it); 0: one DSP per product, any width (q ksum is never packed: one
//              product per row)
//   TAB_ENTRIES  entries of the q, k and exponent tables (2^bits of the widest)
//   ACT_WORDS  words of the on-chip activation memory
#pragma once
#include "conv_pe.h"
#include "dsp_pack.h"

namespace vitflow {

// the exact division's operands (ClampedDiv): outputs of at most 16 bits, divisors below 2^48
const int ATT_QUOTIENT_BITS = 16, ATT_DEN_BITS = 48;

// Moves (word w, lane l) past one block of channels: `block` lanes when blocks share words (the next lanes
// of this word, or the next word once `lanes` are used), else `words` whole words. A counter, once per block.
inline void next_block(int &w, int &l, int block, int lanes, int words) {
#pragma HLS INLINE
    if (block) {
        l += block;
        if (l == lanes) {
            l = 0;
            w++;
        }
    } else {
        w += words;
    }
}

// Word w with the elements outside [first, first + n) (elements of eb bytes) taken from word other.
template <int L>
inline Word<L> keep_lanes(const Word<L> &w, const Word<L> &other, int first, int n, int eb) {
#pragma HLS INLINE
    Word<L> out;
    for (int b = 0; b < L; b++) {
#pragma HLS UNROLL
        const int e = eb == 1 ? b : b >> 1;
        out.b[b] = e >= first && e < first + n ? w.b[b] : other.b[b];
    }
    return out;
}

template <int L, int D_MAX, int ROWS, int DIVIDERS, int ACC_BITS, int TAB_ENTRIES, int ACT_WORDS, int PACK = 0>
void linear_attention_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    static_assert(!PACK || (D_MAX % 2 == 0 && L % 2 == 0), "packed products come in pairs of lanes");
    static_assert(ROWS <= D_MAX && (ROWS & (ROWS - 1)) == 0, "kv's rows and columns go in ROWS-wide steps");
    typedef ap_int<ACC_BITS> acc_t;
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int in0 = d[FIELD_IN0], out0 = d[FIELD_OUT];
    const int groups = d[LINEAR_ATTENTION_G], dim = d[LINEAR_ATTENTION_D], n_tok = d[LINEAR_ATTENTION_N];
    const int in_min = d[LINEAR_ATTENTION_IN_MIN], entries = d[LINEAR_ATTENTION_ENTRIES], mask = entries - 1;
    const int cw_in = d[LINEAR_ATTENTION_CW_IN], cw_out = d[LINEAR_ATTENTION_CW_OUT];
    const int ws_in = d[LINEAR_ATTENTION_WS_IN], ws_out = d[LINEAR_ATTENTION_WS_OUT];
    const int block_lanes = d[LINEAR_ATTENTION_BLOCK_LANES], out_block = d[LINEAR_ATTENTION_OUT_BLOCK_LANES];
    const int exp_entries = d[LINEAR_ATTENTION_EXP_ENTRIES];
    const int eb_t = d[LINEAR_ATTENTION_TAB_EB], sgn_t = d[LINEAR_ATTENTION_TAB_SGN];
    const int att_shift = d[LINEAR_ATTENTION_ATT_SHIFT], att_mult = d[LINEAR_ATTENTION_ATT_MULT];
    // the requantizations' parameters, read from the descriptor once (registers in the loops)
    const int kv_m = d[LINEAR_ATTENTION_KV_MULT], kv_s = d[LINEAR_ATTENTION_KV_SHIFT];
    const int kv_lo = d[LINEAR_ATTENTION_KV_LO], kv_hi = d[LINEAR_ATTENTION_KV_HI];
    const int ks_m = d[LINEAR_ATTENTION_KSUM_MULT], ks_s = d[LINEAR_ATTENTION_KSUM_SHIFT];
    const int ks_lo = d[LINEAR_ATTENTION_KSUM_LO], ks_hi = d[LINEAR_ATTENTION_KSUM_HI];
    const int num_m = d[LINEAR_ATTENTION_NUM_MULT], num_s = d[LINEAR_ATTENTION_NUM_SHIFT];
    const int num_lo = d[LINEAR_ATTENTION_NUM_LO], num_hi = d[LINEAR_ATTENTION_NUM_HI];
    const int den_m = d[LINEAR_ATTENTION_DEN_MULT], den_s = d[LINEAR_ATTENTION_DEN_SHIFT];
    const int den_lo = d[LINEAR_ATTENTION_DEN_LO], den_hi = d[LINEAR_ATTENTION_DEN_HI];
    const int att_lo = d[LINEAR_ATTENTION_ATT_LO], att_hi = d[LINEAR_ATTENTION_ATT_HI];
    const int lanes_in = eb_in == 1 ? L : L / 2, lanes_out = eb_out == 1 ? L : L / 2;
    const int row_steps = (dim + ROWS - 1) / ROWS;          // once per layer, outside the loops
    const bool shifts = DIVIDERS == 0 || exp_entries > 0;
    const int outs = shifts ? ROWS : DIVIDERS;              // outputs per cycle
    const int NU = DIVIDERS > ROWS ? DIVIDERS : ROWS;       // numerator requantizers
    const int PLANES = D_MAX < L ? D_MAX : L;               // v lanes multiplied per cycle
    const int out_steps = (dim + outs - 1) / outs;

    VITFLOW_BUFFER2(int16_t, qtab, ROWS, TAB_ENTRIES);  // the q table, one copy per row
    VITFLOW_PARTITION(qtab, complete, 1);
    VITFLOW_BUFFER2(int16_t, ktab, ROWS, TAB_ENTRIES);  // the k table, one copy per row
    VITFLOW_PARTITION(ktab, complete, 1);
    VITFLOW_BUFFER1(int8_t, etab, TAB_ENTRIES);         // divisor exponents, one per den code
    {  // q table, k table (each from a word boundary), exponents
        const int per_t = eb_t == 1 ? L : L / 2;
        Word<L> w = zero_word<L>();
        int lane = 0, table = 0, e = 0;
        const int n = 2 * entries + exp_entries;
        VITFLOW_LOOP(att_load, VITFLOW_DEPTH_COPY);
        att_load: for (int i = 0; i < n; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 512 max = 768
            VITFLOW_PIPELINE(att_load, 1);
            if (lane == 0) w = ws.read();
            const int per = table < 2 ? per_t : L;
            const int16_t v = int16_t(element<L>(w, lane, table < 2 ? eb_t : 1, table < 2 ? sgn_t : 1));
            for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                if (table == 0) qtab[r][e] = v;
                if (table == 1) ktab[r][e] = v;
            }
            if (table == 2) etab[e] = int8_t(v);
            const bool table_end = e == (table < 2 ? entries : exp_entries) - 1;
            if (++lane == per || table_end) lane = 0;
            if (table_end) {
                e = 0;
                table++;
            } else {
                e++;
            }
        }
    }
    acc_t kv_acc[D_MAX][D_MAX], ks_acc[D_MAX], num_acc[D_MAX], den_acc = 0;
#pragma HLS ARRAY_PARTITION variable = kv_acc complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ks_acc complete
#pragma HLS ARRAY_PARTITION variable = num_acc complete
    ap_int<17> kv[D_MAX][D_MAX], ksum[D_MAX];  // requantized codes of up to 16 bits, signed or not
#pragma HLS ARRAY_PARTITION variable = kv complete dim = 0
#pragma HLS ARRAY_PARTITION variable = ksum complete

    int bw = 0, bl = 0;  // where the next channel block starts: word and lane (counters, once per block)
    int obw = 0, obl = 0;  // where the next group's outputs start: word and lane (counters, once per group)
    for (int g = 0; g < groups; g++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 32
        int pos_w[3], pos_l[3];  // q, k, v blocks of this group
        for (int b = 0; b < 3; b++) {
            pos_w[b] = bw;
            pos_l[b] = bl;
            next_block(bw, bl, block_lanes, lanes_in, ws_in);
        }
        const int q_seg = in0 + pos_w[0], k_seg = in0 + pos_w[1], v_seg = in0 + pos_w[2];
        const int q_lane = pos_l[0], k_lane = pos_l[1], v_lane = pos_l[2];
        {  // 1. k^T [v | 1] over the tokens: iteration (token, row step st, v word vw), vw fastest
            int st = 0, vw = 0, kword = 0, klane = 0, tok = 0;
            bool first_tok = true;
            const int it_n = n_tok * row_steps * ws_in;
            VITFLOW_LOOP(att_kv, VITFLOW_DEPTH_MAC);
            att_kv: for (int it = 0; it < it_n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 3136
                VITFLOW_PIPELINE(att_kv, 1);
                int kx[L], vx[L];
#pragma HLS ARRAY_PARTITION variable = kx complete
#pragma HLS ARRAY_PARTITION variable = vx complete
                unpack<L>(act[tok + k_seg + kword], eb_in, sgn_in, kx);  // two reads: the memory's two ports
                unpack<L>(act[tok + v_seg + vw], eb_in, sgn_in, vx);
                int kr[ROWS];
#pragma HLS ARRAY_PARTITION variable = kr complete
                for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                    kr[r] = ktab[r][(kx[(k_lane + klane + r) & (L - 1)] - in_min) & mask];
                }
                // the ROWS x PLANES products of this cycle, then accumulator (i, c) adds product
                // (i % ROWS, lane of c): fixed wiring, enabled when the row step and v word are its own
                int vs[PLANES];  // the v block's lanes, from its first (a lane rotation when blocks share words)
#pragma HLS ARRAY_PARTITION variable = vs complete
                for (int l = 0; l < PLANES; l++) {
#pragma HLS UNROLL
                    vs[l] = vx[(v_lane + l) & (L - 1)];
                }
                int prod[ROWS][PLANES];
#pragma HLS ARRAY_PARTITION variable = prod complete dim = 0
                for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                    if (PACK) {  // lanes 2p + 1 and 2p share row r's k: one DSP (dsp_pack.h)
                        for (int p = 0; p < PLANES / 2; p++) {
#pragma HLS UNROLL
                            prod_t hi, lo;
                            mul2(pack_a_t(vs[2 * p + 1]), pack_a_t(vs[2 * p]), pack_b_t(kr[r]), hi, lo);
                            prod[r][2 * p + 1] = hi;
                            prod[r][2 * p] = lo;
                        }
                    } else {
                        for (int l = 0; l < PLANES; l++) {
#pragma HLS UNROLL
                            prod[r][l] = kr[r] * vs[l];
                        }
                    }
                }
                for (int i = 0; i < D_MAX; i++) {
#pragma HLS UNROLL
                    const bool row = i / ROWS == st && i < dim;
                    if (row && vw == 0) ks_acc[i] = (first_tok ? acc_t(0) : ks_acc[i]) + kr[i % ROWS];
                    for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                        // c's word and lane: constants for each element width, chosen by the layer's
                        const int c_word = eb_in == 1 ? c / L : c / (L / 2);
                        const int c_lane = (eb_in == 1 ? c % L : c % (L / 2)) % PLANES;
                        if (row && c < dim && c_word == vw)
                            kv_acc[i][c] = (first_tok ? acc_t(0) : kv_acc[i][c]) + prod[i % ROWS][c_lane];
                    }
                }
                if (++vw == ws_in) {
                    vw = 0;
                    klane += ROWS;
                    if (klane == lanes_in) {
                        klane = 0;
                        kword++;
                    }
                    if (++st == row_steps) {
                        st = 0;
                        klane = 0;
                        kword = 0;
                        tok += cw_in;
                        first_tok = false;
                    }
                }
            }
        }
        {  // 2. requantize kv and ksum, row i's columns ROWS per cycle (ROWS + 1 requantizers: ksum[i] with the
           // row's first columns): the accumulators are read out through row 0 (its first ROWS positions; row
           // 0 rotates left by ROWS each cycle, every row moves up at a row's end), no D_MAX-way multiplexer
            int i = 0, cbase = 0;  // the row, and the first column of this cycle's ROWS
            const int it_n = dim * row_steps;  // row_steps = ceil(dim / ROWS): the column steps of a row too
            VITFLOW_LOOP(att_kv_rq, VITFLOW_DEPTH_MAC);
            att_kv_rq: for (int it = 0; it < it_n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 1024
                VITFLOW_PIPELINE(att_kv_rq, 1);
                int v[ROWS];
#pragma HLS ARRAY_PARTITION variable = v complete  // ROWS requantizers' outputs, all written each cycle
                for (int u = 0; u < ROWS; u++) {
#pragma HLS UNROLL
                    v[u] = requantize(wide_t(kv_acc[0][u]), kv_m, kv_s, kv_lo, kv_hi);
                }
                const int ks = requantize(wide_t(ks_acc[0]), ks_m, ks_s, ks_lo, ks_hi);
                for (int r = 0; r < D_MAX; r++) {
#pragma HLS UNROLL
                    if (r == i && cbase == 0) ksum[r] = ks;
                    for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                        if (r == i && (c & ~(ROWS - 1)) == cbase) kv[r][c] = v[c & (ROWS - 1)];
                    }
                }
                const bool row_end = cbase + ROWS >= dim;
                if (row_end) {  // every row up one (row 0's rotation is dropped with it)
                    for (int r = 0; r < D_MAX; r++) {
#pragma HLS UNROLL
                        for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                            kv_acc[r][c] = kv_acc[(r + 1) & (D_MAX - 1)][c];
                        }
                        ks_acc[r] = ks_acc[(r + 1) & (D_MAX - 1)];
                    }
                    cbase = 0;
                    i++;
                } else {  // row 0 left by ROWS: its next columns at positions 0 .. ROWS - 1
                    for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                        kv_acc[0][c] = kv_acc[0][(c + ROWS) & (D_MAX - 1)];
                    }
                    cbase += ROWS;
                }
            }
        }
        {  // 3. per token: row steps accumulating q kv and q ksum; beside them the previous token's outputs
            // the period: the row steps and the output steps overlap, unless a single output step reads back
            // a word (obl > 0) and writes it, which with a q read would take three ports
            const int period = (obl > 0 && out_steps == 1) ? row_steps + 1
                                                            : (row_steps > out_steps ? row_steps : out_steps);
            const int out_first = period - out_steps;  // the phase of a period's first output step
            const int it_n = (n_tok + 1) * period;  // period 0 has no outputs, period N no rows
            int ph = 0, st = 0, kword = 0, klane = 0, tok = 0, tn = 0, o = 0, ol = obl, ow = 0;  // tn: tokens done
            int out_tok = out0 + obw - cw_out;  // the outputs' token: the previous period's (none in period 0)
            bool rows_on = true, outs_on = false;  // this period has a token's rows, a token's outputs
            wide_t den = 1, denom = 1;
            int exp_shift = 0;
            acc_t num_hold[D_MAX], den_hold = 0;  // the previous token's sums, held for its outputs
#pragma HLS ARRAY_PARTITION variable = num_hold complete
            Word<L> yw = zero_word<L>(), rbw = zero_word<L>();  // the output word; the word read back
            VITFLOW_LOOP(att_out, VITFLOW_DEPTH_ATT_OUT);
            att_out: for (int it = 0; it < it_n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 3332
                VITFLOW_PIPELINE(att_out, 1);
                VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (memory plan)
                // this iteration's accesses of the activation memory: the q word (the rows), the word another
                // group wrote lanes of, read back at the token's first output step (its lanes outside this
                // group's are kept at the write), and the write of a full word or the token's last
                const bool q_rd = rows_on && ph < row_steps;
                const bool out_step = outs_on && ph >= out_first;
                const bool rb = out_step && o == 0 && obl > 0;
                const bool wr = out_step && (ol + outs == lanes_out || o == out_steps - 1);
                if (out_step) {  // this step's outputs set into yw (its other lanes as they were)
                    if (o == 0) {  // the token's divisor, once
                        den = requantize(wide_t(den_hold), den_m, den_s, den_lo, den_hi);
                        if (shifts) {
                            exp_shift = att_shift + int(etab[int(den) & (TAB_ENTRIES - 1)]);
                        } else {
                            denom = att_shift >= 0 ? wide_t((2 * den + 1) << att_shift) : wide_t(2 * den + 1);
                        }
                    }
                    // NU numerators requantized, then DIVIDERS exact quotients or ROWS shifts: each its own
                    // loop, so the hardware holds exactly DIVIDERS dividers beside ROWS shifters
                    wide_t numer[NU], att[NU];
#pragma HLS ARRAY_PARTITION variable = numer complete
#pragma HLS ARRAY_PARTITION variable = att complete
                    for (int u = 0; u < NU; u++) {
#pragma HLS UNROLL
                        const int j = (o * outs + u) & (D_MAX - 1);
                        // a code of up to 16 bits (as kv's): 2 num ATT_MULT is a 17 x 32-bit product, two DSPs
                        const ap_int<17> num = requantize(wide_t(num_hold[j]), num_m, num_s, num_lo, num_hi);
                        numer[u] = 2 * wide_t(num) * wide_t(att_mult);
                        att[u] = 0;
                    }
                    if (shifts) {
                        for (int u = 0; u < ROWS; u++) {
#pragma HLS UNROLL
                            att[u] = round_shift(numer[u], exp_shift);
                        }
                    } else {
                        // the token's divisor's products once, shared by the DIVIDERS small-quotient dividers
                        const ClampedDiv<ATT_QUOTIENT_BITS, ATT_DEN_BITS> div(denom, att_lo, att_hi);
                        for (int u = 0; u < DIVIDERS; u++) {
#pragma HLS UNROLL
                            const wide_t n = att_shift < 0 ? wide_t(numer[u] << (-att_shift)) : numer[u];
                            att[u] = div(n);  // clamp(round_div(n, denom), att_lo, att_hi)
                        }
                    }
                    for (int u = 0; u < NU; u++) {
#pragma HLS UNROLL
                        if (u < outs && o * outs + u < dim)
                            set_element<L>(yw, (ol + u) & (L - 1), eb_out,
                                           clamp(att[u], att_lo, att_hi));
                    }
                    ol += outs;
                }
                // one if/else, so Vitis sees at most two accesses an iteration: a single output step reads back
                // and writes its word (the period gives it no q read); otherwise the q read beside one read back
                // or one write
                Word<L> qword = zero_word<L>();
                if (rb && wr) {
                    rbw = act[out_tok];
                    act[out_tok + ow] = keep_lanes<L>(yw, rbw, obl, dim, eb_out);
                } else {
                    if (q_rd) qword = act[tok + q_seg + kword];
                    if (rb) {
                        rbw = act[out_tok];
                    } else if (wr) {
                        act[out_tok + ow] = obl > 0 ? keep_lanes<L>(yw, rbw, obl, dim, eb_out) : yw;
                    }
                }
                if (wr) {
                    ow++;
                    ol = 0;
                }
                if (out_step) o++;
                if (q_rd) {
                    int qx[L];
#pragma HLS ARRAY_PARTITION variable = qx complete
                    unpack<L>(qword, eb_in, sgn_in, qx);  // read above, with the other accesses
                    int qr[ROWS];
#pragma HLS ARRAY_PARTITION variable = qr complete
                    for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                        qr[r] = qtab[r][(qx[(q_lane + klane + r) & (L - 1)] - in_min) & mask];
                    }
                    acc_t dsum = 0;
                    for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                        const int i = st * ROWS + r;
                        if (i < dim) dsum += qr[r] * ksum[i & (D_MAX - 1)];
                    }
                    den_acc = (st == 0 ? acc_t(0) : den_acc) + dsum;
                    acc_t csum[D_MAX];
#pragma HLS ARRAY_PARTITION variable = csum complete  // a column sum per output column, all at once
                    for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                        csum[c] = 0;
                    }
                    for (int r = 0; r < ROWS; r++) {
#pragma HLS UNROLL
                        const int i = st * ROWS + r;  // row i of kv: a (D_MAX / ROWS)-way choice by st
                        if (i < dim) {
                            if (PACK) {  // columns 2p + 1 and 2p share row r's q: one DSP (dsp_pack.h)
                                for (int p = 0; p < D_MAX / 2; p++) {
#pragma HLS UNROLL
                                    prod_t hi, lo;
                                    mul2(pack_a_t(kv[i & (D_MAX - 1)][2 * p + 1]), pack_a_t(kv[i & (D_MAX - 1)][2 * p]),
                                         pack_b_t(qr[r]), hi, lo);
                                    csum[2 * p + 1] += hi;
                                    csum[2 * p] += lo;
                                }
                            } else {
                                for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                                    csum[c] += qr[r] * kv[i & (D_MAX - 1)][c];
                                }
                            }
                        }
                    }
                    for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                        num_acc[c] = (st == 0 ? acc_t(0) : num_acc[c]) + csum[c];
                    }
                    klane += ROWS;
                    if (klane == lanes_in) {
                        klane = 0;
                        kword++;
                    }
                    st++;
                }
                if (++ph == period) {  // the period's end: this token's sums held for its outputs, next token
                    for (int c = 0; c < D_MAX; c++) {
#pragma HLS UNROLL
                        num_hold[c] = num_acc[c];
                    }
                    den_hold = den_acc;
                    ph = 0;
                    st = 0;
                    o = 0;
                    ow = 0;
                    ol = obl;
                    kword = 0;
                    klane = 0;
                    tok += cw_in;
                    out_tok += cw_out;
                    outs_on = rows_on;           // the token whose rows just ended has its outputs next
                    rows_on = ++tn < n_tok;      // no token after the last: the final period only outputs
                }
            }
        }
        next_block(obw, obl, out_block, lanes_out, ws_out);  // the next group's outputs
    }
}

}  // namespace vitflow
