// vitflow: the accelerator top. The layer sequence is data: a table of DESC_WORDS-word descriptors
// (flow/hls/layout.py), each dispatched to its engine; the engines are reused layer after layer.
// Weights, parameters and activations live in external memory (DDR behind AXI masters on the board).
//
// Template parameters (the generated vitflow_config.h sets them as VITFLOW_<NAME>):
//   PE_ROWS, PE_COLS   conv PE array (conv_pe.h)
//   WBUF_DEPTH         on-chip weights per PE row (conv_pe.h)
//   WBUS               weight bytes read from DDR per cycle (conv_pe.h, dwconv.h)
//   DW_LANES, DW_TAPS  depthwise engine lanes and largest filter (dwconv.h)
//   ELT_LANES          element-wise and LayerNorm lanes (eltwise.h, layernorm.h)
//   ATT_D_MAX          largest attention head dimension (linear_attention.h)
//   ATT_ROWS           attention rows processed per cycle (linear_attention.h)
//   ATT_DIVIDER        1: the attention unit has the exact divider; 0: shift-only (log2 divisors only)
//   ACC_BITS           accumulator width (the program's range analysis must prove it sufficient)
#pragma once
#include "conv_pe.h"
#include "dwconv.h"
#include "eltwise.h"
#include "layernorm.h"
#include "linear_attention.h"

namespace vitflow {

// Runs layers [first, last) of the program; returns the index of a layer with an unknown kind, or -1.
template <int PE_ROWS, int PE_COLS, int WBUF_DEPTH, int WBUS, int DW_LANES, int DW_TAPS, int ELT_LANES,
          int ATT_D_MAX, int ATT_ROWS, int ATT_DIVIDER, int ACC_BITS>
int run_layers(const int32_t *desc, int first, int last, const int8_t *wgt, const int32_t *prm, int16_t *act) {
    for (int l = first; l < last; l++) {
        const int32_t *d = desc + l * DESC_WORDS;
        switch (d[FIELD_KIND]) {
        case KIND_CONV:
        case KIND_LINEAR: conv_layer<PE_ROWS, PE_COLS, WBUF_DEPTH, WBUS, ACC_BITS>(d, wgt, prm, act); break;
        case KIND_DWCONV: dwconv_layer<DW_LANES, DW_TAPS, WBUS, ACC_BITS>(d, wgt, prm, act); break;
        case KIND_HARDSWISH:
        case KIND_RELU: lut_layer<ELT_LANES>(d, prm, act); break;
        case KIND_ADD: add_layer<ELT_LANES>(d, act); break;
        case KIND_CONCAT: concat_layer<ELT_LANES>(d, prm, act); break;
        case KIND_GAP: gap_layer<ACC_BITS>(d, act); break;
        case KIND_LAYERNORM: layernorm_layer<ELT_LANES>(d, prm, act); break;
        case KIND_LINEAR_ATTENTION: linear_attention_layer<ATT_D_MAX, ATT_ROWS, ACC_BITS, ATT_DIVIDER>(d, prm, act); break;
        default: return l;
        }
    }
    return -1;
}

}  // namespace vitflow
