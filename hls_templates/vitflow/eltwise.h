// vitflow: element-wise units.
//
//   lut_layer      hardswish and ReLU(+requant): out[i] = table[x[i] - IN_MIN] (LUT_* fields); the
//                  table has 2^bits entries of the input code, built by the lowering. With LUT_ROWS > 1
//                  (an output scale or zero point per channel: Trio-ViT's channel-wise migration and
//                  filter-wise shift) one table row per channel: each channel's row is copied into an
//                  on-chip row buffer (LUT_ENTRIES words, one per cycle), then its plane is looked up
//   add_layer      residual add: clamp(round_half_even((a M0 + b M1) / 2^SHIFT)) (ADD_* fields)
//   concat_layer   channel concatenation of two tensors, each through its requantization table (CONCAT_*)
//   gap_layer      global average pool: per channel S = sum over H W, then
//                  clamp(round_half_even(S MULT / (HW 2^SHIFT))), an exact division (GAP_*); channels
//                  one after another
// Sizes:
//   VITFLOW_LUT_ROW_MAX  entries of the per-channel row buffer (int16 codes): 2^12, the widest table the
//                        lowering builds
// Template parameters:
//   LANES  elements processed in parallel (lut, add, concat)
//   P_T    storage type of the parameter words (lut, concat; deduced): int32_t in the accelerator
//          (DDR), ap_int<32> in the hls4ml bridge
#pragma once
#include "requant.h"
#include "vitflow_layout.h"

#ifndef VITFLOW_LUT_ROW_MAX
#define VITFLOW_LUT_ROW_MAX 4096
#endif

namespace vitflow {

// y[i] = table[x[i] - in_min] for i < n, LANES elements per cycle (the caller counts the loop's fill).
template <int LANES, class P_T>
void table_lookup(const int16_t *x, int16_t *y, int n, const P_T *table, int in_min) {
    for (int i = 0; i < n; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
        if (i % LANES == 0) VITFLOW_CYCLES(1);
        y[i] = table[x[i] - in_min];
    }
}

template <int LANES, class P_T>
void lut_layer(const int32_t *d, const P_T *prm, int16_t *act) {
    const int n = d[LUT_N], in_min = d[LUT_IN_MIN], rows = d[LUT_ROWS];
    const P_T *table = prm + d[LUT_TAB_OFF];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    VITFLOW_CYCLES(VITFLOW_FILL_COPY);
    if (rows <= 1) {
        table_lookup<LANES>(x, y, n, table, in_min);
        return;
    }
    const int entries = d[LUT_ENTRIES], plane = n / rows;  // channel-major tensor: rows planes
    // LANES lookups per cycle need LANES read ports: the resource model counts one dual-port copy of
    // this buffer per two lanes (not yet checked by synthesis)
    int16_t row[VITFLOW_LUT_ROW_MAX];
    for (int c = 0; c < rows; c++) {
        VITFLOW_CYCLES(VITFLOW_FILL_COPY);
        for (int e = 0; e < entries; e++) {
#pragma HLS PIPELINE II = 1
            VITFLOW_CYCLES(1);
            row[e] = int16_t(table[c * entries + e]);
        }
        table_lookup<LANES>(x + c * plane, y + c * plane, plane, row, in_min);
    }
}

template <int LANES>
void add_layer(const int32_t *d, int16_t *act) {
    const int n = d[ADD_N], m0 = d[ADD_M0], m1 = d[ADD_M1], shift = d[ADD_SHIFT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int16_t *a = act + d[FIELD_IN0], *b = act + d[FIELD_IN1];
    int16_t *y = act + d[FIELD_OUT];
    VITFLOW_CYCLES(VITFLOW_FILL_COPY);
    for (int i = 0; i < n; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS UNROLL factor = LANES
        if (i % LANES == 0) VITFLOW_CYCLES(1);
        const wide_t acc = wide_t(a[i]) * m0 + wide_t(b[i]) * m1;
        y[i] = clamp(round_shift(acc, shift), lo, hi);
    }
}

template <int LANES, class P_T>
void concat_layer(const int32_t *d, const P_T *prm, int16_t *act) {
    const int n0 = d[CONCAT_C0] * d[CONCAT_HW], n1 = d[CONCAT_C1] * d[CONCAT_HW];
    const P_T *t0 = prm + d[CONCAT_TAB0_OFF], *t1 = prm + d[CONCAT_TAB1_OFF];
    const int min0 = d[CONCAT_IN_MIN0], min1 = d[CONCAT_IN_MIN1];
    const int16_t *a = act + d[FIELD_IN0], *b = act + d[FIELD_IN1];
    int16_t *y = act + d[FIELD_OUT];
    VITFLOW_CYCLES(2 * VITFLOW_FILL_COPY);
    table_lookup<LANES>(a, y, n0, t0, min0);
    table_lookup<LANES>(b, y + n0, n1, t1, min1);
}

template <int ACC_BITS>
void gap_layer(const int32_t *d, int16_t *act) {
    const int ch = d[GAP_C], hw = d[GAP_HW], mult = d[GAP_MULT], shift = d[GAP_SHIFT];
    const int lo = d[FIELD_OUT_LO], hi = d[FIELD_OUT_HI];
    const int16_t *x = act + d[FIELD_IN0];
    int16_t *y = act + d[FIELD_OUT];
    for (int c = 0; c < ch; c++) {
        VITFLOW_CYCLES(VITFLOW_FILL_COPY + VITFLOW_DIV_LATENCY);
        ap_int<ACC_BITS> sum = 0;
        for (int i = 0; i < hw; i++) {
#pragma HLS PIPELINE II = 1
            VITFLOW_CYCLES(1);
            sum += x[c * hw + i];
        }
        wide_t num = wide_t(sum) * mult, den = hw;
        if (shift >= 0) den = den << shift;
        else num = num << (-shift);
        y[c] = clamp(round_div(num, den), lo, hi);
    }
}

}  // namespace vitflow
