// vitflow engines as hls4ml layers: the bridge between hls4ml's io_parallel arrays and the engines of
// hls_templates/vitflow (the same headers, registered with hls4ml's backend; see flow/hls4ml_backend).
//
// One program layer is one hls4ml layer. Its function copies the layer's inputs from hls4ml's arrays into
// an activation arena of int16 codes at the layer's own offsets, runs the vitflow engine of its kind on the layer's own
// descriptor, weights and parameters (hls4ml weight variables, on chip, read in place: the engines take
// their storage types as template parameters), and copies the output back.
// The descriptor is the one flow.hls.layout packs for the layer alone, so offsets are layer-local.
//
// Functions: unary<ENGINE, ...>(x, y, d, w, p) and binary<ENGINE, ...>(x0, x1, y, d, w, p), where ENGINE is one
// of the engine structs below (Conv, DwConv, Lut, Gap, LayerNorm, LinearAttention; Add, Concat).
//
// Template parameters:
//   ENGINE       which vitflow engine runs the layer
//   in_T, in1_T  hls4ml types of the inputs (integer codes; in1_T only for two-input layers)
//   out_T        hls4ml type of the output (integer codes)
//   d_T, w_T, p_T  hls4ml types of the descriptor words, weight bytes and parameter words
//   CONFIG_T     the layer's config struct (written by flow/hls4ml_backend/templates.py), with:
//     n_in0, n_in1   element counts of the inputs (n_in1 = 1 when there is one input; unused)
//     n_out          element count of the output
//     in0_off, in1_off, out_off  offsets of the input and output tensors in the arena (int16 codes)
//     arena          size of the shared arena (int16 codes): the largest layer's need, the same in every layer
//     n_wgt, n_prm   weight bytes and parameter words of the layer (at least 1)
//     pe_rows, pe_cols, wbuf_depth, wbus   conv PE array (conv_pe.h: PE_ROWS, PE_COLS, WBUF_DEPTH, WBUS)
//     dw_lanes, dw_taps                     depthwise engine (dwconv.h: DW_LANES, DW_TAPS)
//     elt_lanes                             element-wise and LayerNorm lanes (eltwise.h, layernorm.h: LANES)
//     att_d_max, att_rows, att_divider      attention unit (linear_attention.h: D_MAX, ROWS, DIVIDER)
//     acc_bits                              accumulator width (every engine's ACC_BITS)
#pragma once
#include "accelerator.h"

namespace vitflow_hls4ml {

// The activation arena, one for the whole network: every layer's CONFIG_T::arena is the largest layer's
// need, so all layers share this one instance (the layers run one after another, as in the accelerator).
template <int N>
inline int16_t *shared_arena() {
    static int16_t act[N];
    return act;
}

// The layer-local memory image one engine call works on: its descriptor and the shared arena.
template <class CONFIG_T>
struct Unit {
    int32_t desc[DESC_WORDS];
    int16_t *act = shared_arena<CONFIG_T::arena>();

    template <class d_T>
    void load(const d_T d[DESC_WORDS]) {
        for (int i = 0; i < DESC_WORDS; i++) desc[i] = (int32_t)d[i];
    }
    template <class x_T>
    void put(const x_T *x, int off, int n) {
        for (int i = 0; i < n; i++) act[off + i] = (int16_t)x[i];
    }
    template <class y_T>
    void get(y_T y[CONFIG_T::n_out]) {
        for (int i = 0; i < CONFIG_T::n_out; i++) y[i] = act[CONFIG_T::out_off + i];
    }
};

// The engines, each run on a layer's Unit.
struct Conv {  // conv, pointwise, grouped and linear layers: the conv PE array (conv_pe.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) {
        vitflow::conv_layer<C::pe_rows, C::pe_cols, C::wbuf_depth, C::wbus, C::acc_bits>(u.desc, w, p, u.act);
    }
};
struct DwConv {  // depthwise convolutions (dwconv.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) {
        vitflow::dwconv_layer<C::dw_lanes, C::dw_taps, C::wbus, C::acc_bits>(u.desc, w, p, u.act);
    }
};
struct Lut {  // hardswish and ReLU lookup tables (eltwise.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) { vitflow::lut_layer<C::elt_lanes>(u.desc, p, u.act); }
};
struct Gap {  // global average pool (eltwise.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) { vitflow::gap_layer<C::acc_bits>(u.desc, u.act); }
};
struct LayerNorm {  // integer LayerNorm (layernorm.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) { vitflow::layernorm_layer<C::elt_lanes>(u.desc, p, u.act); }
};
struct LinearAttention {  // ReLU linear attention of LiteMLA (linear_attention.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) {
        vitflow::linear_attention_layer<C::att_d_max, C::att_rows, C::acc_bits, C::att_divider>(u.desc, p, u.act);
    }
};
struct Add {  // residual add of two tensors (eltwise.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) { vitflow::add_layer<C::elt_lanes>(u.desc, u.act); }
};
struct Concat {  // channel concatenation of two tensors (eltwise.h)
    template <class C, class W, class P>
    static void run(Unit<C> &u, const W *w, const P *p) { vitflow::concat_layer<C::elt_lanes>(u.desc, p, u.act); }
};

// A one-input layer.
template <class ENGINE, class in_T, class out_T, class d_T, class w_T, class p_T, class CONFIG_T>
void unary(const in_T x[CONFIG_T::n_in0], out_T y[CONFIG_T::n_out], const d_T d[DESC_WORDS],
           const w_T w[CONFIG_T::n_wgt], const p_T p[CONFIG_T::n_prm]) {
    static Unit<CONFIG_T> u;
    u.load(d);
    u.put(x, CONFIG_T::in0_off, CONFIG_T::n_in0);
    ENGINE::run(u, w, p);
    u.get(y);
}

// A two-input layer.
template <class ENGINE, class in_T, class in1_T, class out_T, class d_T, class w_T, class p_T, class CONFIG_T>
void binary(const in_T x0[CONFIG_T::n_in0], const in1_T x1[CONFIG_T::n_in1], out_T y[CONFIG_T::n_out],
            const d_T d[DESC_WORDS], const w_T w[CONFIG_T::n_wgt], const p_T p[CONFIG_T::n_prm]) {
    static Unit<CONFIG_T> u;
    u.load(d);
    u.put(x0, CONFIG_T::in0_off, CONFIG_T::n_in0);
    u.put(x1, CONFIG_T::in1_off, CONFIG_T::n_in1);
    ENGINE::run(u, w, p);
    u.get(y);
}

}  // namespace vitflow_hls4ml
