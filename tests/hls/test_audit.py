"""The II audit (hls_templates/vitflow/audit.h) rejects the code Vitis HLS could not schedule at the loop's
II, naming the loop, the buffer or port and the iteration, and passes the idioms the templates use. One
small program, compiled once with the audit as C-simulation builds it, runs one case per argument."""

import subprocess

import pytest

from flow.hls.csim import CXXFLAGS, ap_types_dir, compiler
from flow.hls.project import templates_dir

CASES = r"""
#include <cstdio>
#include <cstring>
#include <string>
#include "audit.h"
#include "word.h"

static int data[1024];

int main(int argc, char **argv) {
    const std::string c = argc > 1 ? argv[1] : "clean";
    vitflow::audit::descriptor(0, 7, 0);
    int sum = 0;
    if (c == "scattered_axi") {  // a strided read in an II=1 loop: every beat a new address
        vitflow::audit::Axi<int> port(data, VITFLOW_PORT_WGT);
        VITFLOW_LOOP(gather, 4);
        for (int i = 0; i < 8; i++) {
            VITFLOW_PIPELINE(gather, 1);
            sum += port[i * 7];
        }
    } else if (c == "gap_in_burst") {  // every other beat: not the next address of the burst
        vitflow::audit::Axi<int> port(data, VITFLOW_PORT_ACT);
        VITFLOW_LOOP(skip, 4);
        for (int i = 0; i < 16; i += 2) {
            VITFLOW_PIPELINE(skip, 1);
            sum += port[i];
        }
    } else if (c == "two_beats") {  // two beats of one port in one cycle
        vitflow::audit::Axi<int> port(data, VITFLOW_PORT_WGT);
        VITFLOW_LOOP(pairs, 4);
        for (int i = 0; i < 8; i++) {
            VITFLOW_PIPELINE(pairs, 1);
            sum += port[2 * i] + port[2 * i + 1];
        }
    } else if (c == "axi_outside_loop") {  // a lone transaction, outside any burst loop
        vitflow::audit::Axi<int> port(data, VITFLOW_PORT_DESC);
        sum += port[3];
    } else if (c == "unpartitioned") {  // four reads per cycle of a dual-port RAM
        VITFLOW_BUFFER1(int, buf, 64);
        VITFLOW_LOOP(dot, 4);
        for (int i = 0; i < 16; i++) {
            VITFLOW_PIPELINE(dot, 1);
            for (int j = 0; j < 4; j++) sum += buf[4 * i + j];
        }
    } else if (c == "single_port_twice") {  // two reads per cycle of a single-port RAM
        VITFLOW_BUFFER1(int, buf, 64);
        VITFLOW_STORAGE(buf, ram_1p, bram, 1);
        VITFLOW_LOOP(pair, 4);
        for (int i = 0; i < 16; i++) {
            VITFLOW_PIPELINE(pair, 1);
            sum += buf[2 * i] + buf[2 * i + 1];
        }
    } else if (c == "carried_dependence") {  // reads what the previous iteration wrote, declared independent
        VITFLOW_BUFFER1(int, buf, 64);
        VITFLOW_LOOP(scan, 8);
        for (int i = 1; i < 16; i++) {
            VITFLOW_PIPELINE(scan, 1);
            VITFLOW_NO_DEPENDENCE(buf);
            buf[i] = buf[i - 1] + 1;
        }
    } else if (c == "short_distance" || c == "distance_kept") {  // a ring read back 3 (4) iterations later
        VITFLOW_BUFFER1(int, buf, 64);
        const int back = c == "short_distance" ? 3 : 4;
        VITFLOW_LOOP(ring, 8);
        for (int i = 4; i < 16; i++) {
            VITFLOW_PIPELINE(ring, 1);
            VITFLOW_DEPENDENCE_DISTANCE(buf, 4);  // declared: at least 4 iterations apart
            buf[i] = buf[i - back] + 1;
        }
    } else if (c == "undeclared_dependence") {  // read and written in one loop, no DEPENDENCE in its body
        VITFLOW_BUFFER1(int, buf, 64);
        VITFLOW_NO_DEPENDENCE(buf);  // at function scope: Vitis does not take it for the loop
        VITFLOW_LOOP(copy, 8);
        for (int i = 0; i < 16; i++) {
            VITFLOW_PIPELINE(copy, 1);
            buf[32 + i] = buf[i];
        }
    } else if (c == "unaggregated_words") {  // a memory of words Vitis would split into a memory per byte
        VITFLOW_BUFFER1(vitflow::Word<16>, words, 8);
        VITFLOW_LOOP(zero, 4);
        for (int i = 0; i < 8; i++) {
            VITFLOW_PIPELINE(zero, 1);
            words[i] = vitflow::zero_word<16>();
        }
    } else if (c == "fifo_twice") {  // two reads of one FIFO in a cycle
        vitflow::Fifo<int> f;
        for (int i = 0; i < 8; i++) f.write(i);
        VITFLOW_LOOP(drain, 4);
        for (int i = 0; i < 4; i++) {
            VITFLOW_PIPELINE(drain, 1);
            sum += f.read() + f.read();
        }
    } else if (c == "pair_beside_two") {  // a pair of words beside a read and a write: three accesses
        VITFLOW_BUFFER1(int, mem, 64);
        VITFLOW_LOOP(pairs3, 4);
        for (int i = 0; i < 8; i++) {
            VITFLOW_PIPELINE(pairs3, 1);
            VITFLOW_NO_DEPENDENCE(mem);
            const int v = mem[i];
            vitflow::write_pair(mem, 17 + 2 * i, v, i);
            mem[40 + i] = i;
        }
    } else if (c == "pair") {  // a read and a pair of words each cycle (the PE array's two-word tiles): two
        VITFLOW_BUFFER1(int, mem, 64);  // accesses; pairs at odd and even addresses
        for (int i = 0; i < 8; i++) mem[i] = 10 * i;
        {
            VITFLOW_LOOP(pairs, 4);
            for (int i = 0; i < 8; i++) {
                VITFLOW_PIPELINE(pairs, 1);
                VITFLOW_NO_DEPENDENCE(mem);
                const int v = mem[i];
                vitflow::write_pair(mem, 20 + 3 * i, v, v + 1);
            }
        }
        for (int i = 0; i < 8; i++) sum += mem[20 + 3 * i] == 10 * i && mem[21 + 3 * i] == 10 * i + 1;
    } else if (c == "clean") {  // the idioms: partitioned reads, a sequential burst, II=2 with three accesses
        VITFLOW_BUFFER2(int, rows, 4, 16);
        VITFLOW_PARTITION(rows, complete, 1);
        vitflow::audit::Axi<int> port(data, VITFLOW_PORT_WGT);
        {
            VITFLOW_LOOP(fill, 4);
            for (int i = 0; i < 16; i++) {
                VITFLOW_PIPELINE(fill, 1);
                const int v = port[100 + i];
                for (int r = 0; r < 4; r++) rows[r][i] = v + r;
            }
        }
        {
            VITFLOW_LOOP(use, 4);
            for (int i = 0; i < 16; i++) {
                VITFLOW_PIPELINE(use, 1);
                for (int r = 0; r < 4; r++) sum += rows[r][i];
            }
        }
        VITFLOW_BUFFER1(int, mem, 64);
        VITFLOW_LOOP(add, 12);
        for (int i = 0; i < 16; i++) {
            VITFLOW_PIPELINE(add, 2);
            VITFLOW_NO_DEPENDENCE(mem);
            mem[32 + i] = mem[i] + mem[16 + i];
        }
    }
    const vitflow::audit::DescriptorStats &s = vitflow::audit::state().stats.back();
    std::printf("iterations %lld cycles %lld entries %lld fill %lld wgt %lld/%lld sum %d\n", s.iterations, s.cycles,
                s.entries, s.fill, s.port[1].beats, s.port[1].bursts, sum);
    return 0;
}
"""


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit")
    src = folder / "cases.cpp"
    src.write_text(CASES)
    exe = folder / "cases"
    subprocess.run([compiler(), *CXXFLAGS, "-Wno-unused-variable", "-isystem", str(ap_types_dir()), "-I",
                    str(templates_dir() / "vitflow"), str(src), "-o", str(exe)], check=True)
    return lambda case: subprocess.run([str(exe), case], capture_output=True, text=True)


