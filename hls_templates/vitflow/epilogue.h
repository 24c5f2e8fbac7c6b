// vitflow: a lookup table as an engine's epilogue. An activation (hardswish, ReLU) whose input only its
// producing convolution writes runs inside that engine (conv_pe.h, dwconv.h): the code the engine's
// requantization produces, in [OUT_LO, OUT_HI], becomes table[code - EPI_MIN] before it enters the output
// word. The activation then costs no pass of its own over the tensor (eltwise.h's lut_engine), and its
// input tensor never exists (flow/hls/epilogues.py fuses the program's layers).
//
// The table is a layer's first stream words (before its tiles): ENTRIES entries of the output's width,
// L / EB_OUT per word. It is copied into one bank per output lane the engine produces per cycle, so every
// lane looks up its code in a bank of its own: COPIES reads per cycle, one per bank, at a constant bank
// index (the pragma below). A bank of 2^8 16-bit entries is distributed RAM (flow/estimate/resources.py).
//
// Template parameters of load_table:
//   L        word bytes
//   COPIES   banks: the lanes that look up per cycle (the conv PE array's rows, the depthwise lanes)
//   TAB      the banks' array type: COPIES x N uint16_t (N >= the layer's entries)
#pragma once
#include "cycles.h"
#include "word.h"

namespace vitflow {

// The words of a weight FIFO's entry: a word (the depthwise and table engines' FIFOs), or a pair of them
// (the conv PE array's, dma.h stream_pairs). Word h of the entry, and an entry of zeros.
template <class E>
struct EntryWords;
template <int L>
struct EntryWords<Word<L> > {
    static const int N = 1;
    static Word<L> at(const Word<L> &e, int) { return e; }
    static Word<L> zero() { return zero_word<L>(); }
};
template <int L>
struct EntryWords<WordPair<L> > {
    static const int N = 2;
    static Word<L> at(const WordPair<L> &e, int h) { return h ? e.w[1] : e.w[0]; }
    static WordPair<L> zero() {
        WordPair<L> e;
        e.w[0] = zero_word<L>();
        e.w[1] = zero_word<L>();
        return e;
    }
};

// Reads `entries` table entries of eb_out bytes from the stream into every bank: one entry per cycle, an
// entry of the FIFO per N words of entries (the table is whole entries in the stream).
template <int L, int COPIES, class E, class TAB>
void load_table(Fifo<E> &ws, TAB &tab, int entries, int eb_out) {
#pragma HLS INLINE
    const int per_word = eb_out == 1 ? L : L / 2;
    E en = EntryWords<E>::zero();
#pragma HLS AGGREGATE variable = en compact = bit  // the entry under way: one register
    int lane = 0, h = 0;  // the entry's word h, its lane
    VITFLOW_LOOP(table_load, VITFLOW_DEPTH_COPY);
    table_load: for (int e = 0; e < entries; e++) {
#pragma HLS LOOP_TRIPCOUNT min = 256 max = 4096
        VITFLOW_PIPELINE(table_load, 1);
        if (lane == 0 && h == 0) en = ws.read();
        const uint16_t v = uint16_t(element<L>(EntryWords<E>::at(en, h), lane, eb_out, 0));
        for (int c = 0; c < COPIES; c++) {
#pragma HLS UNROLL
            tab[c][e] = v;  // COPIES writes per cycle, one per bank
        }
        if (++lane == per_word) {
            lane = 0;
            h = h + 1 == EntryWords<E>::N ? 0 : h + 1;
        }
    }
}

// The output of a requantized `code` in bank `bank`: table[code - first] when the layer has a table
// (entries > 0, a power of two: the mask keeps the index in range when it has none), else the code.
template <class TAB>
inline int epilogue_code(TAB &tab, int bank, int code, int entries, int first) {
#pragma HLS INLINE
    return entries > 0 ? int(tab[bank][(code - first) & (entries - 1)]) : code;
}

}  // namespace vitflow
