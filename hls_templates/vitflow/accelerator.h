// vitflow: the accelerator. The program is data: a table of descriptors (flow/hls/layout.py), each fetched
// once into registers and dispatched to its engine; the engines are reused layer after layer. Activations
// live on chip in one dual-port memory of L-byte words (`act`, placed by flow/hls/memory_plan.py); weights,
// parameters and tables stream from DDR beside the engine that consumes them; DMA descriptors move the
// program's input and output, and tensors too large for the chip, between DDR and `act`.
//
// Template parameters (the generated vitflow_config.h sets them as VITFLOW_<NAME>):
//   L             activation word bytes; element units have L lanes (word.h)
//   PE_ROWS, PE_COLS  the conv PE array: output channels x input byte lanes per cycle, each even and dividing
//                 L (PE_ROWS may be 2 L: tiles of two output words); two products per DSP (conv_pe.h,
//                 dsp_pack.h)
//   DW_LANES      depthwise channels per cycle, dividing L (dwconv.h)
//   WDEPTH        weight words per PE row and tile (conv_pe.h)
//   DW_K          largest depthwise kernel side (dwconv.h: a DW_K x DW_K window, DW_K line-buffer rows)
//   DW_COLS       words per depthwise line-buffer row (dwconv.h)
//   TAB_ENTRIES   entries of the largest lookup table (2^bits of its input) (eltwise.h, linear_attention.h)
//   SH_WORDS      words of the LayerNorm's channel shifts (layernorm.h)
//   ATT_D_MAX     largest attention head dimension (linear_attention.h)
//   ATT_ROWS      attention rows per cycle, and kv columns requantized per cycle (linear_attention.h: a power
//                 of two, at most ATT_D_MAX)
//   ATT_DIVIDERS  exact dividers of the attention unit; 0: shift-only (linear_attention.h)
//   ACC_BITS      accumulator width (the program's range analysis must prove it sufficient)
//   ACT_WORDS     words of the on-chip activation memory
//   FIFO_DEPTH    entries of the weight FIFO between the loader and an engine (words; the PE array's: pairs)
//   EPI           entries of the largest table fused into the conv and depthwise engines (epilogue.h); 0:
//                 none (every activation runs on the table unit)
//   TF            1: the softmax transformer's engines (transformer.h) are built; 0: their descriptors are
//                 refused (a convolution network's accelerator spends nothing on them)
//   MM_ROWS, MM_DEPTH, MMV_DEPTH, SM_ROWS, SM_ENTRIES, TLN_DIV, TLN_C, TLN_TOKENS  those engines' parameters
//                 (transformer.h); with TF = 0 any valid values (they are not built)
//   DW_ENGINE     1: the depthwise engine is built; 0: its descriptors are refused, and DW_LANES, DW_K,
//                 DW_COLS size nothing (a DeiT's accelerator spends no DSPs or line buffer on it)
//   ATT_ENGINE    1: the linear-attention engine is built; 0: its descriptors are refused, and ATT_D_MAX,
//                 ATT_ROWS, ATT_DIVIDERS size nothing
//   DW_TAPS       depthwise multipliers per lane (dwconv.h TAPS: a k x k filter in ceil(k^2 / DW_TAPS) folds);
//                 0: DW_K x DW_K, every layer in one fold
//   ATT_PACK      1: the linear attention's products two per DSP (linear_attention.h PACK: every attention
//                 layer's v and kv codes signed 8-bit, its q and k tables within -256..255); 0: one per DSP
//   RES           1: the conv PE array runs residual adds as its epilogue (conv_pe.h RES); 0: not built
//   ADD_ENGINE    1: the add engine is built (eltwise.h); 0: its descriptors are refused (every add of the
//                 program runs as a convolution's epilogue, and its L lanes of products are not spent)
//   CONCAT_ENGINE 1: the concat unit is built (eltwise.h); 0: its descriptors are refused (every concatenation
//                 of the program is done in place, flow/hls/concat_in_place.py: its producers write its
//                 pixels, and its 2 L table banks are not spent)
//   DW_PAIRS      1: the depthwise engine runs the descriptors with DW_PAIR = 1 in tile pairs, two output words a
//                 tile (dwconv.h PAIRS); needs PE_ROWS = 2 L, whose two-word tiles give the activation memory
//                 its two banks (a pair's two input words are one read of each); 0: one word a tile
#pragma once
#include "conv_pe.h"
#include "dma.h"
#include "dwconv.h"
#include "eltwise.h"
#include "layernorm.h"
#include "linear_attention.h"
#include "transformer.h"

