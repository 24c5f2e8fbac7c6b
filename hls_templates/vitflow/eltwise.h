// vitflow: the element units, L lanes (one activation word per cycle).
//
//   lut_engine     hardswish and ReLU(+requant): out = table[x - IN_MIN] (LUT_* fields). The table (2^bits
//                  entries of the output's width; the stream packs L / EB_OUT entries per word) is copied
//                  into L banks, one per lane, so that L lookups take one read per bank per cycle.
//                  Per-channel tables (Trio-ViT's channel-wise migration and filter-wise shift: an output
//                  scale or zero point per channel) go tile by tile: a tile is one output word, whose lanes
//                  get their channels' rows (the stream word e holds entry e of every lane's row: one word
//                  per entry fills all banks), the next tile's rows loading while this one's pixels run.
//   add_const_engine  the position add of a softmax transformer: add_engine's arithmetic with the second
//                  operand a constant from the weight stream (II = 1)
//   add_engine     residual add: clamp(round_half_even((a M0 + b M1) / 2^SHIFT)) (ADD_* fields): two
//                  activation reads and a write per word, three accesses to the dual-port memory: II = 2
//   concat_engine  channel concatenation of two tensors, each through its requantization table (CONCAT_*):
//                  the output pixel is the first input's words, then the second's (the memory plan gives
//                  the concatenation that layout)
//   gap_engine     global average pool: per word of channels S = sum over the pixels, then
//                  clamp(round_half_even(S MULT / (HW 2^SHIFT))) through one pipelined divider, one lane per
//                  cycle (GAP_*)
// Template parameters:
//   L          word bytes and lanes
//   TAB_ENTRIES  entries of the largest table: 2^bits of the widest table input of the program
//   ACC_BITS   accumulator width of the pool's sums
//   ACT_WORDS  words of the on-chip activation memory
// Element widths: with EB_IN == EB_OUT a word maps to a word; with 8-bit input and 16-bit output an output
// word reads half an input word (LANE_OFF), with 16-bit input and 8-bit output two input words (SUB = 2
// iterations per output word, the word written at the second). The add and the concatenation need equal
// widths (flow/hls/memory_plan.py checks).
#pragma once
#include "conv_pe.h"
#include "epilogue.h"

namespace vitflow {

template <int L, int TAB_ENTRIES, int ACT_WORDS>
void lut_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int in0 = d[FIELD_IN0], out0 = d[FIELD_OUT];
    const int pixels = d[LUT_PIXELS], cw_in = d[LUT_CW_IN], cw_out = d[LUT_CW_OUT], in_min = d[LUT_IN_MIN];
    const int entries = d[LUT_ENTRIES], mask = entries - 1, per_channel = d[LUT_PER_CHANNEL];
    const int sub_n = eb_in > eb_out ? 2 : 1, half_lanes = eb_in < eb_out ? L / 2 : 0;
    const int rows = eb_out == 1 ? L : L / 2;

    VITFLOW_BUFFER2(uint16_t, tab, L, 2 * TAB_ENTRIES);  // lane l's table (or channel row); two (ping-pong)
    VITFLOW_PARTITION(tab, complete, 1);               // one bank per lane: L lookups per cycle