@pytest.mark.parametrize("case,message", [
    ("scattered_axi", "loop gather iteration 1: AXI port wgt read of beat 7 is not the next address of its burst (1)"),
    ("gap_in_burst", "loop skip iteration 1: AXI port act read of beat 2 is not the next address of its burst (1)"),
    ("two_beats", "loop pairs iteration 0: AXI port wgt: 2 read beats in one iteration (one per cycle, II=1)"),
    ("axi_outside_loop", "AXI port desc read of beat 3 outside a pipelined burst loop"),
    ("unpartitioned", "loop dot iteration 0: buffer buf bank 0 accessed 3 times in one iteration (2 ports, II=1)"),
    ("single_port_twice", "loop pair iteration 0: buffer buf bank 0 accessed 2 times in one iteration (1 ports, II=1)"),
    ("carried_dependence", "loop scan iteration 1: buffer buf element 1 read 1 iterations after it was written, "
                           "inside the pipeline depth 8"),
    ("short_distance", "loop ring iteration 3: buffer buf element 4 read 3 iterations after it was written, "
                       "inside the declared distance 4"),
    ("fifo_twice", "loop drain iteration 0: FIFO read twice in one iteration"),
    ("undeclared_dependence", "loop copy iteration 0: buffer buf is read and written in this loop without "
                              "VITFLOW_NO_DEPENDENCE in its body"),
    ("unaggregated_words", "buffer words holds words but is not declared VITFLOW_AGGREGATE"),
    ("pair_beside_two", "loop pairs3 iteration 0: buffer mem bank 0 accessed 3 times in one iteration (2 ports, II=1)"),
])
def test_the_audit_rejects(cases, case, message):
    r = cases(case)
    assert r.returncode == 3, (case, r.stdout)
    assert r.stdout.startswith("AUDIT descriptor 0 layer 7 ") and message in r.stdout, r.stdout


