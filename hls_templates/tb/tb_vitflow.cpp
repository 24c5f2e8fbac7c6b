// vitflow testbench (C-simulation and co-simulation): runs a program image once on the accelerator top and
// checks the DDR activation area it leaves against the integer reference's.
//
// Usage: tb_vitflow <data folder> [image folder, default <data>/img0] [descriptor file, default check.desc]
// The data folder holds the descriptors, weights.bin and weights_desc.bin (the weight streams: the weight
// port's beats, and those the descriptor port reads after the descriptors) and ddr_mask.bin (1 for each byte
// of the DDR area that holds an element); the image folder ddr_in.bin (the DDR area with the program's
// input in place) and ddr_golden.bin (every region as the reference computed it). With check.desc every
// layer's output is stored to its region, so the comparison is layer by layer.
// Writes <image folder>/ddr_out.bin (flow reads each layer's output from it) and, in C-simulation, one line
// per descriptor with what the audit counted (vitflow/audit.h). Exit status: 0 bit-exact, 1 a mismatch
// (the first differing byte is printed), 2 bad input files, 3 an audit violation (printed by the audit).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "beat_bytes.h"  // the top, and bytes <-> beats (relative to this file: no include path to pass)

static std::vector<unsigned char> load(const std::string &path) {
    std::vector<unsigned char> v;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::fprintf(stderr, "tb: cannot open %s\n", path.c_str());
        std::exit(2);
    }
    std::fseek(f, 0, SEEK_END);
    const long bytes = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    v.resize(bytes);
    if (bytes && std::fread(v.data(), 1, v.size(), f) != v.size()) {
        std::fprintf(stderr, "tb: short read on %s\n", path.c_str());
        std::exit(2);
    }
    std::fclose(f);
    return v;
}

static std::vector<vitflow::beat_t> beats(const std::vector<unsigned char> &bytes) {
    return vitflow::to_beats(bytes.data(), bytes.size());
}

int main(int argc, char **argv) {
    const std::string dir = argc > 1 ? argv[1] : "data";
    const std::string img = argc > 2 ? argv[2] : dir + "/img0";
    const std::string desc_file = argc > 3 ? argv[3] : "check.desc";
    const std::vector<unsigned char> desc_bytes = load(dir + "/" + desc_file);
    // the descriptor port's buffer: the descriptors, then the weight beats it streams (weights_desc.bin)
    std::vector<unsigned char> desc_port = desc_bytes;
    const std::vector<unsigned char> wdesc = load(dir + "/weights_desc.bin");
    desc_port.insert(desc_port.end(), wdesc.begin(), wdesc.end());
    std::vector<vitflow::beat_t> desc = beats(desc_port), wgt = beats(load(dir + "/weights.bin"));
    const std::vector<unsigned char> in = load(img + "/ddr_in.bin"), golden = load(img + "/ddr_golden.bin");
    const std::vector<unsigned char> mask = load(dir + "/ddr_mask.bin");
    if (in.size() != golden.size() || mask.size() != golden.size()) {
        std::fprintf(stderr, "tb: ddr_in.bin, ddr_golden.bin and ddr_mask.bin differ in size\n");
        return 2;
    }
    std::vector<vitflow::beat_t> ddr = beats(in);
    const int n_desc = int(desc_bytes.size() / (4 * DESC_WORDS));
#if VITFLOW_WGT_PORTS == 4  // wgt2 and wgt3 read the weight buffer too, through ports of their own
    const int bad = vitflow_top(desc.data(), wgt.data(), wgt.data(), wgt.data(), ddr.data(), n_desc);
#else
    const int bad = vitflow_top(desc.data(), wgt.data(), ddr.data(), n_desc);
#endif
    if (bad >= 0) {
        std::printf("csim: descriptor %d has an unknown kind\n", bad);
        return 1;
    }
#ifndef __SYNTHESIS__
    for (const vitflow::audit::DescriptorStats &s : vitflow::audit::state().stats)
        std::printf("desc %d layer %d kind %d iterations %lld cycles %lld entries %lld fill %lld beats %lld %lld %lld "
                    "%lld %lld bursts %lld %lld %lld %lld %lld\n",
                    s.index, s.layer, s.kind, s.iterations, s.cycles, s.entries, s.fill, s.port[0].beats,
                    s.port[1].beats, s.port[2].beats, s.port[4].beats, s.port[5].beats, s.port[0].bursts,
                    s.port[1].bursts, s.port[2].bursts, s.port[4].bursts, s.port[5].bursts);
#endif
    std::vector<unsigned char> out(in.size());
    vitflow::from_beats(ddr, out.data(), out.size());
    FILE *f = std::fopen((img + "/ddr_out.bin").c_str(), "wb");
    if (!f || std::fwrite(out.data(), 1, out.size(), f) != out.size()) {
        std::fprintf(stderr, "tb: cannot write %s/ddr_out.bin\n", img.c_str());
        return 2;
    }
    std::fclose(f);
    for (size_t i = 0; i < out.size(); i++)
        if (mask[i] && out[i] != golden[i]) {
            std::printf("MISMATCH byte %zu csim %d reference %d\n", i, out[i], golden[i]);
            return 1;
        }
    std::printf("csim: %d descriptors, the DDR area equals the reference\n", n_desc);
    return 0;
}