    if (!per_channel) {
        load_table<L, L>(ws, tab, entries, eb_out);  // a bank per lane (epilogue.h)
        // per pixel: output word k, from input word k (same width), k / 2 (8 -> 16 bits) or 2k + sub
        const int n = pixels * cw_out * sub_n;
        int k = 0, sub = 0, in_pix = in0, out_addr = out0;
        Word<L> yw = zero_word<L>();
        VITFLOW_LOOP(lut_map, VITFLOW_DEPTH_ELT);
        lut_map: for (int it = 0; it < n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 25088
            VITFLOW_PIPELINE(lut_map, 1);
            VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (memory plan)
            const int in_word = eb_in > eb_out ? 2 * k + sub : (eb_in < eb_out ? k >> 1 : k);
            Word<L> xw = zero_word<L>();
            if (in_word < cw_in) xw = act[in_pix + in_word];
            int x[L];
#pragma HLS ARRAY_PARTITION variable = x complete
            unpack<L>(xw, eb_in, sgn_in, x);
            const int lane_off = (k & 1) ? half_lanes : 0;
            for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
                const int xl = eb_in > eb_out ? (l - sub * (L / 2)) : l + lane_off;
                if (l < rows && xl >= 0 && xl < L)
                    set_element<L>(yw, l, eb_out, tab[l][(x[xl & (L - 1)] - in_min) & mask]);
            }
            if (sub == sub_n - 1) {
                act[out_addr] = yw;
                out_addr++;
            }
            if (++sub == sub_n) {
                sub = 0;
                if (++k == cw_out) {
                    k = 0;
                    in_pix += cw_in;
                }
            }
        }
        return;
    }
    // per-channel rows: tile t = output word t, lane l's row is that of the channel in its slot
    const int tiles = cw_out;
    int half = 1, in_word = 0;
    for (int t = -1; t < tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 65
        const int compute_n = t < 0 ? 0 : pixels * sub_n;
        const int load_n = t + 1 < tiles ? entries : 0;
        const int n = compute_n > load_n ? compute_n : load_n;
        const int load_half = (1 - half) * TAB_ENTRIES, read_half = half * TAB_ENTRIES;
        const int lane_off = (t & 1) ? half_lanes : 0;
        const int subs_held = in_word + 1 < cw_in ? sub_n : 1;
        int sub = 0, in_addr = in0 + in_word, out_addr = out0 + t;
        Word<L> yw = zero_word<L>();
        {
            VITFLOW_LOOP(lut_rows, VITFLOW_DEPTH_ELT);
            lut_rows: for (int it = 0; it < n; it++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 12544
                VITFLOW_PIPELINE(lut_rows, 1);
                VITFLOW_NO_DEPENDENCE(tab);  // the next tile's rows load into the half not read
                VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (memory plan)
                if (it < compute_n) {
                    Word<L> xw = zero_word<L>();
                    if (sub < subs_held) xw = act[in_addr + sub];
                    int x[L];
#pragma HLS ARRAY_PARTITION variable = x complete
                    unpack<L>(xw, eb_in, sgn_in, x);
                    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
                        const int xl = eb_in > eb_out ? (l - sub * (L / 2)) : l + lane_off;
                        if (l < rows && xl >= 0 && xl < L)
                            set_element<L>(yw, l, eb_out, tab[l][read_half + ((x[xl & (L - 1)] - in_min) & mask)]);
                    }
                    if (sub == sub_n - 1) {
                        act[out_addr] = yw;
                        out_addr += cw_out;
                        in_addr += cw_in;
                        sub = 0;
                    } else {
                        sub++;
                    }
                }
                if (it < load_n) {  // entry `it` of every lane's row
                    const Word<L> w = ws.read();
                    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
                        if (l < rows) tab[l][load_half + it] = uint16_t(element<L>(w, l, eb_out, 0));
                    }
                }
            }
        }
        half = 1 - half;
        if (t >= 0) in_word += eb_in > eb_out ? 2 : (eb_in < eb_out ? (t & 1) : 1);
    }
}

