// vitflow: the convolution PE array, for k x k, pointwise and grouped convolutions and linear layers (a
// linear layer is a 1 x 1 convolution on a 1 x 1 map). ROWS x COLS multiply-accumulates per cycle: ROWS
// output channels of a word times COLS byte lanes of one input word (one pixel at one kernel tap), on
// ROWS / 2 x COLS DSPs: each DSP multiplies one lane's operand by the weights of two rows (dsp_pack.h).
// An output tile is one output word, or two when the array has 2 L rows (TW = 2): the input word each
// cycle reads then feeds twice the rows, and a pixel's two output words leave on the write port an
// iteration apart, or together when the pixel takes one iteration (word.h write_pair: the activation
// memory in two banks, a word of each).
// The operand is a 9-bit value: an 8-bit code, or one byte of a 16-bit code (such an input takes two
// byte lanes per code, so twice the cycles; its high bytes' products are weighted 2^8).
//
// Template parameters:
//   L          word bytes (an output tile is TW output words: TW L / EB_OUT channels)
//   ROWS       PE rows: output channels per cycle (even, rows pair up on the DSPs; divides L, a tile of one
//              output word, or 2 L, a tile of two: TW = 2); a tile's rows go in TW L / EB_OUT / ROWS passes
//   COLS       PE columns: input byte lanes per cycle (even, divides L: a 16-bit code's two bytes are an
//              even and an odd column); an input word goes in L / COLS splits
//   WDEPTH     weight words per row of one tile: the largest (input words x taps) of the program's tiles
//              (flow/estimate/fit.py fits it). Row r of a tile lives in bank r % ROWS, at pass r / ROWS: ROWS
//              banks of 2 x (TW L / ROWS) x WDEPTH words (two tiles, ping-pong), so each cycle's ROWS reads
//              hit ROWS different banks at a constant bank index
//   ACC_BITS   accumulator width; the lowering's range analysis proves every accumulator fits
//   ACT_WORDS  words of the on-chip activation memory
//   EPI        entries of the largest epilogue table (epilogue.h): ROWS banks of it; 0: no epilogue
//              hardware (a descriptor with EPI_ENTRIES > 0 needs EPI >= EPI_ENTRIES: project.check_plan)
//   RES        1: the residual add as epilogue is built (residual.h: L lanes of two products on the write
//              path); 0: not (project.check_fits refuses a program with such a layer, and the accelerator a
//              descriptor with RES = 1)
//
// The weight stream (flow/hls/streams.py packs it, the loader bursts it from DDR into `ws`, two words an
// entry: dma.h stream_pairs): the epilogue table when EPI_ENTRIES > 0 (epilogue.h, whole pairs), then per
// output tile t (CONV_TILES output words, TW a tile):
//   header pair  (first input word w0, input words nw: the input words this tile's channels read; a padding
//                word)
//   TW x 12 words  per output word, bias, multiplier and shift of its L rows (int32, L per 4 words)
//   nw x taps x rows words, step-major: for each step s = (tap, input word), the L weights of row r (rows:
//                the tile's channels, TW L / EB_OUT; a second word past the layer's last has zero weights)
// Weight-stationary, with the next tile's load overlapping this tile's compute: the loop of tile t runs
// max(pixels x passes x nw x taps x splits, (TW x 12 + rows x nw(t+1) x taps) / 2) iterations at II = 1 (a tile
// with a second output word: a pixel's second word is written an iteration after its first, the write
// port's one access, and one more iteration follows the last pixel; but a pixel of one iteration writes
// both at once, one to each bank (write_pair). With the residual add, a pixel of one iteration takes two).
// An iteration multiplies COLS byte lanes of one input word (zero outside the padded input) by the pass's
// ROWS row words at that step, and, while tile t+1's words arrive, writes two of them into the other half
// of the row buffers (rows 2m and 2m + 1 of a step, in banks of their own). At a
// pass's last step its ROWS accumulators are requantized (each code through the
// epilogue table when the layer has one) into the output words, written after the last pass. The input and
// output row ranges let a layer run in row stripes (IN_ROW0: the input row at IN0; ROW_BEGIN..ROW_END: output
// rows computed; OUT_ROW0: the output row at OUT).
// A residual add as epilogue (RES = 1, flow/hls/residual_epilogues.py): each output word, on its way to the
// write port, becomes clamp(round_half_even((c RES_MC + r RES_MR) / 2^RES_SHIFT)) of its codes c and the
// residual's word r (RES_DELTA words past it, same layout and element width). The pixel's residual words
// are read through the write's port in iterations that write nothing (the other branch of the write's
// if/else): its first iteration (the second, with a tile that has a second output word, whose first
// iteration may write the previous pixel's second word), and the next. A tile with a second output word
// needs at least 4 iterations per pixel, which project.check_plan checks; the template itself would
// misread with fewer. A pixel of one iteration in a tile of one word stalls, as a second word does: its
// first iteration reads the residual, its second computes; except in pixel pairs (two banks, one output
// word a pixel, CW_OUT = 1, and an even number of pixels: a projection of at most L channels from at most L),
// where a pair's two residual words are neighbours, read at once (word.h read_pair) in the iteration of the
// pair before's second pixel, and its two summed outputs are written at once (write_pair) in the iteration
// of the next pair's first pixel; one iteration reads the first pair's residual words before the first
// pixel, one writes the last pair after the last, so the tile takes pixels + 2 iterations, not 2 pixels.
// Input-word pairs (KSPLIT = 1, with TW = 2: a pointwise layer of 8-bit outputs whose last tile has one output
// word and an even number of input words nw): that tile's idle second half of rows computes the same output
// channels from the odd input words. Each iteration reads a step's two input words at once (word.h
// read_pair: neighbours, one port of each bank), rows r < L multiply the even word and rows L + r the odd one,
// and at the last step row r's code is requantized from the sum of the two rows' accumulators (the upper
// one's bias is the absent second word's: zero in the stream): nw / 2 steps a pixel instead of nw. Its
// stream has nw / 2 steps of 2 L row words (flow/hls/streams.py).
// Pixel pairs (PPAIR = 1, with TW = 2: a 1 x 1, stride-1 layer of one input and one output word a pixel,
// 8-bit outputs, an even output width, no residual add): the second half of rows computes the next pixel
// with the same weights and parameters (the stream repeats them there), each iteration reading the two
// pixels' input words at once and writing their two output words at once (read_pair, write_pair:
// neighbours, one port of each bank): pixels / 2 iterations.
// Every index is a counter: no division or modulo in the loop.
#pragma once
#include "cycles.h"
#include "dsp_pack.h"
#include "epilogue.h"
#include "residual.h"
#include "vitflow_layout.h"
#include "window.h"
#include "word.h"

