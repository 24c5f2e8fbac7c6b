// vitflow: the latencies the cycle model (flow/estimate/timing.py reads this file) charges beside the counts
// the C-simulation's audit makes (iterations, loop entries, beats; vitflow/audit.h). Each is a design
// estimate for Zynq UltraScale+ at 200-300 MHz, with its reasoning; a Vitis run reports the real ones.
//
// Pipeline depths (cycles from a loop's first iteration issuing to its first result; paid once per loop
// execution, the "fill"). Building blocks, with their sources:
//   block RAM read: 2 cycles with the output register (UG573), +1 for the address decode and output
//   multiplexer of a memory cascaded over many BRAM/URAM (the activation memory): 3
//   DSP48E2 multiply: 3 register stages A/B, M, P (UG579); a 64 x 32-bit requantization product is a
//   cascade of 4 DSPs: 6 cycles, then rounding and clamping: 2
//   adder tree over L products: log2(L) levels, two levels of narrow adders per cycle at 200 MHz: <= 3
//   64-bit divider: Vitis HLS's pipelined sdiv/udiv core, one quotient bit per stage: 68 cycles (UG1399,
//   "arbitrary precision" operators; the latency Vitis HLS reports for a 64-bit division at II = 1)
#pragma once

#define VITFLOW_DEPTH_CONV 25   // act read 3 + multiply 3 + adder tree 3 + accumulate 1 + requantize 8 + epilogue table 1 + write 1, + address 1 and margin
#define VITFLOW_DEPTH_DW 21     // act read 3 + window 1 + multiply 3 + adder tree of K x K 3 + requantize 8 + epilogue table 1 + write 1, + 1
#define VITFLOW_DEPTH_ELT 8     // act read 3 + table read 2 (index from the code) + lane select 1 + write 1, + 1
#define VITFLOW_DEPTH_ADD 12    // two act reads 3 + two products 4 + sum, round, clamp 3 + write 1, + 1
#define VITFLOW_DEPTH_COPY 4    // a burst / stream copy loop: read 1 + assemble 1 + write 1, + 1
#define VITFLOW_DEPTH_MAC 8     // a short multiply-accumulate loop on registers (attention, LayerNorm): 3 + 1 + margin
#define VITFLOW_DEPTH_DIV 76    // a loop that divides: the 64-bit divider 68 + operands and rounding 8
#define VITFLOW_DEPTH_QDIV 20  // a loop that divides with requant.h's ClampedDiv: act read 3 + products 3 + numerator and range check 2 + 8 compare-subtract stages 8 + tie, clamp 1 + write 1, + 2
#define VITFLOW_DEPTH_ATT_OUT 28  // the linear attention's output loop: operands and rounding 8 (as VITFLOW_DEPTH_DIV's) + range check 2 + ClampedDiv's 16 stages + tie, clamp 1 + write 1
#define VITFLOW_DEPTH_ISQRT 2   // the square root's loop: one 64-bit compare-subtract per iteration
#define VITFLOW_DEPTH_SOFTMAX 14  // act read 3 + per-row register read 2 + table read 2 + multiply 3 (or adder tree 3) + round, clamp 1 + write 1, + 2

// The depthwise line buffer's read-after-write distance: a word written into the line buffer at one
// iteration is read back a row later; the row must be at least this many iterations long, so that the
// write (stage ~5: the activation read's 3 cycles after its address, then the write) lands before the
// read of the same word (stage ~1: its address is a counter), with a margin (dwconv.h declares it to Vitis
// as the dependence's distance, and the audit checks every read against it)
#define VITFLOW_LBUF_DISTANCE 8

// Burst start: cycles from an AXI read burst's address to its first beat. Set as the HLS ports'
// expected latency (run_hls.tcl: config_interface -m_axi_latency 64): 64 cycles = 320 ns at 200 MHz, the
// order of the HP-port-to-DDR read latency of Zynq UltraScale+ (a few hundred ns, UG1085's interconnect
// chapters). Charged once per burst loop (the loop's reads stream after it, num_read_outstanding deep).
#define VITFLOW_BURST_LATENCY 64
