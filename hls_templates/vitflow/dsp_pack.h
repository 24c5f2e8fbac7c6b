// vitflow: two int8 products that share an operand, in one DSP48E2 (the packing of Xilinx WP486, "Deep
// Learning with INT8 Optimization on Xilinx Devices").
//
// The DSP48E2 computes (A + D) x B + C with a 27-bit pre-adder, a 27 x 18 multiplier and a 48-bit
// post-adder. With A = a_hi 2^18, D = a_lo (both 8-bit signed), B = b and C = 2^17:
//     P = a_hi b 2^18 + (a_lo b + 2^17)
// The low product is at most 2^15 in magnitude (8-bit a_lo, 9-bit b: 128 x 256), so a_lo b + 2^17 lies in
// (0, 2^18): it fills P's low 18 bits without a borrow from the high part, and P >> 18 is a_hi b exactly.
// The low 18 bits with bit 17 flipped, read as signed, are a_lo b. The split is wiring and one inverter:
// no adder outside the DSP.
//
// Operands:
//   a_hi, a_lo  the two 8-bit signed factors that differ (two weights of one input lane)
//   b           the shared factor: 9-bit signed, in use -128..255 (an 8-bit code, signed or unsigned, or
//               one byte of a wider code)
// Results: the two products, 17-bit signed (-128 x -256 = 2^15 needs all 17 bits).
//
// Synthesis sees the ap_int form. C-simulation runs the same operations on native integers (the ap_int
// form makes a B1 C-simulation 3x slower); tests/hls/test_dsp_pack.py checks both forms exhaustively
// (VITFLOW_PACK_AP_INT selects the synthesis form in g++). The depthwise engine's operand types are here
// too, pinned the same way (each product one DSP).
#pragma once
#include "requant.h"  // ap_int.h, included so that GCC stays quiet about the headers

namespace vitflow {

#if defined(__SYNTHESIS__) || defined(VITFLOW_PACK_AP_INT)
typedef ap_int<8> pack_a_t;   // a weight
typedef ap_int<9> pack_b_t;   // the shared operand
typedef ap_int<17> prod_t;    // a product
typedef ap_int<22> psum_t;    // a sum of up to 32 products (|sum| <= 2^20)

inline void mul2(pack_a_t a_hi, pack_a_t a_lo, pack_b_t b, prod_t &p_hi, prod_t &p_lo) {
#pragma HLS INLINE
    // the pre-adder's operands as the DSP takes them: a 26-bit A (a_hi 2^18), an 8-bit D, a 27-bit sum.
    // No BIND_OP: it would keep Vitis from matching the add-multiply-add onto one DSP (UG1399, bind_op),
    // and a 27 x 9 product goes to a DSP by default.
    const ap_int<26> a_shifted = ap_int<26>(a_hi) << 18;
    const ap_int<27> packed = a_shifted + a_lo;
    const ap_int<36> p = packed * b + ap_int<36>(1 << 17);  // |p| < 2^34: 36 bits; + C on the post-adder
    p_hi = p >> 18;
    p_lo = ap_int<18>(p(17, 0) ^ 0x20000);
}
typedef ap_int<17> code_t;   // an activation code of up to 16 bits, signed or not
typedef ap_int<25> dw_prod_t; // an int8 weight times a code
typedef ap_int<32> dw_sum_t;  // a depthwise window's sum: K^2 2^7 2^16 < 2^31 for K <= 16
#else
typedef int code_t;
typedef int dw_prod_t;
typedef int dw_sum_t;
typedef int pack_a_t;
typedef int pack_b_t;
typedef int prod_t;
typedef int psum_t;

inline void mul2(int a_hi, int a_lo, int b, int &p_hi, int &p_lo) {
    const long long p = ((long long)a_hi * (1 << 18) + a_lo) * b + (1 << 17);
    p_hi = int(p >> 18);
    p_lo = int(p & 0x3FFFF) - 0x20000;  // bit 17 flipped, read as signed: the low 18 bits less 2^17
}
#endif

}  // namespace vitflow