namespace vitflow {

const int PARAM_WORDS = 12;  // bias, multiplier, shift of L channels: 3 x L int32 = 12 words of L bytes

// Store stream word k (< TW x PARAM_WORDS) of a tile's parameters into the bias / multiplier / shift
// registers: output word k / 12's L slots (TW <= 2).
template <int L, int TW>
inline void put_param_word(const Word<L> &w, int k, int32_t bias[TW * L], int32_t mult[TW * L],
                           int32_t shift[TW * L]) {
#pragma HLS INLINE
    const bool second = TW > 1 && k >= PARAM_WORDS;
    const int kk = second ? k - PARAM_WORDS : k;
    const int arr = kk >> 2, base = (second ? L : 0) + (kk & 3) * (L / 4);
    for (int j = 0; j < L / 4; j++) {
#pragma HLS UNROLL
        const int32_t v = word_int(w, j);
        if (arr == 0) bias[base + j] = v;
        if (arr == 1) mult[base + j] = v;
        if (arr == 2) shift[base + j] = v;
    }
}

// The next tile's parameters become the current tile's (registers; N = TW L slots).
template <int N>
inline void take_params(int32_t bias[N], int32_t mult[N], int32_t shift[N], const int32_t nbias[N],
                        const int32_t nmult[N], const int32_t nshift[N]) {
#pragma HLS INLINE
    for (int j = 0; j < N; j++) {
#pragma HLS UNROLL
        bias[j] = nbias[j];
        mult[j] = nmult[j];
        shift[j] = nshift[j];
    }
}

template <int L, int ROWS, int COLS, int WDEPTH, int ACC_BITS, int ACT_WORDS, int EPI = 0, int RES = 0>
void conv_engine(const int d[DESC_WORDS], Fifo<WordPair<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    static_assert(L > 0 && (L & (L - 1)) == 0, "words are indexed with & (L - 1)");
    static_assert(ROWS >= 2 && ROWS % 2 == 0 && (L % ROWS == 0 || ROWS == 2 * L),
                  "rows pair on a DSP; a tile is one output word (ROWS divides L) or two (2 L rows)");
    static_assert(COLS >= 2 && COLS % 2 == 0 && L % COLS == 0 && COLS <= 64,
                  "a 16-bit code's bytes are an even and an odd column; splits = L / COLS; psum_t holds 32 products");
    typedef ap_int<ACC_BITS> acc_t;
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int TW = ROWS > L ? 2 : 1;  // output words per tile
    const int TL = TW * L;            // a tile's parameter slots
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI], in0 = d[FIELD_IN0], words = d[CONV_TILES];
    const int tiles = TW > 1 ? (words + 1) >> 1 : words;  // CONV_TILES: the output words per pixel
    const int rpw = eb_out == 1 ? L : L / 2;  // output channels per output word
    const int rows = TW * rpw;                // output channels per tile
    // passes over a tile's rows, and splits of an input word's L byte lanes (16-bit codes: two per code)
    const int passes = (rows + ROWS - 1) / ROWS, splits = L / COLS;
    const int taps = d[CONV_KH] * d[CONV_KW], pixels = (d[CONV_ROW_END] - d[CONV_ROW_BEGIN]) * d[CONV_W_OUT];