def test_the_audit_passes_the_templates_idioms_and_counts_them(cases):
    r = cases("clean")
    assert r.returncode == 0, r.stdout
    # 16 + 16 iterations at II=1 and 16 at II=2; three loop entries, fills 4 + 4 + 12; one burst of 16 beats
    assert "iterations 48 cycles 64 entries 3 fill 20 wgt 16/1" in r.stdout, r.stdout


def test_a_dependence_at_its_declared_distance_passes(cases):
    r = cases("distance_kept")
    assert r.returncode == 0, r.stdout


def test_a_pair_of_words_is_one_access(cases):
    r = cases("pair")
    assert r.returncode == 0, r.stdout
    assert "iterations 8 cycles 8 entries 1" in r.stdout and "sum 8" in r.stdout, r.stdout


PAIR_SYNTHESIS_FORM = r"""
#include <cstdio>
#include "word.h"

int main() {  // the form synthesis sees: the even word of the pair to 2 k, the odd one to 2 k + 1
    int mem[32] = {0};
    for (int a = 0; a < 30; a += 3) vitflow::write_pair(mem, a, 100 + a, 200 + a);
    for (int i = 0; i < 32; i++) std::printf("%d ", mem[i]);
    return 0;
}
"""


def test_the_pair_of_words_synthesis_writes(tmp_path):
    (tmp_path / "pair.cpp").write_text(PAIR_SYNTHESIS_FORM)
    subprocess.run([compiler(), *CXXFLAGS, "-DVITFLOW_NO_AUDIT", "-isystem", str(ap_types_dir()), "-I",
                    str(templates_dir() / "vitflow"), str(tmp_path / "pair.cpp"), "-o", str(tmp_path / "pair")],
                   check=True)
    got = [int(v) for v in subprocess.run([str(tmp_path / "pair")], capture_output=True, text=True,
                                          check=True).stdout.split()]
    want = [0] * 32
    for a in range(0, 30, 3):
        want[a], want[a + 1] = 100 + a, 200 + a
    assert got == want
