// vitflow: one step of the digit-by-digit (shift-subtract) integer square root of a W-bit value (W even),
// W / 2 steps in all (layernorm.h runs them as a loop per vector on 64 bits, token_layernorm.h flattened
// over the tokens on 44). Start with res = 0, bit = 2^(W - 2); after W / 2 steps res = floor(sqrt(v)).
// res and bit never share a set bit, so res + bit is res | bit, and one (W + 1)-bit subtraction both
// compares and subtracts: the step's loop-carried path is one subtract and a select (II = 1).
#pragma once
#include "requant.h"  // ap_int.h

namespace vitflow {

template <int W>
inline void isqrt_step(ap_uint<W> &v, ap_uint<W> &res, ap_uint<W> &bit) {
#pragma HLS INLINE
    const ap_int<W + 2> diff = ap_int<W + 2>(v) - ap_int<W + 2>(res | bit);
    if (diff >= 0) {
        v = ap_uint<W>(diff);
        res = (res >> 1) | bit;
    } else {
        res >>= 1;
    }
    bit >>= 2;
}

}  // namespace vitflow
