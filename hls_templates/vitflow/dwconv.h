// vitflow: the depthwise convolution engine (groups == channels, one k x k filter per channel): a
// line-buffered sliding window (the idiom of finn-hlslib's ConvolutionInputGenerator), LANES channels x
// TAPS taps multiply-accumulated per cycle (a k x k filter in ceil(k^2 / TAPS) folds), each input word
// read from the activation memory once.
//
// Template parameters:
//   L          word bytes (an output tile is one output word: L / EB_OUT channels)
//   LANES      channels per cycle (divides L): a tile's channels go in L / EB_OUT / LANES passes over each
//              output pixel's window
//   K          largest kernel side (KH, KW <= K): the window is K x K words, the line buffer K rows
//   COLS       words per line-buffer row: the largest (streamed columns x input words per pixel) of the
//              program's depthwise layers (flow/estimate/fit.py fits it)
//   ACC_BITS   accumulator width (proven sufficient by the range analysis)
//   ACT_WORDS  words of the on-chip activation memory
//   EPI        entries of the largest epilogue table (epilogue.h): LANES banks of it; 0: no epilogue hardware
//   TAPS       multipliers per lane (1 .. K x K): the window's positions in rings from its bottom-right
//              corner (the m x m corner's m^2 positions first, for every m), TAPS of them per fold, so a
//              layer whose kernel fits m x m takes FOLDS = ceil(m^2 / TAPS) folds per pass, its products
//              accumulated (an m x m filter sits in that corner: the positions after its m^2 are zero).
//              With TAPS = 9 a 3 x 3 layer takes one fold and a 5 x 5 three, on 9 of 25 multipliers
//   PAIRS      1: the activation memory has two banks (even and odd words: the PE array's two-word tiles), so
//              a descriptor with DW_PAIR = 1 runs tile pairs (below); 0: one output word a tile, DW_PAIR ignored
//
// The stream (flow/hls/streams.py) starts with the epilogue table when EPI_ENTRIES > 0 (epilogue.h: each
// output code becomes table[code - EPI_MIN]). A tile is one output word (L / EB_OUT channels). Its stream: 12
// parameter words (bias, multiplier, shift of L lanes) and KH x KW filter words (word k: the lanes' weights
// at tap k), placed in K x K registers aligned to the window's bottom-right corner, zeros elsewhere: those
// zero taps are what makes a smaller kernel, the window's stale rows and columns (from the row or tile
// before) and the line buffer's stale rows contribute nothing. The input of a tile is the input word(s)
// holding the same channels: with EB_IN == EB_OUT the word of the same index; with 16-bit inputs and 8-bit
// outputs two input words (SUB = 2, each feeding half the lanes); with 8-bit inputs and 16-bit outputs half
// of one word (LANE_OFF).
//
// Tile t streams the input rows its output rows need, (ROW_END - ROW_BEGIN - 1) SH + KH of them, each over
// its (W_OUT - 1) SW + KW padded columns (at least ceil(VITFLOW_LBUF_DISTANCE / SUB): a line-buffer word is
// read back a row later, the least distance of that dependence, declared to Vitis and checked by the audit,
// vitflow/cycles.h), SUB iterations per column. An iteration reads one input word (zero in the padding),
// writes it into line-buffer row r % K and shifts the window one column left, the new column being the line
// buffer's K - 1 older rows above the new word. Where the window holds an output pixel's taps (every SH-th
// row and SW-th column after the first KH - 1 and KW - 1), it computes fold 0 of LANES channels; PASSES x
// FOLDS - 1 more iterations compute the other folds and channels (no read), and the output word is
// written. So a tile's loop runs max(rows x columns x SUB + pixels x (PASSES x FOLDS - 1), 12 + KH x KW)
// iterations at II = 1, and loads tile t+1's words meanwhile. Row stripes as in the conv PE array.
// Tile pairs (DW_PAIR = 1, with PAIRS; the flow sets it when the input and output element widths are equal
// and the output words even): a tile is two output words, u = 0 and 1, whose input words are read together
// (word.h read_pair: one port of each bank) into two line buffers and two windows, so the stream is walked
// once per pair; where the windows hold an output pixel, word 0's PASSES x FOLDS iterations run, then word
// 1's, from their own filters and parameters (the stream: each word's 12 + KH x KW words, as two tiles'),
// the stream waiting. A pair's loop runs max(rows x columns + pixels x (2 PASSES x FOLDS - 1),
// 2 (12 + KH x KW)) iterations: a stride-2 layer, whose MACs wait at three of every four input words, and a
// small map, whose padding is a large share, take well under two tiles' time.
#pragma once
#include "conv_pe.h"

