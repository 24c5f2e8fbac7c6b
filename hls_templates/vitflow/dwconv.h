// vitflow: the depthwise convolution engine (groups == channels, one k x k filter per channel).
//
// Template parameters:
//   DW_LANES  channels processed in parallel, each with its own multiply-accumulate
//   DW_TAPS   largest KH x KW supported: each lane holds its channel's filter on chip (checked when the
//             project is generated)
//   WBUS      weight bytes read from DDR per cycle
//   ACC_BITS  accumulator width (proven sufficient by the range analysis)
//   W_T, P_T  storage types of the weight bytes and parameter words, deduced from the arguments:
//             int8_t and int32_t in the accelerator (DDR), ap_int<8> and ap_int<32> arrays in the
//             hls4ml bridge (hls_templates/hls4ml)
//
// For each tile of DW_LANES channels the requantization parameters (a lane per cycle) and the filters
// (WBUS bytes per cycle) are copied on chip once; then one pipelined loop (II = 1) runs over every
// output pixel x tap: acc[c] = bias[c] + sum of w[c][kh][kw] * x[c][ih][iw] (zero padding),
// requantized at each pixel's last tap. Same descriptor fields as the conv PE array (CONV_*).
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

namespace vitflow {

template <int DW_LANES, int DW_TAPS, int WBUS, int ACC_BITS, class W_T, class P_T>
void dwconv_layer(const int32_t *d, const W_T *wgt, const P_T *prm, int16_t *act) {
    typedef ap_int<ACC_BITS> acc_t;
    const int ch = d[CONV_C_IN], hin = d[CONV_H_IN], win = d[CONV_W_IN];
    const int hout = d[CONV_H_OUT], wout = d[CONV_W_OUT];
    const int kh_n = d[CONV_KH], kw_n = d[CONV_KW], sh = d[CONV_SH], sw = d[CONV_SW];
    const int pt = d[CONV_PT], pl = d[CONV_PL];
    const W_T *w = wgt + d[CONV_W_OFF];
    const P_T *bias = prm + d[CONV_B_OFF], *mult = prm + d[CONV_M_OFF], *shift = prm + d[CONV_S_OFF];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int taps = kh_n * kw_n, pixels = hout * wout;
    ap_int<8> wbuf[DW_LANES][DW_TAPS];
#pragma HLS ARRAY_PARTITION variable = wbuf complete dim = 1
    int32_t bbuf[DW_LANES], mbuf[DW_LANES], sbuf[DW_LANES];
    acc_t acc[DW_LANES];
#pragma HLS ARRAY_PARTITION variable = acc complete
    for (int c0 = 0; c0 < ch; c0 += DW_LANES) {
        const int lanes = ch - c0 < DW_LANES ? ch - c0 : DW_LANES;
        VITFLOW_CYCLES(2 * VITFLOW_FILL_COPY);
        load_tile_params<DW_LANES>(bias, mult, shift, c0, lanes, bbuf, mbuf, sbuf);  // a lane per cycle
        const int tile_bytes = DW_LANES * taps;
        for (int k0 = 0; k0 < tile_bytes; k0 += WBUS) {
#pragma HLS PIPELINE II = 1
            VITFLOW_CYCLES(1);
            for (int b = 0; b < WBUS; b++) {
#pragma HLS UNROLL
                const int k = k0 + b, l = k / taps, t = k % taps;
                if (k < tile_bytes) wbuf[l][t] = l < lanes ? ap_int<8>(w[(c0 + l) * taps + t]) : ap_int<8>(0);
            }
        }
        VITFLOW_CYCLES(VITFLOW_FILL_MAC);
        for (int p = 0; p < pixels; p++)
            for (int t = 0; t < taps; t++) {
#pragma HLS LOOP_FLATTEN
#pragma HLS PIPELINE II = 1
                VITFLOW_CYCLES(1);
                const int oh = p / wout, ow = p % wout, kh = t / kw_n, kw = t % kw_n;
                if (t == 0)
                    for (int l = 0; l < DW_LANES; l++) {
#pragma HLS UNROLL
                        acc[l] = bbuf[l];
                    }
                const int ih = oh * sh - pt + kh, iw = ow * sw - pl + kw;
                if (ih >= 0 && ih < hin && iw >= 0 && iw < win)
                    for (int l = 0; l < DW_LANES; l++) {
#pragma HLS UNROLL
                        if (l >= lanes) continue;
                        const ap_int<16> xv = x[((c0 + l) * hin + ih) * win + iw];
                        acc[l] += wbuf[l][t] * xv;
                    }
                if (t == taps - 1)
                    for (int l = 0; l < DW_LANES; l++) {
#pragma HLS UNROLL
                        if (l >= lanes) continue;
                        y[(c0 + l) * pixels + p] = requantize(wide_t(acc[l]), mbuf[l], sbuf[l], lo, hi);
                    }
            }
    }
}

}  // namespace vitflow
