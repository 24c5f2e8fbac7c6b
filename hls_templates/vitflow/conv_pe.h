// vitflow: the convolution PE array, for k x k, pointwise and grouped convolutions and linear layers
// (a linear layer is a 1 x 1 convolution on a 1 x 1 map).
//
// Template parameters:
//   PE_ROWS    output channels computed in parallel (one accumulator row each)
//   PE_COLS    input channels consumed in parallel per row (PE_ROWS x PE_COLS multipliers per cycle)
//   WBUF_DEPTH weights held on chip per PE row: C_in/groups x KH x KW of one output channel must fit
//              (checked when the project is generated); PE_ROWS x WBUF_DEPTH bytes of BRAM
//   WBUS       weight bytes read from DDR per cycle (the AXI data width in bytes, e.g. 16 for 128 bits)
//   ACC_BITS   accumulator width; the lowering's range analysis proves every accumulator of the program
//              fits (flow/lower/ranges.py), so this never wraps
//   W_T, P_T   storage types of the weight bytes and parameter words, deduced from the arguments:
//              int8_t and int32_t in the accelerator (DDR), ap_int<8> and ap_int<32> arrays in the
//              hls4ml bridge (hls_templates/hls4ml)
//
// Weight-stationary: for each tile of PE_ROWS output channels the tile's requantization parameters (one
// row per cycle) and weights (WBUS bytes per cycle) are copied from DDR into on-chip buffers once; then
// one pipelined loop (II = 1) runs over every output pixel x input-channel tile x kernel tap:
// acc = bias + sum of w * x (zero outside the padded input), requantized and written at each pixel's
// last step.
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

namespace vitflow {

template <int PE_ROWS, int PE_COLS, int WBUF_DEPTH, int WBUS, int ACC_BITS, class W_T, class P_T>
void conv_layer(const int32_t *d, const W_T *wgt, const P_T *prm, int16_t *act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int cin = d[CONV_C_IN], hin = d[CONV_H_IN], win = d[CONV_W_IN];
    const int cout = d[CONV_C_OUT], hout = d[CONV_H_OUT], wout = d[CONV_W_OUT];
    const int kh_n = d[CONV_KH], kw_n = d[CONV_KW], sh = d[CONV_SH], sw = d[CONV_SW];
    const int pt = d[CONV_PT], pl = d[CONV_PL], groups = d[CONV_GROUPS];
    const int ci_g = cin / groups, co_g = cout / groups;
    const W_T *w = wgt + d[CONV_W_OFF];
    const P_T *bias = prm + d[CONV_B_OFF], *mult = prm + d[CONV_M_OFF], *shift = prm + d[CONV_S_OFF];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int taps = kh_n * kw_n, row_len = ci_g * taps;
    const int ci_tiles = (ci_g + PE_COLS - 1) / PE_COLS, steps = ci_tiles * taps, pixels = hout * wout;
    ap_int<8> wbuf[PE_ROWS][WBUF_DEPTH];
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 1
    int32_t bbuf[PE_ROWS], mbuf[PE_ROWS], sbuf[PE_ROWS];
    acc_t acc[PE_ROWS];
#pragma HLS ARRAY_PARTITION variable = acc complete
    for (int g = 0; g < groups; g++)
        for (int co0 = 0; co0 < co_g; co0 += PE_ROWS) {
            const int rows = co_g - co0 < PE_ROWS ? co_g - co0 : PE_ROWS;
            VITFLOW_CYCLES(2 * VITFLOW_FILL_COPY);
            load_tile_params<PE_ROWS>(bias, mult, shift, g * co_g + co0, rows, bbuf, mbuf, sbuf);  // a row per cycle
            const int tile_bytes = PE_ROWS * row_len;  // weights of the tile, WBUS bytes per cycle
            for (int k0 = 0; k0 < tile_bytes; k0 += WBUS) {
#pragma HLS PIPELINE II = 1
                VITFLOW_CYCLES(1);
                for (int b = 0; b < WBUS; b++) {
#pragma HLS UNROLL
                    const int k = k0 + b, r = k / row_len, i = k % row_len;
                    if (k < tile_bytes)
                        wbuf[r][i] = r < rows ? ap_int<8>(w[(g * co_g + co0 + r) * row_len + i]) : ap_int<8>(0);
                }
            }
            VITFLOW_CYCLES(VITFLOW_FILL_MAC);
            for (int p = 0; p < pixels; p++)
                for (int s = 0; s < steps; s++) {  // flattened: one pipeline over pixels, channel tiles, taps
#pragma HLS LOOP_FLATTEN
#pragma HLS PIPELINE II = 1
                    VITFLOW_CYCLES(1);  // padding taps take their cycle too
                    const int oh = p / wout, ow = p % wout, ci0 = (s / taps) * PE_COLS, t = s % taps;
                    const int kh = t / kw_n, kw = t % kw_n;
                    if (s == 0)
                        for (int r = 0; r < PE_ROWS; r++) {
#pragma HLS UNROLL
                            acc[r] = bbuf[r];
                        }
                    const int ih = oh * sh - pt + kh, iw = ow * sw - pl + kw;
                    if (ih >= 0 && ih < hin && iw >= 0 && iw < win)
                        for (int c = 0; c < PE_COLS; c++) {
#pragma HLS UNROLL
                            if (ci0 + c >= ci_g) continue;
                            const ap_int<16> xv = x[((g * ci_g + ci0 + c) * hin + ih) * win + iw];
                            const int wi = (ci0 + c) * taps + t;
                            for (int r = 0; r < PE_ROWS; r++) {
#pragma HLS UNROLL
                                acc[r] += wbuf[r][wi] * xv;  // idle rows hold zero weights
                            }
                        }
                    if (s == steps - 1)
                        for (int r = 0; r < PE_ROWS; r++) {
#pragma HLS UNROLL
                            if (r >= rows) continue;
                            const int co = g * co_g + co0 + r;
                            y[co * pixels + p] = requantize(wide_t(acc[r]), mbuf[r], sbuf[r], lo, hi);
                        }
                }
        }
}

}  // namespace vitflow