namespace vitflow {

// Position (i, j) of a K x K window in ring order from its bottom-right corner: with a = K-1-i, b = K-1-j
// and ring r = max(a, b), the ring starts at r^2 (the r x r corner before it), its row part (a == r) first.
constexpr int ring_rank(int K, int i, int j) {
    return (K - 1 - i > K - 1 - j ? (K - 1 - i) * (K - 1 - i) + (K - 1 - j)                  // a > b: row part
                                  : (K - 1 - j) * (K - 1 - j) + (K - 1 - i == K - 1 - j ? K - 1 - j  // the corner
                                                                                       : K - j + (K - 1 - i)));
}

template <int L, int LANES, int K, int COLS, int ACC_BITS, int ACT_WORDS, int EPI = 0, int TAPS = K * K,
          int PAIRS = 0>
void dwconv_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    static_assert(L > 0 && (L & (L - 1)) == 0 && L % LANES == 0, "lanes are indexed with & (L - 1)");
    static_assert(K >= 1 && COLS >= VITFLOW_LBUF_DISTANCE, "a line-buffer row holds the shortest row streamed");
    static_assert(TAPS >= 1 && TAPS <= K * K, "a fold multiplies TAPS of the window's K x K positions");
    typedef ap_int<ACC_BITS> acc_t;
    const int PASSES = L / LANES;  // the most passes (8-bit outputs); a pass's lanes are known up to it
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI], in0 = d[FIELD_IN0], tiles = d[CONV_TILES];
    const int hin = d[CONV_H_IN], win = d[CONV_W_IN], cw_in = d[CONV_CW_IN], cw_out = d[CONV_CW_OUT];
    const int kh = d[CONV_KH], kw = d[CONV_KW], sh = d[CONV_SH], sw = d[CONV_SW], wout = d[CONV_W_OUT];
    const int row_begin = d[CONV_ROW_BEGIN], out_rows = d[CONV_ROW_END] - row_begin;
    const int sub_n = eb_in > eb_out ? 2 : 1;         // input words per output word
    const int half_lanes = eb_in < eb_out ? L / 2 : 0;  // odd output words read the upper half of an input word
    const int rows = eb_out == 1 ? L : L / 2;          // channels of an output word
    const int passes = (rows + LANES - 1) / LANES;
    const int taps = kh * kw;
    const int side = kh > kw ? kh : kw, folds = (side * side + TAPS - 1) / TAPS;  // once per layer
    const int steps = passes * folds;  // a word's compute iterations at a pixel: pass p, fold f (fastest)
    const bool pair = PAIRS && d[CONV_DW_PAIR];  // tiles of two output words (the flow: sub_n = 1, TILES even)
    const int NW = PAIRS ? 2 : 1;      // output words a tile's registers hold
    const int units = pair ? 2 : 1;    // output words of this layer's tiles
    const int tiles_n = pair ? tiles >> 1 : tiles;
    // the stream: input rows and columns (the padded window span), a row at least the dependence distance long
    const int in_rows = (out_rows - 1) * sh + kh, cols = (wout - 1) * sw + kw;
    const int min_cols = (VITFLOW_LBUF_DISTANCE + sub_n - 1) / sub_n;
    const int row_cols = cols > min_cols ? cols : min_cols, row_last = row_cols - 1;
    const int compute_n = in_rows * row_cols * sub_n + out_rows * wout * (units * steps - 1);
    const int ih_first = row_begin * sh - d[CONV_PT], rs = win * cw_in;
    const int out_first = d[FIELD_OUT] + (row_begin - d[CONV_OUT_ROW0]) * wout * cw_out;

    // K line-buffer rows of COLS words, one bank each: every iteration reads all K banks at one column (a
    // constant bank each) and writes the new word into one (2 ports: simple dual-port RAM)
    VITFLOW_BUFFER2(Word<L>, lbuf, K, COLS);
    VITFLOW_PARTITION(lbuf, complete, 1);
    VITFLOW_AGGREGATE(lbuf);  // one L-byte word per address
    VITFLOW_STORAGE(lbuf, ram_s2p, bram, 2);  // one read and one write port; 2 cycles with the output register
    // a pair's second word: its own K banks, read and written beside lbuf's (one word when PAIRS = 0: unused)
    VITFLOW_BUFFER2(Word<L>, lbuf2, PAIRS ? K : 1, PAIRS ? COLS : 1);
    VITFLOW_PARTITION(lbuf2, complete, 1);
    VITFLOW_AGGREGATE(lbuf2);
    VITFLOW_STORAGE(lbuf2, ram_s2p, bram, 2);
    // the window (per input word of a pixel: SUB = 2 keeps two) and the filters: registers, read whole
    // every cycle (each word one 8L-bit register: every byte pick a multiplexer, no RAM)
    Word<L> window[2][K][K];
