// vitflow: cycle counting in C-simulation (nothing in synthesis).
//
// Every engine counts the cycles its loop structure implies while it runs: one cycle per iteration of a
// pipelined loop (II = 1; an unrolled inner loop is part of its iteration; a loop unrolled by LANES
// counts one cycle per LANES elements), plus a fill latency each time a pipelined loop is entered, plus
// the latency of the sequential units. flow/estimate/cycles.py computes the same numbers in closed form
// from the layer descriptors, and a test checks they agree layer by layer.
#pragma once

#define VITFLOW_FILL_COPY 2   // entering a copy / element-wise loop
#define VITFLOW_FILL_MAC 6    // entering a multiply-accumulate loop (multiplier, adder tree, accumulator)
#define VITFLOW_DIV_LATENCY 36  // one 64-bit division (gap, per channel)
#define VITFLOW_ISQRT_LATENCY 32  // the digit-by-digit square root (one bit pair per cycle)

#ifndef __SYNTHESIS__
namespace vitflow {
inline long long &cycle_counter() {
    static long long cycles = 0;
    return cycles;
}
}  // namespace vitflow
#define VITFLOW_CYCLES(n) (vitflow::cycle_counter() += (n))
#else
#define VITFLOW_CYCLES(n)
#endif
