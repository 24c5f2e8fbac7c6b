// vitflow engines as hls4ml layers: the bridge between hls4ml's io_parallel arrays and the engines of
// hls_templates/vitflow (the same headers, registered with hls4ml's backend; see flow/hls4ml_backend).
//
// One program layer is one hls4ml layer, with its own on-chip activation memory: an aggregated array of
// words, a plain local of the layer's function (never a static, which Vitis would keep as state across
// calls and which would tie the layer's DATAFLOW process to memory outside it), cleared at each call, so
// layers under hls4ml's DATAFLOW share nothing and a frame depends on nothing but its input. Its function places the layer's inputs
// from hls4ml's arrays into that memory in the layer's word layout, feeds the layer's weight stream (an
// hls4ml weight variable, on chip, reshaped to a word per address) to the engine through a FIFO under
// DATAFLOW, runs the engine on the layer's own descriptor (registers), and copies the output back. Descriptor, stream and layouts are the ones flow.hls packs for the layer alone
// (flow/hls4ml_backend/program_onnx.py), so addresses are layer-local.
//
// Functions: unary<ENGINE, ...>(x, y, d, w, s) and binary<ENGINE, ...>(x0, x1, y, d, w, s), where ENGINE is one
// of the engine structs below (Conv, DwConv, Lut, Gap, LayerNorm, LinearAttention; Add, Concat).
//
// Template parameters:
//   ENGINE       which vitflow engine runs the layer
//   in_T, in1_T  hls4ml types of the inputs (integer codes; in1_T only for two-input layers)
//   out_T        hls4ml type of the output (integer codes)
//   d_T, w_T, s_T  hls4ml types of the descriptor words, stream bytes and slot words
//   CONFIG_T     the layer's config struct (written by flow/hls4ml_backend/extension.py), with:
//     n_in0, n_in1, n_out            element counts of the inputs (n_in1 = 1 with one input) and the output
//     c_in0, p_in0, cw_in0, eb_in0   channels, pixels, words per pixel, element bytes of input 0 (so for
//     c_in1, p_in1, cw_in1, eb_in1   input 1 and the output); a channel's slot (word in the pixel x lanes
//     c_out, p_out, cw_out, eb_out   per word + lane) is in `s`: input 0's, input 1's, then the output's
//     off_in0, off_in1, off_out      word addresses of the tensors in the layer's memory
//     sgn_out                        whether the output's codes are signed
//     n_wgt, n_words                 bytes of the weight variable (at least L) and words of the stream (0 when
//                                    the engine reads none)
//     lanes, pe_rows, pe_cols, dw_lanes, wdepth, dw_k, dw_cols, tab_entries, sh_words, att_d_max, att_rows,
//     att_dividers, acc_bits, fifo_depth, beat_bytes, act_uram   the accelerator configuration
//                                    (flow.hls.project.HwConfig; vitflow/accelerator.h documents each)
//     act_words                      words of the layer's own memory (its inputs and output)
#pragma once
#ifndef VITFLOW_NO_AUDIT
#define VITFLOW_NO_AUDIT  // the audit runs in flow's C-simulation; hls4ml's compile() builds the plain form
#endif
#include "accelerator.h"