#pragma HLS ARRAY_PARTITION variable = window complete dim = 0
#pragma HLS AGGREGATE variable = window compact = bit
    Word<L> filt[NW][K * K], nfilt[NW][K * K];  // this tile's and the next tile's, aligned to the window
#pragma HLS ARRAY_PARTITION variable = filt complete dim = 0
#pragma HLS ARRAY_PARTITION variable = nfilt complete dim = 0
#pragma HLS AGGREGATE variable = filt compact = bit
#pragma HLS AGGREGATE variable = nfilt compact = bit
    // the requantization parameters of this tile and the next, per lane of each word: registers
    int32_t bias[NW * L], mult[NW * L], shift[NW * L], nbias[NW * L], nmult[NW * L], nshift[NW * L];
#pragma HLS ARRAY_PARTITION variable = bias complete
#pragma HLS ARRAY_PARTITION variable = mult complete
#pragma HLS ARRAY_PARTITION variable = shift complete
#pragma HLS ARRAY_PARTITION variable = nbias complete
#pragma HLS ARRAY_PARTITION variable = nmult complete
#pragma HLS ARRAY_PARTITION variable = nshift complete
    for (int q = 0; q < K * K; q++) {
#pragma HLS UNROLL
        for (int u = 0; u < NW; u++) {
#pragma HLS UNROLL
            nfilt[u][q] = zero_word<L>();
        }
        window[0][q / K][q % K] = zero_word<L>();
        window[1][q / K][q % K] = zero_word<L>();
    }
    // the epilogue: a table bank per lane (the LANES codes of an output pass look up at once)
    const int epi_entries = EPI > 0 ? d[CONV_EPI_ENTRIES] : 0, epi_min = d[CONV_EPI_MIN];
    VITFLOW_BUFFER2(uint16_t, etab, LANES, EPI > 0 ? EPI : 1);
    VITFLOW_PARTITION(etab, complete, 1);  // LANES banks: one lookup per bank per cycle
    VITFLOW_STORAGE(etab, ram_1p, lutram, 1);  // 2^8 x 16 bits: distributed RAM; loaded, then only read
    if (epi_entries > 0) load_table<L, LANES>(ws, etab, epi_entries, eb_out);

    int in_word = 0;  // first input word of tile t: t, 2t or t / 2 by the element widths (a counter)
    for (int t = -1; t < tiles_n; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 65  // tiles + 1: up to 1024 channels of 16 lanes
        const int comp_n = t < 0 ? 0 : compute_n;
        const int load_n = t + 1 < tiles_n ? units * (PARAM_WORDS + taps) : 0;
        const int n = comp_n > load_n ? comp_n : load_n;
        const int lane_off = (t & 1) ? half_lanes : 0;
        const int subs_held = in_word + 1 < cw_in ? sub_n : 1;  // the pixel's last input word may be alone
        // the stream's counters: input row ih, column c (input column iw, line-buffer word lw),
        // the input word's sub, the pass p; which rows and columns end an output window (r_wait, c_wait
        // count down to it); the line-buffer bank of this row and those of the K - 1 rows above it
        int ih = ih_first, c = 0, iw = -d[CONV_PL], lw = 0, sub = 0, p = 0, f = 0, u = 0;  // u: the pair's word
        int r_wait = kh - 1, c_wait = kw - 1;
        int row_addr = in0 + (ih_first - d[CONV_IN_ROW0]) * rs - d[CONV_PL] * cw_in + in_word, col_addr = row_addr;
        int out_addr = out_first + (pair ? 2 * t : t);
        int bank[K];  // bank[m]: the line-buffer row of input row ih - m (registers: all read every cycle)
#pragma HLS ARRAY_PARTITION variable = bank complete
        for (int m = 0; m < K; m++) {
#pragma HLS UNROLL
            bank[m] = m == 0 ? 0 : K - m;
        }
        Word<L> yw = zero_word<L>();
#pragma HLS AGGREGATE variable = yw compact = bit  // the output word: one register, its lanes set by muxes
        acc_t part[LANES];  // the pass's sums over the folds before this one
#pragma HLS ARRAY_PARTITION variable = part complete
        // the next tile's load: word k of output word lu's; a filter word's place in the window (register
        // fpos, column fc)
        int k = 0, lu = 0, fpos = (K - kh) * K + K - kw, fc = K - kw;
        {
            VITFLOW_LOOP(dw_tile, VITFLOW_DEPTH_DW);
            dw_tile: for (int it = 0; it < n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 14000  // B1's largest: 114 x 114 padded pixels, 1 pass
                VITFLOW_PIPELINE(dw_tile, 1);
                VITFLOW_DEPENDENCE_DISTANCE(lbuf, VITFLOW_LBUF_DISTANCE);  // read back a row later (audited)
                VITFLOW_DEPENDENCE_DISTANCE(lbuf2, VITFLOW_LBUF_DISTANCE);
                VITFLOW_NO_DEPENDENCE(act);   // the output never overlaps the input (memory plan)
                if (it < comp_n) {
                    // a pass, fold or pair's word after the first only computes
                    const bool streaming = p == 0 && f == 0 && u == 0;
                    if (streaming) {
                        const bool inside = ih >= 0 && ih < hin && iw >= 0 && iw < win && c < cols && sub < subs_held;
                        Word<L> x = zero_word<L>(), x1 = zero_word<L>();  // x1: a pair's second word
                        if (PAIRS && pair) {  // one port of each bank (word.h read_pair); else one read
                            if (inside) read_pair(act, col_addr, x, x1);
                        } else if (inside) {
                            x = act[col_addr + sub];
                        }
                        Word<L> above[K], above2[K];  // every bank's word at this column: rows r - m for m >= 1
#pragma HLS ARRAY_PARTITION variable = above complete  // K registers, one per bank
#pragma HLS ARRAY_PARTITION variable = above2 complete
                        for (int m = 0; m < K; m++) {
#pragma HLS UNROLL
                            above[m] = lbuf[m][lw];
                            above2[m] = PAIRS ? Word<L>(lbuf2[m][lw]) : zero_word<L>();
                        }
                        for (int m = 0; m < K; m++) {
#pragma HLS UNROLL
                            if (m == bank[0]) lbuf[m][lw] = x;
                            if (PAIRS && pair && m == bank[0]) lbuf2[m][lw] = x1;
                        }
                        // shift the window of this sub one column left; the new column, top to bottom, is
                        // rows r - K + 1 .. r (bank[K - 1 - i] for row i of the window, the new word last).
                        // Each sub's window shifts from itself when it is this iteration's (no runtime index)
                        Word<L> in_col[2][K];  // [1]: a pair's second word's column
#pragma HLS ARRAY_PARTITION variable = in_col complete dim = 0
                        for (int i = 0; i < K; i++) {
#pragma HLS UNROLL
                            in_col[0][i] = x;
                            in_col[1][i] = x1;
                            for (int m = 0; m < K; m++) {
#pragma HLS UNROLL
                                if (i < K - 1 && m == bank[K - 1 - i]) {
                                    in_col[0][i] = above[m];
                                    in_col[1][i] = above2[m];
                                }
                            }
                        }
                        for (int w = 0; w < 2; w++) {
#pragma HLS UNROLL
                            if (w == sub || (PAIRS && pair)) {  // a pair shifts both windows, word w's column
                                const int cw = PAIRS && pair ? w : 0;
                                for (int i = 0; i < K; i++) {
#pragma HLS UNROLL
                                    for (int j = 0; j < K - 1; j++) {
#pragma HLS UNROLL
                                        window[w][i][j] = window[w][i][j + 1];
                                    }
                                    window[w][i][K - 1] = in_col[cw][i];
                                }
                            }
                        }
                    }
                    const bool at_output = r_wait == 0 && c_wait == 0 && c < cols && sub == sub_n - 1;
                    if (at_output) {
                        for (int ll = 0; ll < LANES; ll++) {
#pragma HLS UNROLL
                            // this pass's channel of the word: a constant with one pass, else a PASSES:1 choice
                            const int l = (PASSES == 1 ? 0 : (p & (PASSES - 1)) * LANES) + ll;
                            // lane l of the output word takes input lane l (same widths), lane l - L/2 of the
                            // second input word (two 16-bit input words per 8-bit output word) or l + L/2 (odd
                            // output word, 8-bit input)
                            // a pair's word u reads its own window (a 2:1 choice), else by the lane
                            const int s = PAIRS && pair ? u : (sub_n == 2 && l >= L / 2 ? 1 : 0);
                            const int fu = PAIRS ? u : 0;  // word u's filters and parameters
                            const int slot = fu * L + (l & (L - 1));
                            const int xl = sub_n == 2 ? l - s * (L / 2) : l + lane_off;
                            const bool mine = xl < L / eb_in;
                            // fold f's TAPS operands: multiplier u takes the window position of ring rank
                            // f TAPS + u (a FOLDS:1 choice of constant positions), or zero when no position has
                            // that rank (the last fold of a K x K window that TAPS does not divide)
                            code_t xs[TAPS];
                            pack_a_t wv[TAPS];
#pragma HLS ARRAY_PARTITION variable = xs complete
#pragma HLS ARRAY_PARTITION variable = wv complete
                            for (int u = 0; u < TAPS; u++) {
#pragma HLS UNROLL
                                xs[u] = 0;
                                wv[u] = 0;
                            }
                            for (int i = 0; i < K; i++) {
#pragma HLS UNROLL
                                for (int j = 0; j < K; j++) {
#pragma HLS UNROLL
                                    const int rk = ring_rank(K, i, j);
                                    if (TAPS == K * K || rk / TAPS == f) {  // one fold: every position, no choice
                                        xs[rk % TAPS] = mine ? element<L>(window[s][i][j], xl & (L - 1), eb_in, sgn_in) : 0;
                                        wv[rk % TAPS] = int8_t(filt[fu][i * K + j].b[l & (L - 1)]);
                                    }
                                }
                            }
                            dw_sum_t sum = 0;  // TAPS products of int8 weights and 8/16-bit codes (dsp_pack.h)
                            for (int u = 0; u < TAPS; u++) {
#pragma HLS UNROLL
                                const dw_prod_t pr = wv[u] * xs[u];
#pragma HLS BIND_OP variable = pr op = mul impl = dsp  // one DSP per tap and lane (the resource model's count)
                                sum += pr;
                            }
                            const acc_t a = (f == 0 ? acc_t(bias[slot]) : part[ll]) + sum;
                            part[ll] = a;
                            if (f == folds - 1 && l < rows) {
                                const int code = requantize(wide_t(a), mult[slot], shift[slot], lo, hi);
                                set_element<L>(yw, l & (L - 1), eb_out,
                                               epilogue_code(etab, ll, code, epi_entries, epi_min));
                            }
                        }
                        if (p == passes - 1 && f == folds - 1) {
                            act[out_addr + u] = yw;
                            if (u == units - 1) out_addr += cw_out;
                        }
                    }
                    // advance: another fold, pass or pair's word at this window, or the sub, the column, the row
                    if (at_output && f < folds - 1) {
                        f++;
                    } else if (at_output && p < passes - 1) {
                        f = 0;
                        p++;
                    } else if (at_output && u < units - 1) {
                        f = 0;
                        p = 0;
                        u++;
                    } else if (sub < sub_n - 1) {
                        p = 0;
                        f = 0;
                        u = 0;
                        sub++;
                        lw++;
                    } else {
                        p = 0;
                        f = 0;
                        u = 0;
                        sub = 0;
                        lw++;
                        col_addr += cw_in;
                        iw++;
                        c_wait = c_wait == 0 ? sw - 1 : c_wait - 1;
                        const bool row_end = c == row_last;  // compared before the count moves
                        c = row_end ? 0 : c + 1;
                        if (row_end) {  // next row, its line-buffer bank
                            lw = 0;
                            iw = -d[CONV_PL];
                            c_wait = kw - 1;
                            r_wait = r_wait == 0 ? sh - 1 : r_wait - 1;
                            ih++;
                            row_addr += rs;
                            col_addr = row_addr;
                            for (int m = 0; m < K; m++) {
#pragma HLS UNROLL
                                bank[m] = bank[m] == K - 1 ? 0 : bank[m] + 1;
                            }
                        }
                    }
                }
                if (it < load_n) {
                    const Word<L> w = ws.read();
                    if (k < PARAM_WORDS) {
                        put_param_word<L, NW>(w, (PAIRS ? lu : 0) * PARAM_WORDS + k, nbias, nmult, nshift);
                    } else {
                        for (int v = 0; v < NW; v++) {
#pragma HLS UNROLL
                            for (int q = 0; q < K * K; q++) {
#pragma HLS UNROLL
                                if (v == (PAIRS ? lu : 0) && q == fpos) nfilt[v][q] = w;
                            }
                        }
                        const bool wrap = fc == K - 1;  // the window row's last tap: the next row's first
                        fc = wrap ? K - kw : fc + 1;
                        fpos += wrap ? K - kw + 1 : 1;
                    }
                    if (++k == PARAM_WORDS + taps) {  // a pair's second word's stream follows
                        k = 0;
                        lu++;
                        fpos = (K - kh) * K + K - kw;
                        fc = K - kw;
                    }
                }
            }
        }
        take_params<NW * L>(bias, mult, shift, nbias, nmult, nshift);
        for (int v = 0; v < NW; v++) {  // the next tile's filters become this one's; the others' places zero
#pragma HLS UNROLL
            for (int q = 0; q < K * K; q++) {
#pragma HLS UNROLL
                filt[v][q] = nfilt[v][q];
                nfilt[v][q] = zero_word<L>();
            }
        }
        if (t >= 0) in_word += pair || eb_in > eb_out ? 2 : (eb_in < eb_out ? (t & 1) : 1);
    }
}

}  // namespace vitflow
