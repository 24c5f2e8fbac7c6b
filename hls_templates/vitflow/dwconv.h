// vitflow: the depthwise convolution engine (groups == channels, one k x k filter per channel), LANES
// multiply-accumulates per cycle, one per channel of one input word at one tap.
//
// Template parameters:
//   L          word bytes (an output tile is one output word: L / EB_OUT channels)
//   LANES      channels per cycle (divides L): a tile's channels go in L / EB_OUT / LANES passes
//   DW_TAPS    largest KH x KW supported: the filter buffer holds DW_TAPS words per tile, twice (ping-pong)
//   ACC_BITS   accumulator width (proven sufficient by the range analysis)
//   ACT_WORDS  words of the on-chip activation memory
//
// A tile is one output word (L / EB_OUT channels). Its stream (flow/hls/streams.py): 12 parameter words
// (bias, multiplier, shift of L lanes) and `taps` filter words (word k: the lanes' weights at tap k). The
// input of a tile is the input word(s) holding the same channels: with EB_IN == EB_OUT the word of the
// same index; with 16-bit inputs and 8-bit outputs two input words (SUB = 2 iterations per tap, each
// feeding half the lanes); with 8-bit inputs and 16-bit outputs half of one word (LANE_OFF).
// Tile t's loop runs max(pixels x passes x taps x SUB, 12 + taps) iterations at II = 1 and loads tile
// t+1's words into the other half of the filter buffer meanwhile; at a pass's last tap its LANES
// accumulators are requantized into the output word, written after the last pass. Row stripes as in the
// conv PE array.
#pragma once
#include "conv_pe.h"

namespace vitflow {

template <int L, int LANES, int DW_TAPS, int ACC_BITS, int ACT_WORDS>
void dwconv_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI], in0 = d[FIELD_IN0], tiles = d[CONV_TILES];
    const int cw_in = d[CONV_CW_IN];
    const int taps = d[CONV_KH] * d[CONV_KW], pixels = (d[CONV_ROW_END] - d[CONV_ROW_BEGIN]) * d[CONV_W_OUT];
    const int sub_n = eb_in > eb_out ? 2 : 1;         // input words per output word
    const int half_lanes = eb_in < eb_out ? L / 2 : 0;  // odd output words read the upper half of an input word
    const int rows = eb_out == 1 ? L : L / 2;  // channels of an output word
    const int passes = (rows + LANES - 1) / LANES;
    const int steps = taps * sub_n;

    VITFLOW_BUFFER1(Word<L>, fbuf, 2 * DW_TAPS);  // the tile's filters, word k = tap k; two tiles (ping-pong)
    VITFLOW_AGGREGATE(fbuf);                       // one L-byte word per address
    int32_t bias[L], mult[L], shift[L], nbias[L], nmult[L], nshift[L];
#pragma HLS ARRAY_PARTITION variable = bias complete
#pragma HLS ARRAY_PARTITION variable = mult complete
#pragma HLS ARRAY_PARTITION variable = shift complete
#pragma HLS ARRAY_PARTITION variable = nbias complete
#pragma HLS ARRAY_PARTITION variable = nmult complete
#pragma HLS ARRAY_PARTITION variable = nshift complete
    acc_t acc[LANES];
#pragma HLS ARRAY_PARTITION variable = acc complete

    int half = 1;
    int in_word = 0;  // first input word of tile t: t, 2t or t / 2 by the element widths (a counter)
    for (int t = -1; t < tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 65
        const int compute_n = t < 0 ? 0 : pixels * passes * steps;
        const int load_n = t + 1 < tiles ? PARAM_WORDS + taps : 0;
        const int n = compute_n > load_n ? compute_n : load_n;
        const int load_half = (1 - half) * DW_TAPS, read_half = half * DW_TAPS;
        const int lane_off = (t & 1) ? half_lanes : 0;
        const int subs_held = in_word + 1 < cw_in ? sub_n : 1;  // the pixel's last input word may be alone
        int tap = 0, sub = 0, p = 0;
        Window win;
        win.start(d, in_word, t);
        Word<L> yw = zero_word<L>();
        int k = 0;
        {
            VITFLOW_LOOP(dw_tile, VITFLOW_DEPTH_DW);
            for (int it = 0; it < n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 112896
                VITFLOW_PIPELINE(dw_tile, 1);
                VITFLOW_NO_DEPENDENCE(fbuf);  // the load writes the half the MACs do not read
                VITFLOW_NO_DEPENDENCE(act);   // the output never overlaps the input (memory plan)
                if (it < compute_n) {
                    const bool inside = win.inside() && sub < subs_held;
                    // one read every iteration, inside the input (padding reads its first word, then zero)
                    const Word<L> held = act[inside ? win.addr(sub) : in0];
                    const Word<L> xw = inside ? held : zero_word<L>();
                    int x[L];
#pragma HLS ARRAY_PARTITION variable = x complete
                    unpack<L>(xw, eb_in, sgn_in, x);
                    const Word<L> fw = fbuf[read_half + tap];
                    const bool first = tap == 0 && sub == 0, last = tap == taps - 1 && sub == sub_n - 1;
                    for (int ll = 0; ll < LANES; ll++) {
#pragma HLS UNROLL
                        const int l = p * LANES + ll;  // this pass's channel of the word
                        // lane l of the output word takes input lane l (same widths), l - sub L/2 (two
                        // 16-bit input words per 8-bit output word) or l + L/2 (odd output word, 8-bit input)
                        const int xl = eb_in > eb_out ? (l - sub * (L / 2)) : l + lane_off;
                        const bool mine = xl >= 0 && xl < L;
                        const int xv = mine ? x[xl & (L - 1)] : 0;
                        const acc_t a = (first ? acc_t(bias[l & (L - 1)]) : acc[ll]) + int(int8_t(fw.b[l & (L - 1)])) * xv;
                        acc[ll] = a;
                        if (last && l < rows)
                            set_element<L>(yw, l & (L - 1), eb_out,
                                           requantize(wide_t(a), mult[l & (L - 1)], shift[l & (L - 1)], lo, hi));
                    }
                    if (last && p == passes - 1) act[win.out_addr] = yw;
                    if (!last) {
                        if (++sub == sub_n) {
                            sub = 0;
                            tap++;
                            win.next_tap();
                        }
                    } else {
                        sub = 0;
                        tap = 0;
                        if (++p == passes) {
                            p = 0;
                            win.next_pixel();
                        } else {
                            win.first_tap();  // the next pass walks the same window again
                        }
                    }
                }
                if (it < load_n) {
                    const Word<L> w = ws.read();
                    if (k < PARAM_WORDS) put_param_word<L>(w, k, nbias, nmult, nshift);
                    else fbuf[load_half + k - PARAM_WORDS] = w;
                    k++;
                }
            }
        }
        take_params<L>(bias, mult, shift, nbias, nmult, nshift);
        half = 1 - half;
        if (t >= 0) in_word += eb_in > eb_out ? 2 : (eb_in < eb_out ? (t & 1) : 1);
    }
}

}  // namespace vitflow