template <int L, int ACT_WORDS>
void add_engine(const int d[DESC_WORDS], Mem<Word<L>, ACT_WORDS> &act) {
    const int eb = d[FIELD_EB_OUT], sgn0 = d[FIELD_SGN_IN0], sgn1 = d[FIELD_SGN_IN1];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int a0 = d[FIELD_IN0], b0 = d[FIELD_IN1], y0 = d[FIELD_OUT];
    const int n = d[ADD_WORDS], m0 = d[ADD_M0], m1 = d[ADD_M1], shift = d[ADD_SHIFT];
    // L multipliers for the 2 L products of a word: each used twice in the II = 2 loop's two cycles (the
    // resource model's one DSP a lane; without the limit Vitis may build both products of a cycle)
#pragma HLS ALLOCATION operation instances = mul limit = L
    VITFLOW_LOOP(add, VITFLOW_DEPTH_ADD);
    add: for (int i = 0; i < n; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 6272
        VITFLOW_PIPELINE(add, 2);  // two reads and a write of the dual-port activation memory
        VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps an input (memory plan)
        int a[L], b[L];
#pragma HLS ARRAY_PARTITION variable = a complete
#pragma HLS ARRAY_PARTITION variable = b complete
        unpack<L>(act[a0 + i], eb, sgn0, a);
        unpack<L>(act[b0 + i], eb, sgn1, b);
        act[y0 + i] = weighted_sum<L>(a, b, eb, m0, m1, shift, lo, hi);
    }
}

// A softmax transformer's position add: clamp(round_half_even((x M0 + c M1) / 2^SHIFT)) with c the constant
// tensor (class token and position embedding), read from the weight stream in the output's layout, and x
// zero for the first PAD_WORDS output words (the class token's row: the input has one token fewer). One
// activation read, one write and one stream word per word: II = 1. Codes of one width (EB_OUT).
template <int L, int ACT_WORDS>
void add_const_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    const int eb = d[FIELD_EB_OUT], sgn0 = d[FIELD_SGN_IN0];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int a0 = d[FIELD_IN0], y0 = d[FIELD_OUT];
    const int n = d[ADD_WORDS], pad = d[ADD_PAD_WORDS], m0 = d[ADD_M0], m1 = d[ADD_M1], shift = d[ADD_SHIFT];
    int src = a0 - pad;  // the input word under way: valid from output word pad on
    VITFLOW_LOOP(add_const, VITFLOW_DEPTH_ADD);
    add_const: for (int i = 0; i < n; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 6272
        VITFLOW_PIPELINE(add_const, 1);  // one read and one write of the dual-port activation memory
        VITFLOW_NO_DEPENDENCE(act);      // the output never overlaps the input (memory plan)
        int a[L], b[L];
#pragma HLS ARRAY_PARTITION variable = a complete
#pragma HLS ARRAY_PARTITION variable = b complete
        const bool padded = i < pad;
        const Word<L> xw = padded ? zero_word<L>() : Word<L>(act[src]);
        unpack<L>(xw, eb, sgn0, a);
        unpack<L>(ws.read(), eb, 1, b);  // the constant's codes are signed
        act[y0 + i] = weighted_sum<L>(a, b, eb, m0, m1, shift, lo, hi);
        src++;
    }
}

template <int L, int TAB_ENTRIES, int ACT_WORDS>
void concat_engine(const int d[DESC_WORDS], Fifo<Word<L> > &ws, Mem<Word<L>, ACT_WORDS> &act) {
    const int eb = d[FIELD_EB_OUT], sgn0 = d[FIELD_SGN_IN0], sgn1 = d[FIELD_SGN_IN1];
    const int a0 = d[FIELD_IN0], b0 = d[FIELD_IN1], y0 = d[FIELD_OUT];
    const int pixels = d[CONCAT_PIXELS], cw_a = d[CONCAT_CW_A], cw_b = d[CONCAT_CW_B];
    const int min0 = d[CONCAT_IN_MIN0], min1 = d[CONCAT_IN_MIN1];
    const int e0 = d[CONCAT_ENTRIES0], e1 = d[CONCAT_ENTRIES1], mask0 = e0 - 1, mask1 = e1 - 1;
    VITFLOW_BUFFER2(uint16_t, tab0, L, TAB_ENTRIES);  // the first input's table, one copy per lane
    VITFLOW_PARTITION(tab0, complete, 1);
    VITFLOW_BUFFER2(uint16_t, tab1, L, TAB_ENTRIES);  // the second input's
    VITFLOW_PARTITION(tab1, complete, 1);
    load_table<L, L>(ws, tab0, e0, eb);  // the two tables, each from a word boundary of the stream
    load_table<L, L>(ws, tab1, e1, eb);
    const int cw = cw_a + cw_b, n = pixels * cw;
    int j = 0, a_addr = a0, b_addr = b0;
    VITFLOW_LOOP(concat_map, VITFLOW_DEPTH_ELT);
    concat_map: for (int i = 0; i < n; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 150528
        VITFLOW_PIPELINE(concat_map, 1);
        VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps an input (memory plan)
        const bool first = j < cw_a;
        const int addr = first ? a_addr : b_addr;  // one address, so one read of the memory
        const Word<L> xw = act[addr];
        int x[L];
#pragma HLS ARRAY_PARTITION variable = x complete
        unpack<L>(xw, eb, first ? sgn0 : sgn1, x);
        Word<L> yw = zero_word<L>();
        for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
            if (eb == 1 || l < L / 2)
                set_element<L>(yw, l, eb, first ? tab0[l][(x[l] - min0) & mask0] : tab1[l][(x[l] - min1) & mask1]);
        }
        act[y0 + i] = yw;
        if (first) a_addr++;
        else b_addr++;
        if (++j == cw) j = 0;
    }
}