    const int PASSES = TL / ROWS;
    VITFLOW_BUFFER2(Word<L>, wbuf, ROWS, 2 * PASSES * WDEPTH);  // bank rr: rows rr, ROWS + rr, ..., two tiles
    VITFLOW_PARTITION(wbuf, complete, 1);  // ROWS banks: a pass's ROWS reads per cycle, one per bank
    VITFLOW_AGGREGATE(wbuf);               // one L-byte word per address
    int32_t bias[TL], mult[TL], shift[TL], nbias[TL], nmult[TL], nshift[TL];
#pragma HLS ARRAY_PARTITION variable = bias complete
#pragma HLS ARRAY_PARTITION variable = mult complete
#pragma HLS ARRAY_PARTITION variable = shift complete
#pragma HLS ARRAY_PARTITION variable = nbias complete
#pragma HLS ARRAY_PARTITION variable = nmult complete
#pragma HLS ARRAY_PARTITION variable = nshift complete
    acc_t acc[ROWS];
#pragma HLS ARRAY_PARTITION variable = acc complete
    // the epilogue: a table bank per PE row (the ROWS codes of a pass's last step look up at once)
    const int epi_entries = EPI > 0 ? d[CONV_EPI_ENTRIES] : 0, epi_min = d[CONV_EPI_MIN];
    VITFLOW_BUFFER2(uint16_t, etab, ROWS, EPI > 0 ? EPI : 1);
    VITFLOW_PARTITION(etab, complete, 1);  // ROWS banks: one lookup per bank per cycle
    VITFLOW_STORAGE(etab, ram_1p, lutram, 1);  // 2^8 x 16 bits: distributed RAM; loaded, then only read
    if (epi_entries > 0) load_table<L, ROWS>(ws, etab, epi_entries, eb_out);
    // the residual add (RES): its operands' signedness, multipliers, shift and output range
    const bool res = RES && d[CONV_RES];
    const int res_delta = d[CONV_RES_DELTA], res_mc = d[CONV_RES_MC], res_mr = d[CONV_RES_MR];
    const int res_shift = d[CONV_RES_SHIFT], res_lo = d[CONV_RES_LO], res_hi = d[CONV_RES_HI];
    const int sgn_c = lo < 0, sgn_r = d[FIELD_SGN_IN1];

