// vitflow C-simulation testbench: loads the program image and the integer reference's golden tensors
// written by flow/hls/project.py, runs the accelerator top over every layer, and compares each layer's
// output with the reference. Prints one line per layer (with the cycles its engine counted, see
// vitflow/cycles.h); on the first mismatch it names the layer, the element index and both values, and
// exits 1.
// Usage: tb_vitflow <data folder> [image folder, default <data folder>/img0]
// The image folder holds input.bin (the int16 activation arena with the program's inputs in place) and
// golden.bin (the arena after the integer reference ran).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "vitflow/cycles.h"
#include "vitflow/vitflow_layout.h"
#include "vitflow_top.h"

template <typename T>
static std::vector<T> load(const std::string &path) {
    std::vector<T> v;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) {
        std::fprintf(stderr, "tb: cannot open %s\n", path.c_str());
        std::exit(2);
    }
    std::fseek(f, 0, SEEK_END);
    const long bytes = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    v.resize(bytes / sizeof(T));
    if (!v.empty() && std::fread(v.data(), sizeof(T), v.size(), f) != v.size()) {
        std::fprintf(stderr, "tb: short read on %s\n", path.c_str());
        std::exit(2);
    }
    std::fclose(f);
    return v;
}

int main(int argc, char **argv) {
    const std::string dir = argc > 1 ? argv[1] : "data";
    const std::string img = argc > 2 ? argv[2] : dir + "/img0";
    std::vector<int32_t> desc = load<int32_t>(dir + "/desc.bin"), prm = load<int32_t>(dir + "/params.bin");
    std::vector<int8_t> wgt = load<int8_t>(dir + "/weights.bin");
    std::vector<int16_t> golden = load<int16_t>(img + "/golden.bin"), input = load<int16_t>(img + "/input.bin");
    std::vector<int32_t> layers = load<int32_t>(dir + "/layers.bin");  // per layer: output offset, size
    const int n_layers = int(desc.size() / DESC_WORDS);
    if (prm.empty()) prm.push_back(0);
    if (wgt.empty()) wgt.push_back(0);
    std::vector<int16_t> act(input);  // the activation arena with the program's inputs in place
    if (act.size() != golden.size()) {
        std::fprintf(stderr, "tb: input.bin and golden.bin differ in size\n");
        return 2;
    }
    for (int l = 0; l < n_layers; l++) {  // one layer at a time: its cycles, then its output checked
        const long long before = vitflow::cycle_counter();
        if (vitflow_top(desc.data(), l, l + 1, wgt.data(), prm.data(), act.data()) >= 0) {
            std::printf("csim: layer %d has an unknown kind\n", l);
            return 1;
        }
        const long long cycles = vitflow::cycle_counter() - before;
        const int off = layers[2 * l], size = layers[2 * l + 1];
        for (int i = 0; i < size; i++)
            if (act[off + i] != golden[off + i]) {
                std::printf("MISMATCH layer %d index %d csim %d reference %d\n", l, i, act[off + i], golden[off + i]);
                return 1;
            }
        std::printf("layer %d ok %d cycles %lld\n", l, size, cycles);
    }
    std::printf("csim: all %d layers bit-exact\n", n_layers);
    return 0;
}
