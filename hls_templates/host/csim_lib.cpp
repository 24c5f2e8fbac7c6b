// vitflow: the accelerator's C simulation as a shared library, for the host driver's CsimDevice
// (host/vitflow_driver.py): the top's C ABI over byte buffers, as the board's DDR holds them. Built without
// the II audit (VITFLOW_NO_AUDIT: the testbench's C simulation is where the audit runs), so a run is the
// functional model of the hardware the driver talks to.
//
//   int vitflow_csim_run(desc, desc_bytes, wgt, wgt_bytes, ddr, ddr_bytes, n_desc)
// runs descriptors [0, n_desc) (the descriptor buffer also holds, after them, the weight beats the
// descriptor port streams), writes the DDR area back, and returns the top's value: -1, or the index of a
// descriptor of unknown kind.
#include <vector>

#include "vitflow_top.h"

namespace {

// Bytes as AXI beats (little-endian), 64 bits at a time; one beat more than needed, never empty.
std::vector<vitflow::beat_t> to_beats(const unsigned char *bytes, long n) {
    const long b = vitflow::BEAT;
    std::vector<vitflow::beat_t> out((n + b - 1) / b + 1);
    for (long i = 0; i < n; i += 8) {
        unsigned long long v = 0;
        for (long j = 0; j < 8 && i + j < n; j++) v |= (unsigned long long)bytes[i + j] << (8 * j);
        out[i / b].range(64 * ((i % b) / 8) + 63, 64 * ((i % b) / 8)) = v;
    }
    return out;
}

}  // namespace

extern "C" int vitflow_csim_run(const unsigned char *desc, long desc_bytes, const unsigned char *wgt,
                                long wgt_bytes, unsigned char *ddr, long ddr_bytes, int n_desc) {
    std::vector<vitflow::beat_t> d = to_beats(desc, desc_bytes), w = to_beats(wgt, wgt_bytes),
                                 a = to_beats(ddr, ddr_bytes);
    const int ret = vitflow_top(d.data(), w.data(), a.data(), n_desc);
    const long b = vitflow::BEAT;
    for (long i = 0; i < ddr_bytes; i += 8) {
        const unsigned long long v = a[i / b].range(64 * ((i % b) / 8) + 63, 64 * ((i % b) / 8)).to_uint64();
        for (long j = 0; j < 8 && i + j < ddr_bytes; j++) ddr[i + j] = (unsigned char)(v >> (8 * j));
    }
    return ret;
}
