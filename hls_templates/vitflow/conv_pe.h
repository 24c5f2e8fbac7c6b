// vitflow: the convolution PE array, for k x k, pointwise and grouped convolutions and linear layers
// (a linear layer is a 1 x 1 convolution on a 1 x 1 map).
//
// Template parameters:
//   PE_ROWS  output channels computed in parallel (one accumulator row each)
//   PE_COLS  input channels consumed in parallel per row (PE_ROWS x PE_COLS multipliers per cycle)
//   WBUF_DEPTH weights held on chip per PE row: C_in/groups x KH x KW of one output channel must fit
//            (checked when the project is generated); PE_ROWS x WBUF_DEPTH bytes of BRAM
//   ACC_BITS accumulator width; the lowering's range analysis proves every accumulator of the program
//            fits (flow/lower/ranges.py), so this never wraps
//
// Weight-stationary: for each tile of PE_ROWS output channels the tile's weights, biases and
// requantization parameters are copied from DDR into on-chip buffers once, then every output pixel
// streams its input window past them: acc = bias + sum over input-channel tiles and kernel taps of
// w * x (zero outside the padded input), then the per-channel requantization.
// Weights are [C_out][C_in/groups][KH][KW] int8, activations [C][H][W] int16 codes (layer descriptor:
// CONV_* fields of vitflow_layout.h).
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

namespace vitflow {

template <int PE_ROWS, int PE_COLS, int WBUF_DEPTH, int ACC_BITS>
void conv_layer(const int32_t *d, const int8_t *wgt, const int32_t *prm, int16_t *act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int cin = d[CONV_C_IN], hin = d[CONV_H_IN], win = d[CONV_W_IN];
    const int cout = d[CONV_C_OUT], hout = d[CONV_H_OUT], wout = d[CONV_W_OUT];
    const int kh_n = d[CONV_KH], kw_n = d[CONV_KW], sh = d[CONV_SH], sw = d[CONV_SW];
    const int pt = d[CONV_PT], pl = d[CONV_PL], groups = d[CONV_GROUPS];
    const int ci_g = cin / groups, co_g = cout / groups;
    const int8_t *w = wgt + d[CONV_W_OFF];
    const int32_t *bias = prm + d[CONV_B_OFF], *mult = prm + d[CONV_M_OFF], *shift = prm + d[CONV_S_OFF];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int taps = kh_n * kw_n, row_len = ci_g * taps;
    ap_int<8> wbuf[PE_ROWS][WBUF_DEPTH];
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 1
    int32_t bbuf[PE_ROWS], mbuf[PE_ROWS], sbuf[PE_ROWS];
    for (int g = 0; g < groups; g++)
        for (int co0 = 0; co0 < co_g; co0 += PE_ROWS) {
            for (int r = 0; r < PE_ROWS; r++) {  // the tile's weights and parameters, once per tile
                VITFLOW_CYCLES(VITFLOW_FILL_COPY);
                const int co = g * co_g + co0 + r;
                const bool live = co0 + r < co_g;
                bbuf[r] = live ? bias[co] : 0;
                mbuf[r] = live ? mult[co] : 0;
                sbuf[r] = live ? shift[co] : 0;
                for (int i = 0; i < row_len; i++) {
#pragma HLS PIPELINE II = 1
                    VITFLOW_CYCLES(1);
                    wbuf[r][i] = live ? w[co * row_len + i] : int8_t(0);
                }
            }
            for (int oh = 0; oh < hout; oh++)
                for (int ow = 0; ow < wout; ow++) {
                    VITFLOW_CYCLES(VITFLOW_FILL_MAC + 1);  // fill, and the requantize/write-back step
                    acc_t acc[PE_ROWS];
#pragma HLS ARRAY_PARTITION variable = acc complete
                    for (int r = 0; r < PE_ROWS; r++) {
#pragma HLS UNROLL
                        acc[r] = bbuf[r];
                    }
                    for (int ci0 = 0; ci0 < ci_g; ci0 += PE_COLS)
                        for (int kh = 0; kh < kh_n; kh++)
                            for (int kw = 0; kw < kw_n; kw++) {
#pragma HLS PIPELINE II = 1
                                VITFLOW_CYCLES(1);  // padding taps take their cycle too
                                const int ih = oh * sh - pt + kh, iw = ow * sw - pl + kw;
                                if (ih < 0 || ih >= hin || iw < 0 || iw >= win) continue;
                                for (int c = 0; c < PE_COLS; c++) {
#pragma HLS UNROLL
                                    if (ci0 + c >= ci_g) continue;
                                    const ap_int<16> xv = x[((g * ci_g + ci0 + c) * hin + ih) * win + iw];
                                    const int wi = (ci0 + c) * taps + kh * kw_n + kw;
                                    for (int r = 0; r < PE_ROWS; r++) {
#pragma HLS UNROLL
                                        acc[r] += wbuf[r][wi] * xv;  // idle rows hold zero weights
                                    }
                                }
                            }
                    for (int r = 0; r < PE_ROWS; r++) {
#pragma HLS UNROLL
                        if (co0 + r >= co_g) continue;
                        const int co = g * co_g + co0 + r;
                        y[(co * hout + oh) * wout + ow] = requantize(wide_t(acc[r]), mbuf[r], sbuf[r], lo, hi);
                    }
                }
        }
}

}  // namespace vitflow
