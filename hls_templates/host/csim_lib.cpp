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

#include "../tb/beat_bytes.h"  // the top, and bytes <-> beats (the testbench's own)

extern "C" int vitflow_csim_run(const unsigned char *desc, long desc_bytes, const unsigned char *wgt,
                                long wgt_bytes, unsigned char *ddr, long ddr_bytes, int n_desc) {
    std::vector<vitflow::beat_t> d = vitflow::to_beats(desc, desc_bytes), w = vitflow::to_beats(wgt, wgt_bytes),
                                 a = vitflow::to_beats(ddr, ddr_bytes);
#if VITFLOW_WGT_PORTS == 4  // wgt2 and wgt3 read the weight buffer too (the board passes its address thrice)
    const int ret = vitflow_top(d.data(), w.data(), w.data(), w.data(), a.data(), n_desc);
#else
    const int ret = vitflow_top(d.data(), w.data(), a.data(), n_desc);
#endif
    vitflow::from_beats(a, ddr, ddr_bytes);
    return ret;
}