namespace vitflow {

template <int L, int PE_ROWS, int PE_COLS, int DW_LANES, int WDEPTH, int DW_K, int DW_COLS, int TAB_ENTRIES, int SH_WORDS, int ATT_D_MAX, int ATT_ROWS, int ATT_DIVIDERS,
          int ACC_BITS, int ACT_WORDS, int FIFO_DEPTH, int EPI = 0, int TF = 0, int MM_ROWS = 2, int MM_DEPTH = 1,
          int MMV_DEPTH = 1, int SM_ROWS = 1, int SM_ENTRIES = 256, int TLN_DIV = 1, int TLN_C = 8, int TLN_TOKENS = 1,
          int DW_ENGINE = 1, int ATT_ENGINE = 1, int ATT_PACK = 0, int DW_TAPS = 0, int RES = 0, int ADD_ENGINE = 1,
          int CONCAT_ENGINE = 1, int DW_PAIRS = 0>
struct Accelerator {
    static_assert(!DW_PAIRS || PE_ROWS == 2 * L, "tile pairs read the activation memory's two banks");
    typedef Mem<Word<L>, ACT_WORDS> ActMem;

    // The engines that read a weight stream, each as a type for `streamed`, with its FIFO's entry: the PE
    // array takes a pair of words a cycle (dma.h stream_pairs), the others a word.
    struct Conv {
        typedef WordPair<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<WordPair<L> > &ws, ActMem &act) {
            conv_engine<L, PE_ROWS, PE_COLS, WDEPTH, ACC_BITS, ACT_WORDS, EPI, RES>(d, ws, act);
        }
    };
    struct DwConv {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            dwconv_engine<L, DW_LANES, DW_K, DW_COLS, ACC_BITS, ACT_WORDS, EPI,
                          DW_TAPS ? DW_TAPS : DW_K * DW_K, DW_PAIRS>(d, ws, act);
        }
    };
    struct Lut {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            lut_engine<L, TAB_ENTRIES, ACT_WORDS>(d, ws, act);
        }
    };
    struct Concat {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            concat_engine<L, TAB_ENTRIES, ACT_WORDS>(d, ws, act);
        }
    };
    struct LayerNorm {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            layernorm_engine<L, SH_WORDS, ACT_WORDS>(d, ws, act);
        }
    };
    struct Attention {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            linear_attention_engine<L, ATT_D_MAX, ATT_ROWS, ATT_DIVIDERS, ACC_BITS, TAB_ENTRIES, ACT_WORDS,
                                    ATT_PACK>(d, ws, act);
        }
    };
    struct AddConst {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            add_const_engine<L, ACT_WORDS>(d, ws, act);
        }
    };
    struct Softmax {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            softmax_engine<L, SM_ROWS, SM_ENTRIES, ACT_WORDS>(d, ws, act);
        }
    };
    struct TokenLayerNorm {
        typedef Word<L> Item;
        static void run(const int d[DESC_WORDS], Fifo<Word<L> > &ws, ActMem &act) {
            token_layernorm_engine<L, TLN_DIV, TLN_C, TLN_TOKENS, ACT_WORDS>(d, ws, act);
        }
    };

    // The loader of a FIFO of words (dma.h stream_words: the weight port and, when words are split over two
    // ports, the descriptor port) and of one of pairs (stream_pairs: also wgt2 and wgt3 at L >= 2 BEAT).
    static void load(AxiPort<const beat_t> wgt, AxiPort<const beat_t> desc, AxiPort<const beat_t>,
                     AxiPort<const beat_t>, int w_off, int w_off2, int w_words, Fifo<Word<L> > &ws) {
#pragma HLS INLINE
        stream_words<L>(wgt, desc, w_off, w_off2, w_words, ws);
    }
    static void load(AxiPort<const beat_t> wgt, AxiPort<const beat_t> desc, AxiPort<const beat_t> wgt2,
                     AxiPort<const beat_t> wgt3, int w_off, int w_off2, int w_words, Fifo<WordPair<L> > &ws) {
#pragma HLS INLINE
        stream_pairs<L>(wgt, desc, wgt2, wgt3, w_off, w_off2, w_words, ws);
    }

    // A layer with a weight stream: the loader and the engine run concurrently (DATAFLOW), joined by a FIFO;
    // the stream's place and length come as scalars, the engine alone reads the descriptor registers. The
    // loader reads the weight port (and wgt2, wgt3) from w_off and the descriptor port from w_off2 (dma.h).
    template <class ENGINE>
    static void streamed(const int d[DESC_WORDS], int w_off, int w_off2, int w_words, AxiPort<const beat_t> wgt,
                         AxiPort<const beat_t> desc, AxiPort<const beat_t> wgt2, AxiPort<const beat_t> wgt3,
                         ActMem &act) {
#pragma HLS INLINE off
#pragma HLS DATAFLOW
        VITFLOW_FIFO(typename ENGINE::Item, ws, FIFO_DEPTH);
        load(wgt, desc, wgt2, wgt3, w_off, w_off2, w_words, ws);
        ENGINE::run(d, ws, act);
        VITFLOW_FIFO_DRAINED(ws);
    }

    // Runs descriptors [0, n_desc); returns the index of a descriptor with an unknown kind, or -1. wgt2 and
    // wgt3 read the weight buffer through ports of their own (only at L >= 2 BEAT: dma.h stream_pairs).
    static int run(AxiPort<const beat_t> desc, AxiPort<const beat_t> wgt, AxiPort<const beat_t> wgt2,
                   AxiPort<const beat_t> wgt3, AxiPort<beat_t> ddr, int n_desc, ActMem &act) {
        for (int i = 0; i < n_desc; i++) {
#pragma HLS LOOP_TRIPCOUNT min = 1 max = 400
            VITFLOW_DESCRIPTOR(i);
            int d[DESC_WORDS];
#pragma HLS ARRAY_PARTITION variable = d complete
            fetch_descriptor(desc, i, d);
            VITFLOW_DESCRIPTOR_IS(d[FIELD_LAYER], d[FIELD_KIND]);
            // a stream's beats: from W_OFF in the weight buffer, and from W_OFF_D past the descriptors
            const int w_off = d[FIELD_W_OFF], w_off2 = n_desc * DESC_BEATS + d[FIELD_W_OFF_D];
            const int w_words = d[FIELD_W_WORDS];
            switch (d[FIELD_KIND]) {
            case KIND_CONV:
            case KIND_LINEAR:
                if (!RES && d[CONV_RES]) return i;  // a residual add as epilogue, which this design lacks
                streamed<Conv>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_DWCONV:
                if (!DW_ENGINE) return i;  // a constant: the engine's code is not built
                streamed<DwConv>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_HARDSWISH:
            case KIND_RELU:
            case KIND_GELU:
            case KIND_REQUANT: streamed<Lut>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act); break;
            case KIND_ADD:
                if (!ADD_ENGINE) return i;
                add_engine<L, ACT_WORDS>(d, act);
                break;
            case KIND_CONCAT:
                if (!CONCAT_ENGINE) return i;
                streamed<Concat>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_GAP: gap_engine<L, ACC_BITS, ACT_WORDS>(d, act); break;
            case KIND_LAYERNORM: streamed<LayerNorm>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act); break;
            case KIND_LINEAR_ATTENTION:
                if (!ATT_ENGINE) return i;
                streamed<Attention>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_LOAD: dma_load<L, ACT_WORDS>(d, ddr, act); break;
            case KIND_STORE: dma_store<L, ACT_WORDS>(d, ddr, act); break;
            case KIND_ADD_CONST:
                if (!TF) return i;
                streamed<AddConst>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_SOFTMAX:
                if (!TF) return i;
                streamed<Softmax>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_TOKEN_LAYERNORM:
                if (!TF) return i;
                streamed<TokenLayerNorm>(d, w_off, w_off2, w_words, wgt, desc, wgt2, wgt3, act);
                break;
            case KIND_MATMUL:
                if (!TF) return i;
                matmul_engine<L, MM_ROWS, MM_DEPTH, MMV_DEPTH, ACC_BITS, ACT_WORDS>(d, act);
                break;
            default: return i;
            }
        }
        return -1;
    }
};

}  // namespace vitflow