template <int L, int ACC_BITS, int ACT_WORDS>
void gap_engine(const int d[DESC_WORDS], Mem<Word<L>, ACT_WORDS> &act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int eb_in = d[FIELD_EB_IN0], sgn_in = d[FIELD_SGN_IN0], eb_out = d[FIELD_EB_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI], in0 = d[FIELD_IN0], out0 = d[FIELD_OUT];
    const int pixels = d[GAP_PIXELS], cw_in = d[GAP_CW_IN], div = d[GAP_DIV], div_last = d[GAP_DIV_LAST];
    const int mult = d[GAP_MULT], shift = d[GAP_SHIFT], hw = d[GAP_HW];
    const int lanes_out = eb_out == 1 ? L : L / 2;
    // the divisor HW 2^SHIFT (or the numerator's 2^-SHIFT) is the layer's: set once
    const wide_t den = shift >= 0 ? wide_t(wide_t(hw) << shift) : wide_t(hw);
    const int num_shift = shift >= 0 ? 0 : -shift;
    acc_t sums[L];
#pragma HLS ARRAY_PARTITION variable = sums complete
    // per input word: `pixels` iterations summing, then one division per lane (div, or div_last for the last)
    const int n = cw_in * pixels + (cw_in - 1) * div + div_last;
    int w = 0, p = 0, j = 0, ol = 0, in_addr = in0, out_addr = out0;
    bool summing = true;
    Word<L> yw = zero_word<L>();
    VITFLOW_LOOP(gap, VITFLOW_DEPTH_DIV);
    gap: for (int i = 0; i < n; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 2 max = 4000
        VITFLOW_PIPELINE(gap, 1);
        VITFLOW_NO_DEPENDENCE(act);  // the output never overlaps the input (memory plan)
        if (summing) {
            int x[L];
#pragma HLS ARRAY_PARTITION variable = x complete
            unpack<L>(act[in_addr], eb_in, sgn_in, x);
            for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
                sums[l] = (p == 0 ? acc_t(0) : sums[l]) + x[l];
            }
            in_addr += cw_in;
            if (++p == pixels) {
                p = 0;
                summing = false;
            }
        } else {
            const wide_t num = wide_t(wide_t(sums[j]) * mult) << num_shift;
            set_element<L>(yw, ol, eb_out, clamp(round_div(num, den), lo, hi));
            const bool last_lane = j == (w == cw_in - 1 ? div_last : div) - 1;
            if (++ol == lanes_out || (last_lane && w == cw_in - 1)) {
                act[out_addr] = yw;
                out_addr++;
                ol = 0;
            }
            j++;
            if (last_lane) {
                j = 0;
                w++;
                in_addr = in0 + w;
                summing = true;
            }
        }
    }
}

}  // namespace vitflow
