// vitflow: bytes as DDR holds them <-> the top's AXI beats (little-endian, 64 bits at a time), for the
// testbench (tb/tb_vitflow.cpp) and the host driver's C-simulation library (host/csim_lib.cpp). Host code:
// neither is synthesized.
#pragma once
#include <cstddef>
#include <vector>

#include "../firmware/vitflow_top.h"  // relative to this file: no include path to pass (run_hls.tcl)

namespace vitflow {

// n bytes as beats, one beat more than needed (never an empty buffer).
inline std::vector<beat_t> to_beats(const unsigned char *bytes, size_t n) {
    const size_t b = BEAT;
    std::vector<beat_t> out((n + b - 1) / b + 1);
    for (size_t i = 0; i < n; i += 8) {
        unsigned long long v = 0;
        for (size_t j = 0; j < 8 && i + j < n; j++) v |= (unsigned long long)bytes[i + j] << (8 * j);
        out[i / b].range(64 * ((i % b) / 8) + 63, 64 * ((i % b) / 8)) = v;
    }
    return out;
}

// The first n bytes of the beats.
inline void from_beats(const std::vector<beat_t> &beats, unsigned char *bytes, size_t n) {
    const size_t b = BEAT;
    for (size_t i = 0; i < n; i += 8) {
        const unsigned long long v = beats[i / b].range(64 * ((i % b) / 8) + 63, 64 * ((i % b) / 8)).to_uint64();
        for (size_t j = 0; j < 8 && i + j < n; j++) bytes[i + j] = (unsigned char)(v >> (8 * j));
    }
}

}  // namespace vitflow