namespace vitflow_hls4ml {

using vitflow::Word;

// Codes x (channel-major, as hls4ml holds them) into the layer's memory at word `off`, by their slots.
template <int L, int EB, class x_T, class MEM, class s_T>
void put(const x_T *x, MEM &act, int off, int channels, int pixels, int cw, const s_T *slots) {
    const int per_word = L / EB;
    for (int c = 0; c < channels; c++) {
        const int slot = slots[c];
        for (int p = 0; p < pixels; p++) {
            Word<L> w = act[off + p * cw + slot / per_word];
            vitflow::set_element<L>(w, slot % per_word, EB, int(x[c * pixels + p]));
            act[off + p * cw + slot / per_word] = w;
        }
    }
}

// The output's codes back, channel-major.
template <int L, int EB, bool SGN, class y_T, class MEM, class s_T>
void get(y_T *y, MEM &act, int off, int channels, int pixels, int cw, const s_T *slots) {
    const int per_word = L / EB;
    for (int c = 0; c < channels; c++) {
        const int slot = slots[c];
        for (int p = 0; p < pixels; p++) {
            const Word<L> w = act[off + p * cw + slot / per_word];
            y[c * pixels + p] = vitflow::element<L>(w, slot % per_word, EB, SGN);
        }
    }
}

// A layer's weight stream from its hls4ml weight variable: one word of L bytes per cycle (the variable is
// reshaped L bytes to an address by the layer function).
template <int L, int N_WORDS, class w_T>
void feed(const w_T *w, vitflow::Fifo<Word<L> > &ws) {
#pragma HLS INLINE off
    for (int k = 0; k < N_WORDS; k++) {
#pragma HLS PIPELINE II = 1
        Word<L> word;
        for (int b = 0; b < L; b++) {
#pragma HLS UNROLL
            word.b[b] = uint8_t(int(w[k * L + b]));
        }
        ws.write(word);
    }
}

// The same for the conv PE array's FIFO of word pairs (vitflow/dma.h stream_pairs): two words a cycle (the
// stream is whole pairs, flow/hls/streams.py).
template <int L, int N_WORDS, class w_T>
void feed(const w_T *w, vitflow::Fifo<vitflow::WordPair<L> > &ws) {
#pragma HLS INLINE off
    for (int k = 0; k < N_WORDS / 2; k++) {
#pragma HLS PIPELINE II = 1
        vitflow::WordPair<L> pr;
        for (int u = 0; u < 2; u++) {
#pragma HLS UNROLL
            for (int b = 0; b < L; b++) {
#pragma HLS UNROLL
                pr.w[u].b[b] = uint8_t(int(w[(2 * k + u) * L + b]));
            }
        }
        ws.write(pr);
    }
}

// The accelerator of a layer's configuration: its engines, with the layer's memory size.
template <class C>
struct Acc {
    typedef vitflow::Accelerator<C::lanes, C::pe_rows, C::pe_cols, C::dw_lanes, C::wdepth, C::dw_k, C::dw_cols, C::tab_entries,
                                 C::sh_words, C::att_d_max, C::att_rows, C::att_dividers, C::acc_bits, C::act_words,
                                 C::fifo_depth>
        type;
};

// A layer's own activation memory.
template <class C>
using Memory = Word<C::lanes>[C::act_words];

// An engine that reads a weight stream, beside the feeder that streams it (DATAFLOW, a FIFO of the
// accelerator's depth between them, as in the accelerator's own streamed layers).
template <class E, class C, class w_T>
void streamed(const int desc[DESC_WORDS], const w_T *w, Memory<C> &act) {
#pragma HLS INLINE off
#pragma HLS DATAFLOW
    vitflow::Fifo<typename E::Item> ws;  // a word an entry, or a pair (the PE array's)
#pragma HLS STREAM variable = ws depth = C::fifo_depth
    feed<C::lanes, C::n_words>(w, ws);
    E::run(desc, ws, act);
}

// The engines, each run on a layer's descriptor, weight variable and memory.
#define VITFLOW_HLS4ML_STREAMED(NAME, ENGINE)                                       \
    struct NAME {                                                                   \
        template <class C, class w_T>                                               \
        static void run(const int desc[DESC_WORDS], const w_T *w, Memory<C> &act) { \
            streamed<typename Acc<C>::type::ENGINE, C>(desc, w, act);                \
        }                                                                           \
    };
VITFLOW_HLS4ML_STREAMED(Conv, Conv)              // conv, pointwise, grouped and linear layers: the PE array
VITFLOW_HLS4ML_STREAMED(DwConv, DwConv)          // depthwise convolutions
VITFLOW_HLS4ML_STREAMED(Lut, Lut)                // hardswish and ReLU lookup tables
VITFLOW_HLS4ML_STREAMED(LayerNorm, LayerNorm)    // integer LayerNorm
VITFLOW_HLS4ML_STREAMED(LinearAttention, Attention)  // ReLU linear attention of LiteMLA
VITFLOW_HLS4ML_STREAMED(Concat, Concat)          // channel concatenation of two tensors
struct Gap {  // global average pool (eltwise.h)
    template <class C, class w_T>
    static void run(const int desc[DESC_WORDS], const w_T *, Memory<C> &act) {
        vitflow::gap_engine<C::lanes, C::acc_bits, C::act_words>(desc, act);
    }
};
struct Add {  // residual add of two tensors (eltwise.h)
    template <class C, class w_T>
    static void run(const int desc[DESC_WORDS], const w_T *, Memory<C> &act) {
        vitflow::add_engine<C::lanes, C::act_words>(desc, act);
    }
};

// The layer's memory, cleared, and its descriptor in registers.
template <class C, class d_T>
void setup(Memory<C> &act, int desc[DESC_WORDS], const d_T *d) {
    for (int i = 0; i < C::act_words; i++) act[i] = vitflow::zero_word<C::lanes>();
    for (int i = 0; i < DESC_WORDS; i++) desc[i] = int(d[i]);
}

// A one-input layer.
template <class ENGINE, class in_T, class out_T, class d_T, class w_T, class s_T, class CONFIG_T>
void unary(const in_T x[CONFIG_T::n_in0], out_T y[CONFIG_T::n_out], const d_T d[DESC_WORDS],
           const w_T w[CONFIG_T::n_wgt], const s_T s[CONFIG_T::c_in0 + CONFIG_T::c_out]) {
    const int L = CONFIG_T::lanes;
#pragma HLS ARRAY_RESHAPE variable = w cyclic factor = L
    Memory<CONFIG_T> act;  // this call's own (a local, not a static: no state between calls or layers)
    VITFLOW_AGGREGATE(act);
    VITFLOW_STORAGE(act, ram_t2p, bram, 3);
    // a PE array of 2 L rows writes a pixel's two output words at once, a bank each (vitflow/word.h write_pair)
    const int BANKS = CONFIG_T::pe_rows > L ? 2 : 1;
    (void)BANKS;  // read by the pragma alone (g++ ignores it)
#pragma HLS ARRAY_PARTITION variable = act cyclic factor = BANKS dim = 1
    int desc[DESC_WORDS];
#pragma HLS ARRAY_PARTITION variable = desc complete
    setup<CONFIG_T>(act, desc, d);
    put<L, CONFIG_T::eb_in0>(x, act, CONFIG_T::off_in0, CONFIG_T::c_in0, CONFIG_T::p_in0, CONFIG_T::cw_in0, s);
    ENGINE::template run<CONFIG_T>(desc, w, act);
    get<L, CONFIG_T::eb_out, CONFIG_T::sgn_out>(y, act, CONFIG_T::off_out, CONFIG_T::c_out, CONFIG_T::p_out,
                                                CONFIG_T::cw_out, s + CONFIG_T::c_in0);
}

// A two-input layer.
template <class ENGINE, class in_T, class in1_T, class out_T, class d_T, class w_T, class s_T, class CONFIG_T>
void binary(const in_T x0[CONFIG_T::n_in0], const in1_T x1[CONFIG_T::n_in1], out_T y[CONFIG_T::n_out],
            const d_T d[DESC_WORDS], const w_T w[CONFIG_T::n_wgt],
            const s_T s[CONFIG_T::c_in0 + CONFIG_T::c_in1 + CONFIG_T::c_out]) {
    const int L = CONFIG_T::lanes;
#pragma HLS ARRAY_RESHAPE variable = w cyclic factor = L
    Memory<CONFIG_T> act;  // this call's own (a local, not a static: no state between calls or layers)
    VITFLOW_AGGREGATE(act);
    VITFLOW_STORAGE(act, ram_t2p, bram, 3);
    // a PE array of 2 L rows writes a pixel's two output words at once, a bank each (vitflow/word.h write_pair)
    const int BANKS = CONFIG_T::pe_rows > L ? 2 : 1;
    (void)BANKS;  // read by the pragma alone (g++ ignores it)
#pragma HLS ARRAY_PARTITION variable = act cyclic factor = BANKS dim = 1
    int desc[DESC_WORDS];
#pragma HLS ARRAY_PARTITION variable = desc complete
    setup<CONFIG_T>(act, desc, d);
    put<L, CONFIG_T::eb_in0>(x0, act, CONFIG_T::off_in0, CONFIG_T::c_in0, CONFIG_T::p_in0, CONFIG_T::cw_in0, s);
    put<L, CONFIG_T::eb_in1>(x1, act, CONFIG_T::off_in1, CONFIG_T::c_in1, CONFIG_T::p_in1, CONFIG_T::cw_in1,
                             s + CONFIG_T::c_in0);
    ENGINE::template run<CONFIG_T>(desc, w, act);
    get<L, CONFIG_T::eb_out, CONFIG_T::sgn_out>(y, act, CONFIG_T::off_out, CONFIG_T::c_out, CONFIG_T::p_out,
                                                CONFIG_T::cw_out, s + CONFIG_T::c_in0 + CONFIG_T::c_in1);
}

}  // namespace vitflow_hls4ml