    const bool ks = TW > 1 && d[CONV_KSPLIT] && eb_out == 1;  // input-word pairs for a tile of one word (above)
    const bool pp_layer = TW > 1 && d[CONV_PPAIR] && eb_out == 1;  // pixel pairs (above)
    Word<L> hdr = ws.read().w[0];  // tile 0's header (and a padding word)
    int w0 = 0, nw = 0, half = 1;
    int nw_next = word_int(hdr, 1), w0_next = word_int(hdr, 0);
    // t = -1 only loads tile 0; tile t computes from half `half` while tile t+1 loads into the other
    for (int t = -1; t < tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 65
        // a pixel's iterations; with a second output word, one more after the last pixel (that word's write)
        // unless a pixel takes one iteration (both words at once)
        const bool second = TW > 1 && t * TW + 1 < words;  // the tile's second word is the layer's
        // input-word pairs: this tile's (one output word, even input words), and the next tile's (its load)
        const bool split = ks && !second && (nw & 1) == 0;
        const bool split_next = ks && !(TW > 1 && (t + 1) * TW + 1 < words) && (nw_next & 1) == 0;
        const int nw_steps = split ? nw >> 1 : nw, nw_next_steps = split_next ? nw_next >> 1 : nw_next;
        const int per_pixel = passes * nw_steps * taps * splits;
        const bool pp = pp_layer && !second;  // pixel pairs: the tile's one word, for two pixels at once
        const bool two_in = TW > 1 && (split || pp);  // an iteration reads two neighbouring input words
        const int px_n = pp ? pixels >> 1 : pixels;   // the loop's pixel steps
        // a pixel of one iteration writes its two words at once (a bank each: write_pair); with the residual
        // add it takes two iterations (the residual word read first). Both at once never occur: the residual
        // add needs 4 iterations a pixel with a second word (project.check_plan)
        const bool pair = second && per_pixel == 1 && !(RES && res);
        const bool stall = RES && res && per_pixel == 1;
        // residual pixel pairs (rp, above): the stall's pixels in pairs, a pair's words one access of each bank
        const bool rp = TW > 1 && stall && !second && d[CONV_CW_OUT] == 1 && (pixels & 1) == 0;
        const bool stall1 = stall && !rp;  // a stalled pixel on its own: a hold, then the MAC
        const int compute_n = t < 0 ? 0 : rp ? pixels + 2
                                              : px_n * (stall1 ? 2 : per_pixel) + (second && !pair ? 1 : 0);
        const int load_n = t + 1 < tiles ? (TW * PARAM_WORDS + rows * nw_next_steps * taps) / 2 : 0;  // pairs
        const int n = compute_n > load_n ? compute_n : load_n;
        const int steps = nw_steps * taps, load_half = (1 - half) * PASSES * WDEPTH, read_half = half * PASSES * WDEPTH;
        // compute counters, fastest first: split j, step s = (tap, word s_w), pass p, pixel (the window)
        int j = 0, s = 0, s_w = 0, p = 0;
        Window win;
        win.start(d, w0, t * TW);
        win.pixels_per_step(pp ? 2 : 1);  // pixel pairs: two pixels a step
        Word<L> yw[TW], pend_w = zero_word<L>();  // the output words; a second word waiting for the port
#pragma HLS ARRAY_PARTITION variable = yw complete
#pragma HLS AGGREGATE variable = yw compact = bit  // each output word one register, its lanes set by muxes
        for (int u = 0; u < TW; u++) {
#pragma HLS UNROLL
            yw[u] = zero_word<L>();
        }
        // a second word to write; a stall's turn (a pixel of one iteration with the residual add: a hold that
        // reads the residual word, then the MAC)
        bool pend = false, phase = RES && res && stall1;
        int pend_a = 0;
        // residual pixel pairs: the pixel's parity, whether a pair's outputs wait for their write (rp_out, at
        // rp_a), and the residual words of the pair being computed (res_w: read one pair ahead)
        int rpp = 0, rp_a = 0;
        bool rp_have = false;
        Word<L> rp_out[2];
#pragma HLS ARRAY_PARTITION variable = rp_out complete
#pragma HLS AGGREGATE variable = rp_out compact = bit  // each word one register
        rp_out[0] = zero_word<L>();
        rp_out[1] = zero_word<L>();
        // the residual add: the pixel's residual words (word u read at its iteration rd0 + u, or at a stalled
        // pixel's hold), kept until the word's codes are written; pi counts the pixel's iterations
        Word<L> res_w[TW];
#pragma HLS ARRAY_PARTITION variable = res_w complete
#pragma HLS AGGREGATE variable = res_w compact = bit  // each word one register
        for (int u = 0; u < TW; u++) {
#pragma HLS UNROLL
            res_w[u] = zero_word<L>();
        }
        const int rd0 = second ? 1 : 0;
        int pi = 0;
        // load counters: word k of the tile's stream; a pair of weight words' rows (banks 2 lq and 2 lq + 1,
        // pass lp) and step ls
        int k = 0, lq = 0, lp = 0, lrow = 0, ls = 0, read_pass = read_half;
        {
            VITFLOW_LOOP(conv_tile, VITFLOW_DEPTH_CONV);
            conv_tile: for (int it = 0; it < n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 200704
                VITFLOW_PIPELINE(conv_tile, 1);
                VITFLOW_NO_DEPENDENCE(wbuf);  // the load writes the half the MACs do not read
                VITFLOW_NO_DEPENDENCE(act);   // the output never overlaps the inputs (memory plan)
                bool wr = false, wr_second = false;  // this iteration's output write (the write port's one
                int wr_a = 0;                        // access), and whether it is a tile's second word
                bool wr_both = false;                // the pixel's two words at once (pair: pend_w the second)
                Word<L> wr_w = zero_word<L>();
                bool rd = false;  // a residual word read (the write's port, an iteration that writes nothing)
                int rd_u = 0;
                // no MAC: a stall's hold, the iteration after the last pixel, or a pixel pair's first and last
                const bool hold = (stall1 && phase) || (second && !pair && it == compute_n - 1) ||
                                  (rp && (it == 0 || it == compute_n - 1));
                // the residual's words are read in iterations that write nothing: a stalled pixel's hold, or else
                // the pixel's iterations rd0 and rd0 + 1 (the read itself is the write's other branch, below)
                if (RES && res && !rp && it < compute_n &&
                    (stall ? hold : !hold && (pi == rd0 || (TW > 1 && second && pi == rd0 + 1)))) {
                    rd = true;
                    rd_u = stall || pi == rd0 ? 0 : TW - 1;
                }
                const int rd_a = win.out_addr + res_delta + rd_u;
                // pixel pairs: the first pair's residual words before its first pixel, the next pair's at a
                // pair's second pixel (its two pixels on); a pair's outputs at the next pair's first pixel or
                // after the last
                const bool rp_mac = rp && it < compute_n && !hold;
                const bool rp_rd = rp && ((it == 0 && it < compute_n) || (rp_mac && rpp == 1 && it + 1 < compute_n - 1));
                const bool rp_wr = rp && rp_have && ((rp_mac && rpp == 0) || it == compute_n - 1);
                const int rp_ra = win.out_addr + (it == 0 ? 0 : 1) + res_delta;
                if (it < compute_n && !hold) {
                    const bool inside = win.inside();
                    // one read every iteration, inside the input (padding reads its first word, then zero)
                    Word<L> held, held2 = zero_word<L>();  // held2: input-word pairs' odd word
                    if (two_in) {
                        read_pair(act, inside ? win.addr(s_w) : in0, held, held2);
                    } else {
                        held = act[inside ? win.addr(s_w) : in0];
                    }
                    const Word<L> xw = inside ? held : zero_word<L>(), xw2 = inside ? held2 : zero_word<L>();
                    // the shared operands: byte lane b of the word as a 9-bit value, an 8-bit code (signed
                    // or not) or, for 16-bit codes, one byte of it (the low byte unsigned, the high one
                    // signed with the code); the stream holds byte lane b's weights in lane b (a 16-bit
                    // code's weight twice, flow/hls/streams.py), so no multiplexer picks them
                    pack_b_t xb[COLS], xb2[COLS];  // xb2: the upper rows' operands (xb's but in pairs)
#pragma HLS ARRAY_PARTITION variable = xb complete
#pragma HLS ARRAY_PARTITION variable = xb2 complete
                    for (int c = 0; c < COLS; c++) {
#pragma HLS UNROLL
                        const int lane = (j * COLS + c) & (L - 1);
                        const int byte = xw.b[lane], byte2 = xw2.b[lane];
                        const bool sgn = sgn_in && (eb_in == 1 || (c & 1));
                        xb[c] = sgn ? int(int8_t(byte)) : byte;
                        xb2[c] = two_in ? (sgn ? int(int8_t(byte2)) : byte2) : int(xb[c]);
                    }
                    const bool first = s == 0 && j == 0, last = s == steps - 1 && j == splits - 1;
                    // ROWS x COLS products, two per DSP: rows 2q and 2q+1 of the pass share each lane's
                    // operand (dsp_pack.h)
                    prod_t prod[ROWS][COLS];
#pragma HLS ARRAY_PARTITION variable = prod complete dim = 0
                    for (int q = 0; q < ROWS / 2; q++) {
#pragma HLS UNROLL
                        const Word<L> w_hi = wbuf[2 * q][read_pass + s], w_lo = wbuf[2 * q + 1][read_pass + s];
                        for (int c = 0; c < COLS; c++) {
#pragma HLS UNROLL
                            const int lane = (j * COLS + c) & (L - 1);
                            mul2(int8_t(w_hi.b[lane]), int8_t(w_lo.b[lane]), 2 * q >= L ? xb2[c] : xb[c], prod[2 * q][c],
                                 prod[2 * q + 1][c]);
                        }
                    }
                    acc_t a_row[ROWS];  // this iteration's accumulators (input-word pairs add rows r and L + r)
#pragma HLS ARRAY_PARTITION variable = a_row complete
                    for (int rr = 0; rr < ROWS; rr++) {
#pragma HLS UNROLL
                        // this pass's row rr: bank rr, one read per bank (a constant with one pass, so the
                        // row's parameter slot and output lane are wiring)
                        const int row = (PASSES == 1 ? 0 : p * ROWS) + rr;
                        // the row's COLS products: two adder trees, even and odd byte lanes (the high bytes
                        // of 16-bit codes, weighted 2^8)
                        psum_t even = 0, odd = 0;
                        for (int c = 0; c < COLS; c++) {
#pragma HLS UNROLL
                            if (c & 1) odd += prod[rr][c];
                            else even += prod[rr][c];
                        }
                        const int sum = int(even) + (eb_in == 1 ? int(odd) : int(odd) * 256);  // < 2^29
                        // the row's output word (the second from the word's channels on) and parameter slot
                        const int u = TW > 1 && row >= rpw ? 1 : 0, el = u ? row - rpw : row;
                        const int slot = ((u ? L : 0) + el) & (TL - 1);
                        // (input-word pairs: the upper rows' bias is the absent second word's, zero in the stream)
                        const acc_t a = (first ? acc_t(bias[slot]) : acc[rr]) + sum;
                        acc[rr] = a;
                        a_row[rr] = a;
                    }
                    for (int rr = 0; rr < ROWS; rr++) {
#pragma HLS UNROLL
                        const int row = (PASSES == 1 ? 0 : p * ROWS) + rr;
                        const int u = TW > 1 && row >= rpw ? 1 : 0, el = u ? row - rpw : row;
                        const int slot = ((u ? L : 0) + el) & (TL - 1);
                        // input-word pairs: row r's code from rows r and L + r (one pass: rows are wiring)
                        const acc_t a = TW > 1 && split && rr < L ? acc_t(a_row[rr] + a_row[(rr + L) & (ROWS - 1)])
                                                                  : a_row[rr];
                        if (last && row < rows) {
                            const int code = requantize(wide_t(a), mult[slot], shift[slot], lo, hi);
                            set_element<L>(yw[u], el & (L - 1), eb_out,
                                           epilogue_code(etab, rr, code, epi_entries, epi_min));
                        }
                    }
                    if (last && p == passes - 1) {  // rows elements of eb_out bytes fill the words
                        wr = true;
                        wr_a = win.out_addr;
                        wr_w = yw[0];
                        if (TW > 1) {  // the second word: now, beside the first (pair), or the next iteration
                            wr_both = pair || pp;  // pixel pairs: the two pixels' words at once
                            pend = second && !pair;
                            pend_a = win.out_addr + 1;
                            pend_w = yw[TW - 1];
                        }
                    }
                    // advance: split, word, tap, pass, pixel
                    pi++;
                    if (++j == splits) {
                        j = 0;
                        if (++s < steps) {
                            s_w += split ? 2 : 1;  // input-word pairs: a step takes two words
                            if (s_w == nw) {
                                s_w = 0;
                                win.next_tap();
                            }
                        } else {
                            s = 0;
                            s_w = 0;
                            read_pass += WDEPTH;
                            if (++p == passes) {
                                p = 0;
                                pi = 0;
                                read_pass = read_half;
                                win.next_pixel();  // pixel pairs: both pixels in one step
                            } else {
                                win.first_tap();  // the next pass walks the same window again
                            }
                        }
                    }
                }
                if (!wr && pend) {  // the waiting second word: the iteration after its first (a hold, or a
                    wr = true;      // step that writes nothing)
                    wr_a = pend_a;
                    wr_w = pend_w;
                    wr_second = true;
                    pend = false;
                }
                if (it < compute_n) phase = stall1 && !phase;
                // the codes with the residual added: one site, for every write (a pixel pair's: this pixel's word)
                const Word<L> summed = RES && res ? residual_sum<L>(wr_w, res_w[rp ? rpp : (wr_second ? TW - 1 : 0)],
                                                                    eb_out, sgn_c, sgn_r, res_mc, res_mr, res_shift,
                                                                    res_lo, res_hi)
                                                  : wr_w;
                // the port the input reads leave: the pixel's two words (one port of each bank), a pixel pair's
                // two summed words (the same), the write (the codes, or their sum with the word's residual), a
                // pixel pair's two residual words (one port of each bank), or else a residual word's read. One
                // if/else, so Vitis sees one access of each bank an iteration there
                if (TW > 1 && wr_both) {
                    write_pair(act, wr_a, wr_w, pend_w);
                } else if (TW > 1 && RES && rp_wr) {
                    write_pair(act, rp_a, rp_out[0], rp_out[1]);
                } else if (wr && !(RES && rp)) {
                    act[wr_a] = summed;
                } else if (TW > 1 && RES && rp_rd) {
                    read_pair(act, rp_ra, res_w[0], res_w[TW - 1]);
                } else if (RES && rd) {
                    const Word<L> r = act[rd_a];
                    for (int u = 0; u < TW; u++) {
#pragma HLS UNROLL
                        if (rd_u == u) res_w[u] = r;
                    }
                }
                if (RES && rp_mac) {  // a pixel pair's summed word waits for the pair's write
                    for (int u = 0; u < 2; u++) {
#pragma HLS UNROLL
                        if (u == rpp) rp_out[u] = summed;
                    }
                    if (rpp == 0) rp_a = wr_a;
                    rp_have = rp_have || rpp == 1;
                    rpp ^= 1;
                }
                if (it < load_n) {  // two words: two parameter words, or rows lrow, lrow + 1 (a bank pair)
                    const WordPair<L> pr = ws.read();
                    if (k < TW * PARAM_WORDS) {
                        put_param_word<L, TW>(pr.w[0], k, nbias, nmult, nshift);
                        put_param_word<L, TW>(pr.w[1], k + 1, nbias, nmult, nshift);
                    } else {
                        for (int m = 0; m < ROWS / 2; m++) {  // one write site per bank
#pragma HLS UNROLL
                            if (m == lq) {
                                wbuf[2 * m][load_half + lp * WDEPTH + ls] = pr.w[0];
                                wbuf[2 * m + 1][load_half + lp * WDEPTH + ls] = pr.w[1];
                            }
                        }
                        lrow += 2;
                        if (lrow == rows) {  // the step's last rows: next step
                            lrow = 0;
                            lq = 0;
                            lp = 0;
                            ls++;
                        } else if (++lq == ROWS / 2) {
                            lq = 0;
                            lp++;
                        }
                    }
                    k += 2;
                }
            }
        }
        take_params<TL>(bias, mult, shift, nbias, nmult, nshift);
        half = 1 - half;
        nw = nw_next;
        w0 = w0_next;
        if (t + 2 < tiles) {  // the header of the tile after next, read before its load overlaps tile t+1
            hdr = ws.read().w[0];
            nw_next = word_int(hdr, 1);
            w0_next = word_int(hdr, 0);
        }
    }
}

}  // namespace vitflow
