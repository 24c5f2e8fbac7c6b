// vitflow: the depthwise convolution engine (groups == channels, one k x k filter per channel).
//
// Template parameters:
//   DW_LANES  channels processed in parallel, each with its own multiply-accumulate
//   DW_TAPS   largest KH x KW supported: each lane holds its channel's filter on chip (checked when the
//             project is generated)
//   ACC_BITS  accumulator width (proven sufficient by the range analysis)
//
// For each tile of DW_LANES channels the filters, biases and requantization parameters are copied on
// chip once; then per output pixel acc[c] = bias[c] + sum over taps of w[c][kh][kw] * x[c][ih][iw]
// (zero padding), then per-channel requantization. Same descriptor fields as the conv PE array (CONV_*).
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

namespace vitflow {

template <int DW_LANES, int DW_TAPS, int ACC_BITS>
void dwconv_layer(const int32_t *d, const int8_t *wgt, const int32_t *prm, int16_t *act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int ch = d[CONV_C_IN], hin = d[CONV_H_IN], win = d[CONV_W_IN];
    const int hout = d[CONV_H_OUT], wout = d[CONV_W_OUT];
    const int kh_n = d[CONV_KH], kw_n = d[CONV_KW], sh = d[CONV_SH], sw = d[CONV_SW];
    const int pt = d[CONV_PT], pl = d[CONV_PL];
    const int8_t *w = wgt + d[CONV_W_OFF];
    const int32_t *bias = prm + d[CONV_B_OFF], *mult = prm + d[CONV_M_OFF], *shift = prm + d[CONV_S_OFF];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int taps = kh_n * kw_n;
    ap_int<8> wbuf[DW_LANES][DW_TAPS];
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 1
    int32_t bbuf[DW_LANES], mbuf[DW_LANES], sbuf[DW_LANES];
    for (int c0 = 0; c0 < ch; c0 += DW_LANES) {
        for (int l = 0; l < DW_LANES; l++) {
            VITFLOW_CYCLES(VITFLOW_FILL_COPY);
            const bool live = c0 + l < ch;
            bbuf[l] = live ? bias[c0 + l] : 0;
            mbuf[l] = live ? mult[c0 + l] : 0;
            sbuf[l] = live ? shift[c0 + l] : 0;
            for (int t = 0; t < taps; t++) {
#pragma HLS PIPELINE II = 1
                VITFLOW_CYCLES(1);
                wbuf[l][t] = live ? w[(c0 + l) * taps + t] : int8_t(0);
            }
        }
        for (int oh = 0; oh < hout; oh++)
            for (int ow = 0; ow < wout; ow++) {
                VITFLOW_CYCLES(VITFLOW_FILL_MAC + 1);
                acc_t acc[DW_LANES];
#pragma HLS ARRAY_PARTITION variable = acc complete
                for (int l = 0; l < DW_LANES; l++) {
#pragma HLS UNROLL
                    acc[l] = bbuf[l];
                }
                for (int kh = 0; kh < kh_n; kh++)
                    for (int kw = 0; kw < kw_n; kw++) {
#pragma HLS PIPELINE II = 1
                        VITFLOW_CYCLES(1);
                        const int ih = oh * sh - pt + kh, iw = ow * sw - pl + kw;
                        if (ih < 0 || ih >= hin || iw < 0 || iw >= win) continue;
                        for (int l = 0; l < DW_LANES; l++) {
#pragma HLS UNROLL
                            if (c0 + l >= ch) continue;
                            const ap_int<16> xv = x[((c0 + l) * hin + ih) * win + iw];
                            acc[l] += wbuf[l][kh * kw_n + kw] * xv;
                        }
                    }
                for (int l = 0; l < DW_LANES; l++) {
#pragma HLS UNROLL
                    if (c0 + l >= ch) continue;
                    y[((c0 + l) * hout + oh) * wout + ow] = requantize(wide_t(acc[l]), mbuf[l], sbuf[l], lo, hi);
                }
            }
    }
}

}  // namespace vitflow
