// vitflow: one step of the digit-by-digit (shift-subtract) integer square root of a 64-bit value, 32 steps
// in all (layernorm.h runs them as a loop per vector, token_layernorm.h flattened over the tokens).
// Start with res = 0, bit = 2^62; after 32 steps res = floor(sqrt(v)). res and bit never share a set bit,
// so res + bit is res | bit, and one 65-bit subtraction both compares and subtracts: the step's
// loop-carried path is one subtract and a select (II = 1).
#pragma once
#include "requant.h"  // ap_int.h

namespace vitflow {

inline void isqrt_step(ap_uint<64> &v, ap_uint<64> &res, ap_uint<64> &bit) {
#pragma HLS INLINE
    const ap_int<66> diff = ap_int<66>(v) - ap_int<66>(res | bit);
    if (diff >= 0) {
        v = ap_uint<64>(diff);
        res = (res >> 1) | bit;
    } else {
        res >>= 1;
    }
    bit >>= 2;
}

}  // namespace vitflow
