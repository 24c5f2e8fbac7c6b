// vitflow: activation words, AXI beats and the memories that hold them.
//
// On chip, a tensor is a sequence of words of L bytes (Word<L>). Its layout (flow/hls/tensor_layout.py)
// is HWC: pixel after pixel, each pixel's channels in one or more segments, each segment starting at a
// word boundary; a word holds L / EB elements of EB bytes (1 for codes of up to 8 bits, 2 for up to 16),
// little-endian, sign- or zero-extended when read according to the tensor's signedness.
// DDR is reached through AXI beats of BEAT bytes (BEAT = min(L, the port width): 16 bytes on Zynq
// UltraScale+'s 128-bit HP ports, 8 on Zynq-7000's 64-bit ones), so a word is L / BEAT beats.
//
// Template parameters:
//   L       bytes per activation word: the PE array is L x L, the depthwise and element units have L
//           lanes (a power of two, 8..64)
//   N       words of a memory (Mem)
//   T       element type of a memory or an AXI port
#pragma once
#include "audit.h"
#include "requant.h"

#ifndef VITFLOW_BEAT_BYTES
#define VITFLOW_BEAT_BYTES 16
#endif

namespace vitflow {

template <int L>
struct Word {
    uint8_t b[L];
};

// Two words: an entry of the conv PE array's weight FIFO, which loads two weight words a cycle (dma.h
// stream_pairs, conv_pe.h).
template <int L>
struct WordPair {
    Word<L> w[2];
};

#if !defined(__SYNTHESIS__) && !defined(VITFLOW_NO_AUDIT)
namespace audit {
template <int L>
struct IsWord<Word<L> > {  // the audit requires memories of words to be aggregated
    enum { value = 1 };
};
}  // namespace audit
#endif

// log2 of a power of two, at compile time
template <int N>
struct Log2 {
    enum { value = 1 + Log2<N / 2>::value };
};
template <>
struct Log2<1> {
    enum { value = 0 };
};
template <int N>
inline int ilog2() {
    return Log2<N>::value;
}

const int BEAT = VITFLOW_BEAT_BYTES;
typedef ap_uint<8 * VITFLOW_BEAT_BYTES> beat_t;

#if defined(__SYNTHESIS__) || defined(VITFLOW_NO_AUDIT)
template <class T, int N>
using Mem = T[N];
template <class T>
using AxiPort = T *;
#define VITFLOW_AXI_PORT(T, pointer, id) (pointer)
#else
template <class T, int N>
using Mem = audit::Array1<T>;
template <class T>
using AxiPort = audit::Axi<T>;
#define VITFLOW_AXI_PORT(T, pointer, id) vitflow::audit::Axi<T>(pointer, id)
#endif

// Words a and a + 1 of the activation memory in one iteration: with the memory partitioned cyclically by
// two (the top's ARRAY_PARTITION when the PE array writes two-word tiles), the even word of the pair goes
// to bank 0 and the odd one to bank 1, each at an index Vitis resolves to its bank (2 k and 2 k + 1), so the
// pair takes one port of each bank, as one write of an unpartitioned memory would. The audit counts it so.
template <class MEM, class T>
inline void write_pair(MEM &mem, int a, const T &w0, const T &w1) {
#pragma HLS INLINE
#if defined(__SYNTHESIS__) || defined(VITFLOW_NO_AUDIT)
    const bool odd = a & 1;
    const int k_even = (a + 1) >> 1, k_odd = a >> 1;  // the pair's even word is a + 1 when a is odd
    mem[2 * k_even] = odd ? w1 : w0;
    mem[2 * k_odd + 1] = odd ? w0 : w1;
#else
    mem.write_pair(a, w0, w1);
#endif
}

// Words a and a + 1 of the activation memory in one iteration, as write_pair writes them: one read port of
// each bank (the memory partitioned cyclically by two), the pair's even word from bank 0.
template <class MEM, class T>
inline void read_pair(MEM &mem, int a, T &w0, T &w1) {
#pragma HLS INLINE
#if defined(__SYNTHESIS__) || defined(VITFLOW_NO_AUDIT)
    const bool odd = a & 1;
    const int k_even = (a + 1) >> 1, k_odd = a >> 1;
    const T e = mem[2 * k_even], o = mem[2 * k_odd + 1];
    w0 = odd ? o : e;
    w1 = odd ? e : o;
#else
    mem.read_pair(a, w0, w1);
#endif
}

// The L lanes of a word as integers: lane l < L / eb is element l (sign-extended when sgn), the rest 0.
template <int L>
inline void unpack(const Word<L> &w, int eb, int sgn, int x[L]) {
#pragma HLS INLINE
    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
        const int lo = w.b[eb == 1 ? l : (2 * l) & (L - 1)];
        const int hi = w.b[(2 * l + 1) & (L - 1)];
        int v;
        if (eb == 1) v = sgn ? int(int8_t(lo)) : lo;
        else v = sgn ? int(int16_t(uint16_t(lo | (hi << 8)))) : (lo | (hi << 8));
        x[l] = (eb == 1 || l < L / 2) ? v : 0;
    }
}

// Element `lane` of a word (lane < L / eb).
template <int L>
inline int element(const Word<L> &w, int lane, int eb, int sgn) {
#pragma HLS INLINE
    const int lo = w.b[eb == 1 ? lane : (2 * lane) & (L - 1)];
    const int hi = w.b[(2 * lane + 1) & (L - 1)];
    if (eb == 1) return sgn ? int(int8_t(lo)) : lo;
    return sgn ? int(int16_t(uint16_t(lo | (hi << 8)))) : (lo | (hi << 8));
}

// Store v (its low 8 or 16 bits) as element `lane` (lane < L / eb).
template <int L>
inline void set_element(Word<L> &w, int lane, int eb, int v) {
#pragma HLS INLINE
    if (eb == 1) {
        w.b[lane] = uint8_t(v);
    } else {
        w.b[(2 * lane) & (L - 1)] = uint8_t(v);
        w.b[(2 * lane + 1) & (L - 1)] = uint8_t(v >> 8);
    }
}

template <int L>
inline Word<L> zero_word() {
#pragma HLS INLINE
    Word<L> w;
    for (int l = 0; l < L; l++) {
#pragma HLS UNROLL
        w.b[l] = 0;
    }
    return w;
}

// The 32-bit integer k of a word (L / 4 per word, little-endian): parameters in a weight stream.
template <int L>
inline int32_t word_int(const Word<L> &w, int k) {
#pragma HLS INLINE
    return int32_t(uint32_t(w.b[4 * k]) | (uint32_t(w.b[4 * k + 1]) << 8) | (uint32_t(w.b[4 * k + 2]) << 16) |
                   (uint32_t(w.b[4 * k + 3]) << 24));
}

// Bytes [part * BEAT, (part + 1) * BEAT) of a word from / into a beat.
template <int L>
inline void beat_into_word(const beat_t &bt, int part, Word<L> &w) {
#pragma HLS INLINE
    for (int j = 0; j < BEAT; j++) {
#pragma HLS UNROLL
        w.b[(part * BEAT + j) & (L - 1)] = uint8_t(bt.range(8 * j + 7, 8 * j));
    }
}
template <int L>
inline beat_t word_part(const Word<L> &w, int part) {
#pragma HLS INLINE
    beat_t bt;
    for (int j = 0; j < BEAT; j++) {
#pragma HLS UNROLL
        bt.range(8 * j + 7, 8 * j) = w.b[(part * BEAT + j) & (L - 1)];
    }
    return bt;
}

}  // namespace vitflow
