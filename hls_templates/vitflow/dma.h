// vitflow: everything that touches DDR. Each is one pipelined burst loop over consecutive beats (II = 1),
// the only loops that use an AXI port:
//   fetch_descriptor  a layer's DESC_WORDS descriptor words, burst-read once into registers
//   stream_words      a layer's weight stream (weights, parameters, tables, packed offline in the order its
//                     engine consumes them) from DDR into a FIFO; it runs beside the engine under DATAFLOW,
//                     so the next tile's weights arrive while the current tile computes. When a word is two
//                     or more beats (L / BEAT >= 2) it reads two ports at once, a word's even beats from the
//                     weight port and its odd beats from the descriptor port (idle while a layer runs; the
//                     host places those beats after the descriptors, flow/hls/image.py): a word per cycle
//                     at L = 2 BEAT, where one port would give half of one
//   stream_pairs      the conv PE array's stream, two words a cycle: a pair's 2 L / BEAT beats over PORTS =
//                     min(4, 2 L / BEAT) ports (the weight and descriptor ports, and at L >= 2 BEAT two more,
//                     wgt2 and wgt3, that read the weight buffer again through HP ports of their own)
//   dma_load / dma_store  activation words between DDR and the on-chip activation memory (the program's
//                     input and output, tensors that do not fit on chip, in row stripes; and, in a checking
//                     run, every layer's output for the layer-by-layer comparison)
// Template parameters:
//   L          word bytes (a word is L / BEAT beats)
//   ACT_WORDS  words of the on-chip activation memory
#pragma once
#include "cycles.h"
#include "vitflow_layout.h"
#include "word.h"

namespace vitflow {

const int DESC_BEATS = DESC_WORDS * 4 / BEAT;

inline void fetch_descriptor(AxiPort<const beat_t> desc, int index, int d[DESC_WORDS]) {
    const int per = BEAT / 4;  // descriptor words per beat
    const int base = index * DESC_BEATS;
    VITFLOW_LOOP(desc_fetch, VITFLOW_DEPTH_COPY);
    desc_fetch: for (int i = 0; i < DESC_BEATS; i++) {
        VITFLOW_PIPELINE(desc_fetch, 1);
        const beat_t b = desc[base + i];
        for (int j = 0; j < BEAT / 4; j++) {
#pragma HLS UNROLL
            d[i * per + j] = int32_t(uint32_t(b.range(32 * j + 31, 32 * j)));
        }
    }
}

// The stream's beats from `off` of the weight port and, split, from `off2` of the descriptor port.
template <int L>
void stream_words(AxiPort<const beat_t> wgt, AxiPort<const beat_t> desc, int off, int off2, int words,
                  Fifo<Word<L> > &ws) {
#pragma HLS INLINE off
    const int per = L / BEAT;           // beats per word
    const int ports = per >= 2 ? 2 : 1;  // a compile-time choice
    const int pairs = per / ports;       // iterations per word
    Word<L> w = zero_word<L>();
    int part = 0;
    VITFLOW_LOOP(stream_load, VITFLOW_DEPTH_COPY);
    stream_load: for (int i = 0; i < words * pairs; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 307200
        VITFLOW_PIPELINE(stream_load, 1);
        beat_into_word<L>(wgt[off + i], ports * part, w);
        if (ports == 2) beat_into_word<L>(desc[off2 + i], 2 * part + 1, w);
        if (++part == pairs) {
            part = 0;
            ws.write(w);
        }
    }
}

// The PE array's stream of `words` words (whole pairs) into a FIFO of pairs. Beat j of a pair (its first
// word's beats, then its second's) is read by port j % PORTS at the pair's iteration j / PORTS. Each port
// bursts its own consecutive beats: the weight port from `off`, the descriptor port from `off2`, wgt2 and
// wgt3 from off + q and off + 2 q (q beats each: the host lays the three parts out one after another,
// flow/hls/image.py).
template <int L>
void stream_pairs(AxiPort<const beat_t> wgt, AxiPort<const beat_t> desc, AxiPort<const beat_t> wgt2,
                  AxiPort<const beat_t> wgt3, int off, int off2, int words, Fifo<WordPair<L> > &ws) {
#pragma HLS INLINE off
    const int per = L / BEAT;                      // beats per word
    const int PORTS = 2 * per >= 4 ? 4 : 2 * per;  // a compile-time choice
    const int its = 2 * per / PORTS;               // iterations per pair
    const int q = (words >> 1) * its;              // beats each port reads
    WordPair<L> pr;
#pragma HLS AGGREGATE variable = pr compact = bit
    pr.w[0] = zero_word<L>();
    pr.w[1] = zero_word<L>();
    int part = 0;
    VITFLOW_LOOP(stream_pairs, VITFLOW_DEPTH_COPY);
    stream_pairs: for (int i = 0; i < q; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 153600
        VITFLOW_PIPELINE(stream_pairs, 1);
        for (int p = 0; p < PORTS; p++) {  // beat j = part PORTS + p: word j / per, its beat j % per
#pragma HLS UNROLL
            const int j = part * PORTS + p, word = j / per;
            const beat_t b = p == 0 ? beat_t(wgt[off + i]) : p == 1 ? beat_t(desc[off2 + i])
                           : p == 2 ? beat_t(wgt2[off + q + i]) : beat_t(wgt3[off + 2 * q + i]);
            if (word == 0) beat_into_word<L>(b, j % per, pr.w[0]);
            else beat_into_word<L>(b, j % per, pr.w[1]);
        }
        if (++part == its) {
            part = 0;
            ws.write(pr);
        }
    }
}

template <int L, int ACT_WORDS>
void dma_load(const int d[DESC_WORDS], AxiPort<beat_t> ddr, Mem<Word<L>, ACT_WORDS> &act) {
    const int per = L / BEAT, off = d[DMA_DDR_OFF], words = d[DMA_WORDS], addr = d[DMA_ADDR];
    Word<L> w = zero_word<L>();
    int part = 0, k = addr;
    VITFLOW_LOOP(dma_load, VITFLOW_DEPTH_COPY);
    dma_load: for (int i = 0; i < words * per; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 100352
        VITFLOW_PIPELINE(dma_load, 1);
        beat_into_word<L>(ddr[off + i], part, w);
        if (++part == per) {
            part = 0;
            act[k] = w;
            k++;
        }
    }
}

template <int L, int ACT_WORDS>
void dma_store(const int d[DESC_WORDS], AxiPort<beat_t> ddr, Mem<Word<L>, ACT_WORDS> &act) {
    const int per = L / BEAT, off = d[DMA_DDR_OFF], words = d[DMA_WORDS], addr = d[DMA_ADDR];
    Word<L> w = zero_word<L>();
    int part = 0, k = addr;
    VITFLOW_LOOP(dma_store, VITFLOW_DEPTH_COPY);
    dma_store: for (int i = 0; i < words * per; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 100352
        VITFLOW_PIPELINE(dma_store, 1);
        if (part == 0) w = act[k];
        ddr[off + i] = word_part<L>(w, part);
        if (++part == per) {
            part = 0;
            k++;
        }
    }
}

}  // namespace vitflow
