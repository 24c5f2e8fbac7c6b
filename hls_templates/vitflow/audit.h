// vitflow: the II audit. C-simulation checks that every pipelined loop can run at the II it declares.
//
// Vitis HLS relaxes a pipelined loop's II when, in one iteration, a memory bank or an AXI port is accessed
// more often than it has ports; C-simulation never notices. This header gives the templates their on-chip
// buffers, AXI ports, FIFOs and pipelined loops through a few macros. Under __SYNTHESIS__ (and with
// VITFLOW_NO_AUDIT, the hls4ml bridge's build) they are plain arrays, plain pointers, hls::stream and HLS
// pragmas, at no cost. In C-simulation they record every access per pipeline iteration and stop the run,
// naming the layer, loop, buffer or port and the iteration, when:
//   - a buffer bank gets more accesses in one iteration than II x its ports (2 for a RAM, 1 for a FIFO end;
//     a register, i.e. a bank of one element, has no limit);
//   - a memory is read and written in one pipelined loop without a VITFLOW_NO_DEPENDENCE in that loop's
//     body (Vitis then assumes a loop-carried dependence through it and raises the II to the distance);
//   - a dependence the code declares absent exists: an element is read within the loop's pipeline depth
//     after it was written in the same loop (VITFLOW_DEPENDENCE_DISTANCE(buf, D): within D iterations, the
//     least distance the code declares for its loop-carried dependence);
//   - a memory of words (Word<L>, a struct of L bytes) is not declared VITFLOW_AGGREGATE (Vitis would
//     split it into one memory per byte, and every word access into L accesses of one bank);
//   - an AXI beat is not the next address of its burst (the first beat of a loop execution starts one);
//   - an AXI port gets more than one read beat or one write beat per iteration (II x that with II > 1);
//   - an AXI port is accessed outside a pipelined loop (a single-beat transaction per access).
//   - a FIFO still holds words when its layer ends (VITFLOW_FIFO_DRAINED: in hardware they would feed the
//     next layer).
// It also counts, per descriptor of the program (vitflow::audit::descriptor), pipelined iterations, II x
// iterations (cycles), loop entries and their fill cycles, and the beats and bursts of every AXI port:
// the testbench prints them and flow/estimate/cycles.py must predict every one.
//
// Usage in a template:
//   VITFLOW_BUFFER(Word<L>, wbuf, L, 2 * DEPTH);      // a 2-D on-chip array
//   VITFLOW_PARTITION(wbuf, complete, 1);              // #pragma HLS ARRAY_PARTITION ... dim=1, and audited so
//   VITFLOW_AGGREGATE(wbuf);                            // #pragma HLS AGGREGATE: one wide word per address
//   {
//       VITFLOW_LOOP(conv_mac, VITFLOW_DEPTH_MAC);     // one execution of a pipelined loop (its fill counted)
//       conv_mac: for (int i = 0; i < n; i++) {      // the label names the loop in Vitis' reports (flow report
//                                                    // reads its achieved II and depth by this name)
//           VITFLOW_PIPELINE(conv_mac, 1);              // #pragma HLS PIPELINE II=1, and an iteration begins
//           VITFLOW_NO_DEPENDENCE(wbuf);                // #pragma HLS DEPENDENCE ... inter false, and checked
//           ...
//       }
//   }                                                    // the execution ends with the enclosing scope
#pragma once
#include <stdint.h>

#include <hls_stream.h>

#define VITFLOW_PRAGMA(text) _Pragma(#text)

#if defined(__SYNTHESIS__) || defined(VITFLOW_NO_AUDIT)

#define VITFLOW_BUFFER1(T, NAME_, D0_) T NAME_[D0_]
#define VITFLOW_BUFFER2(T, NAME_, D0_, D1_) T NAME_[D0_][D1_]
#define VITFLOW_BUFFER3(T, NAME_, D0_, D1_, D2_) T NAME_[D0_][D1_][D2_]
#define VITFLOW_PARTITION(NAME_, KIND_, DIM_) VITFLOW_PRAGMA(HLS ARRAY_PARTITION variable = NAME_ KIND_ dim = DIM_)
#define VITFLOW_PARTITION_CYCLIC(NAME_, FACTOR_, DIM_) \
    VITFLOW_PRAGMA(HLS ARRAY_PARTITION variable = NAME_ cyclic factor = FACTOR_ dim = DIM_)
#define VITFLOW_STORAGE(NAME_, TYPE_, IMPL_, LATENCY_) \
    VITFLOW_PRAGMA(HLS BIND_STORAGE variable = NAME_ type = TYPE_ impl = IMPL_ latency = LATENCY_)
#define VITFLOW_NO_DEPENDENCE(NAME_) VITFLOW_PRAGMA(HLS DEPENDENCE variable = NAME_ type = inter dependent = false)
#define VITFLOW_DEPENDENCE_DISTANCE(NAME_, D_) \
    VITFLOW_PRAGMA(HLS DEPENDENCE variable = NAME_ type = inter direction = RAW dependent = true distance = D_)
#define VITFLOW_AGGREGATE(NAME_) VITFLOW_PRAGMA(HLS AGGREGATE variable = NAME_ compact = bit)
#define VITFLOW_FIFO_DRAINED(NAME_)
#define VITFLOW_FIFO(T, NAME_, DEPTH_) \
    hls::stream<T> NAME_;              \
    VITFLOW_PRAGMA(HLS STREAM variable = NAME_ depth = DEPTH_)
#define VITFLOW_AXI(T, NAME_, POINTER_, PORT_) T *NAME_ = POINTER_
#define VITFLOW_LOOP(NAME_, DEPTH_)
#define VITFLOW_PIPELINE(NAME_, II_) VITFLOW_PRAGMA(HLS PIPELINE II = II_)
#define VITFLOW_DESCRIPTOR(INDEX_)
#define VITFLOW_DESCRIPTOR_IS(LAYER_, KIND_)

namespace vitflow {
template <class T>
using Fifo = hls::stream<T>;
}  // namespace vitflow

#else  // C-simulation: the audited forms

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace vitflow {
namespace audit {

// What one descriptor of the program cost, as counted while it ran.
struct PortCount {
    long long beats = 0, bursts = 0;
};
struct DescriptorStats {
    int index = -1, layer = -1, kind = -1;
    long long iterations = 0;  // pipelined iterations
    long long cycles = 0;      // sum of II over those iterations
    long long entries = 0;     // pipelined loop executions (each fills its pipeline once)
    long long fill = 0;        // sum of the pipeline depths of those executions
    PortCount port[6];         // by AXI port id (see AXI_PORT_NAMES)
};
static const char *const AXI_PORT_NAMES[6] = {"desc", "wgt", "act", "other", "wgt2", "wgt3"};

struct State {
    long long serial = 0;        // iteration number of the pipelined iteration under way, 0 when none
    long long next_serial = 1;
    long long execution = 0;     // id of the pipelined loop execution under way
    long long next_execution = 1;
    long long iter = 0;          // iteration index within that execution
    int ii = 1, depth = 1;
    const char *loop = "";
    std::vector<DescriptorStats> stats;  // one per descriptor run
};
inline State &state() {
    static State s;
    return s;
}
inline DescriptorStats &current() {
    State &s = state();
    if (s.stats.empty()) s.stats.push_back(DescriptorStats());
    return s.stats.back();
}
inline void descriptor(int index, int layer, int kind) {
    DescriptorStats d;
    d.index = index;
    d.layer = layer;
    d.kind = kind;
    state().stats.push_back(d);
}

// The descriptor under way, announced (and flushed) as it starts: if the run then crashes or is killed,
// its last line names where (flow/hls/csim.py reports the signal and the layer).
inline void started(int layer, int kind) {
    DescriptorStats &d = current();
    d.layer = layer;
    d.kind = kind;
    std::printf("run desc %d layer %d kind %d\n", d.index, layer, kind);
    std::fflush(stdout);
}

// A violation: one line naming where, then exit(3) (the testbench's and flow's "audit failed").
inline void fail(const std::string &what) {
    State &s = state();
    const DescriptorStats &d = current();
    std::printf("AUDIT descriptor %d layer %d loop %s iteration %lld: %s\n", d.index, d.layer, s.loop, s.iter,
                what.c_str());
    std::fflush(stdout);
    std::exit(3);
}

// One execution of a pipelined loop; iterations are marked by iteration(ii). Its scope is the execution.
class Loop {
   public:
    Loop(const char *name, int depth) : name_(name), depth_(depth) {
        State &s = state();
        saved_serial_ = s.serial;
        saved_execution_ = s.execution;
        saved_loop_ = s.loop;
        saved_iter_ = s.iter;
        saved_ii_ = s.ii;
        saved_depth_ = s.depth;
        execution_ = s.next_execution++;
        s.serial = 0;  // between the loop's entry and its first iteration: no iteration under way
    }
    ~Loop() {
        State &s = state();
        s.serial = saved_serial_;
        s.execution = saved_execution_;
        s.loop = saved_loop_;
        s.iter = saved_iter_;
        s.ii = saved_ii_;
        s.depth = saved_depth_;
    }
    void iteration(int ii) {
        State &s = state();
        DescriptorStats &d = current();
        if (count_ == 0) {
            d.entries += 1;
            d.fill += depth_;
        }
        s.serial = s.next_serial++;
        s.execution = execution_;
        s.iter = count_++;
        s.ii = ii;
        s.depth = depth_;
        s.loop = name_;
        d.iterations += 1;
        d.cycles += ii;
    }

   private:
    const char *name_;
    int depth_;
    long long count_ = 0, execution_;
    long long saved_serial_, saved_execution_, saved_iter_;
    const char *saved_loop_;
    int saved_ii_, saved_depth_;
};

enum PartKind { NONE, COMPLETE, CYCLIC, BLOCK };

// Which element types are words (structs of bytes that Vitis splits unless aggregated): word.h marks them.
template <class T>
struct IsWord {
    enum { value = 0 };
};

// An on-chip array of up to 3 dimensions, partitioned per dimension like ARRAY_PARTITION; each resulting
// bank has `ports` ports (2: a true dual-port RAM; a one-element bank is a register, unlimited).
template <class T>
class Array {
   public:
    Array(const char *name, int d0, int d1 = 1, int d2 = 1) : name_(name), data_(size_t(d0) * d1 * d2) {
        dims_[0] = d0;
        dims_[1] = d1;
        dims_[2] = d2;
        for (int i = 0; i < 3; i++) {
            part_[i] = NONE;
            factor_[i] = 1;
        }
        layout();
    }
    void partition(PartKind kind, int factor, int dim) {  // dim counts from 1, as in the pragma
        part_[dim - 1] = kind;
        factor_[dim - 1] = kind == COMPLETE ? dims_[dim - 1] : factor;
        layout();
    }
    void storage(int ports) { ports_ = ports; }
    // VITFLOW_NO_DEPENDENCE in a pipelined loop's body: this loop execution may read and write it
    void no_dependence(int distance = 0) {  // 0: none within the pipeline depth
        check_raw_ = true;
        raw_distance_ = distance;
        declared_execution_ = state().execution;
    }
    void aggregate() { aggregated_ = true; }

    struct Ref {
        Array *a;
        size_t flat;
        int bank;
        operator T() const { return a->read(flat, bank); }
        Ref &operator=(const T &v) {
            a->write(flat, bank, v);
            return *this;
        }
        Ref &operator=(const Ref &r) { return *this = T(r); }
    };
    size_t flat(int i0, int i1, int i2) const {
        if (i0 < 0 || i0 >= dims_[0] || i1 < 0 || i1 >= dims_[1] || i2 < 0 || i2 >= dims_[2]) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "index [%d][%d][%d] outside buffer %s [%d][%d][%d]", i0, i1, i2, name_,
                          dims_[0], dims_[1], dims_[2]);
            fail(buf);
        }
        return (size_t(i0) * dims_[1] + i1) * dims_[2] + i2;
    }
    int bank_of(int i0, int i1, int i2) const {
        const int idx[3] = {i0, i1, i2};
        int bank = 0;
        for (int k = 0; k < 3; k++) {
            int b = 0;
            if (part_[k] == COMPLETE) b = idx[k];
            else if (part_[k] == CYCLIC) b = idx[k] % factor_[k];
            else if (part_[k] == BLOCK) b = idx[k] / ((dims_[k] + factor_[k] - 1) / factor_[k]);
            bank = bank * factor_[k] + b;
        }
        return bank;
    }
    Ref ref(int i0, int i1, int i2) {
        const size_t f = flat(i0, i1, i2);
        return Ref{this, f, bank_of(i0, i1, i2)};
    }

    T read(size_t flat, int bank) {
        touch(bank, false);
        mixing(false);
        if (check_raw_) raw_check(flat);
        return data_[flat];
    }
    void write(size_t flat, int bank, const T &v) {
        touch(bank, true);
        mixing(true);
        if (check_raw_) raw_record(flat);
        data_[flat] = v;
    }
    // Reads elements i and i + 1 as write_pair writes them (word.h read_pair): one port access.
    void read_pair(int i, T &v0, T &v1) {
        const size_t f0 = flat(i, 0, 0), f1 = flat(i + 1, 0, 0);
        touch(bank_of(i, 0, 0), false);
        mixing(false);
        if (check_raw_) {
            raw_check(f0);
            raw_check(f1);
        }
        v0 = data_[f0];
        v1 = data_[f1];
    }
    // Elements i and i + 1 of a 1-D memory that synthesis partitions cyclically by two (word.h write_pair):
    // one write of each bank at a bank index known statically, so one port access here, where the memory
    // stays one bank and every other access (a runtime index: a port of each bank in synthesis) counts
    // against the same two ports.
    void write_pair(int i, const T &v0, const T &v1) {
        const size_t f0 = flat(i, 0, 0), f1 = flat(i + 1, 0, 0);
        touch(bank_of(i, 0, 0), true);
        mixing(true);
        if (check_raw_) {
            raw_record(f0);
            raw_record(f1);
        }
        data_[f0] = v0;
        data_[f1] = v1;
    }

   private:
    struct BankUse {
        long long serial = 0;
        int count = 0;
    };
    void layout() {
        int banks = 1, elems = 1;
        for (int k = 0; k < 3; k++) {
            banks *= factor_[k];
            elems *= (dims_[k] + factor_[k] - 1) / factor_[k];
        }
        use_.assign(banks, BankUse());
        register_banks_ = elems == 1;
    }
    // a memory read and written in one loop execution needs the loop's DEPENDENCE declaration
    void mixing(bool write) {
        State &s = state();
        if (IsWord<T>::value && !aggregated_) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "buffer %s holds words but is not declared VITFLOW_AGGREGATE: Vitis would "
                                           "split each word into one memory per byte", name_);
            fail(buf);
        }
        if (s.serial == 0 || register_banks_) return;
        if (mix_execution_ != s.execution) {
            mix_execution_ = s.execution;
            mix_read_ = mix_write_ = false;
        }
        (write ? mix_write_ : mix_read_) = true;
        if (mix_read_ && mix_write_ && declared_execution_ != s.execution) {
            char buf[220];
            std::snprintf(buf, sizeof buf, "buffer %s is read and written in this loop without VITFLOW_NO_DEPENDENCE "
                                           "in its body: Vitis assumes a loop-carried dependence through it", name_);
            fail(buf);
        }
    }
    void touch(int bank, bool) {
        State &s = state();
        if (s.serial == 0 || register_banks_) return;  // sequential code, or registers: no port limit
        BankUse &u = use_[bank];
        if (u.serial != s.serial) {
            u.serial = s.serial;
            u.count = 0;
        }
        if (++u.count > ports_ * s.ii) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "buffer %s bank %d accessed %d times in one iteration (%d ports, II=%d)",
                          name_, bank, u.count, ports_, s.ii);
            fail(buf);
        }
    }
    struct Write {
        size_t flat;
        long long execution, iter;
    };
    void raw_record(size_t flat) {
        State &s = state();
        if (s.serial == 0) return;
        recent_.push_back(Write{flat, s.execution, s.iter});
        if (recent_.size() > 128) recent_.pop_front();
    }
    void raw_check(size_t flat) {
        State &s = state();
        if (s.serial == 0) return;
        for (size_t k = 0; k < recent_.size(); k++) {
            const Write &w = recent_[k];
            const int least = raw_distance_ ? raw_distance_ : s.depth;
            if (w.flat == flat && w.execution == s.execution && s.iter - w.iter < least) {
                char buf[240];
                std::snprintf(buf, sizeof buf,
                              "buffer %s element %zu read %lld iterations after it was written, inside the "
                              "%s %d: a loop-carried dependence declared absent or further",
                              name_, flat, s.iter - w.iter, raw_distance_ ? "declared distance" : "pipeline depth", least);
                fail(buf);
            }
        }
    }

    const char *name_;
    std::vector<T> data_;
    int dims_[3];
    PartKind part_[3];
    int factor_[3];
    int ports_ = 2;
    bool register_banks_ = false;
    bool check_raw_ = false;
    int raw_distance_ = 0;
    bool aggregated_ = false;
    long long declared_execution_ = -1, mix_execution_ = -1;
    bool mix_read_ = false, mix_write_ = false;
    std::vector<BankUse> use_;
    std::deque<Write> recent_;
};

// Views that give Array the a[i], a[i][j] and a[i][j][k] syntax of a plain array.
template <class T>
struct Array1 : Array<T> {
    Array1(const char *n, int d0) : Array<T>(n, d0) {}
    typename Array<T>::Ref operator[](int i) { return this->ref(i, 0, 0); }
};
template <class T>
struct Array2 : Array<T> {
    Array2(const char *n, int d0, int d1) : Array<T>(n, d0, d1) {}
    struct Row {
        Array2 *a;
        int i0;
        typename Array<T>::Ref operator[](int i) { return a->ref(i0, i, 0); }
    };
    Row operator[](int i) { return Row{this, i}; }
};
template <class T>
struct Array3 : Array<T> {
    Array3(const char *n, int d0, int d1, int d2) : Array<T>(n, d0, d1, d2) {}
    struct Col {
        Array3 *a;
        int i0, i1;
        typename Array<T>::Ref operator[](int i) { return a->ref(i0, i1, i); }
    };
    struct Row {
        Array3 *a;
        int i0;
        Col operator[](int i) { return Col{a, i0, i}; }
    };
    Row operator[](int i) { return Row{this, i}; }
};

// An AXI master port: a pointer into external memory whose beats are audited and counted. A handle:
// copies passed by value share the port's state (its id), as the pointer they stand for would.
struct AxiChannel {  // the read (0) or write (1) channel of a port
    long long execution = -1, next = 0, serial = 0;
    int count = 0;
};
inline AxiChannel *axi_channels(int id) {
    static AxiChannel channels[6][2];
    return channels[id];
}

template <class T>
class Axi {
   public:
    Axi(T *base, int id) : base_(base), id_(id) {}
    struct Ref {
        Axi p;
        long long i;
        operator T() const {
            p.beat(i, 0);
            return p.base_[i];
        }
        Ref &operator=(const T &v) {
            p.beat(i, 1);
            p.base_[i] = v;
            return *this;
        }
    };
    Ref operator[](long long i) const { return Ref{*this, i}; }

   private:
    void beat(long long i, int dir) const {
        State &s = state();
        const char *what = dir ? "write" : "read";
        char buf[220];
        if (s.serial == 0) {
            std::snprintf(buf, sizeof buf, "AXI port %s %s of beat %lld outside a pipelined burst loop",
                          AXI_PORT_NAMES[id_], what, i);
            fail(buf);
        }
        AxiChannel &c = axi_channels(id_)[dir];
        if (c.serial != s.serial) {
            c.serial = s.serial;
            c.count = 0;
        }
        if (++c.count > s.ii) {
            std::snprintf(buf, sizeof buf, "AXI port %s: %d %s beats in one iteration (one per cycle, II=%d)",
                          AXI_PORT_NAMES[id_], c.count, what, s.ii);
            fail(buf);
        }
        DescriptorStats &d = current();
        if (c.execution != s.execution) {  // the first beat of this loop execution starts a burst
            c.execution = s.execution;
            d.port[id_].bursts += 1;
        } else if (i != c.next) {
            std::snprintf(buf, sizeof buf, "AXI port %s %s of beat %lld is not the next address of its burst (%lld)",
                          AXI_PORT_NAMES[id_], what, i, c.next);
            fail(buf);
        }
        c.next = i + 1;
        d.port[id_].beats += 1;
    }
    T *base_;
    int id_;
};

// A FIFO (hls::stream): one read and one write per iteration.
template <class T>
class Fifo {
   public:
    T read() {
        touch(0);
        if (q_.empty()) fail("read from an empty FIFO (the producer pushed fewer words than the consumer pops)");
        T v = q_.front();
        q_.pop_front();
        return v;
    }
    void write(const T &v) {
        touch(1);
        q_.push_back(v);
    }
    bool empty() const { return q_.empty(); }
    void drained(const char *name) const {
        if (!q_.empty()) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "FIFO %s holds %zu words after its layer: the engine popped fewer than "
                                           "the loader pushed", name, q_.size());
            fail(buf);
        }
    }

   private:
    void touch(int end) {
        State &s = state();
        if (s.serial == 0) return;
        if (serial_[end] != s.serial) {
            serial_[end] = s.serial;
            count_[end] = 0;
        }
        if (++count_[end] > s.ii) fail(end ? "FIFO written twice in one iteration" : "FIFO read twice in one iteration");
    }
    std::deque<T> q_;
    long long serial_[2] = {0, 0};
    int count_[2] = {0, 0};
};

}  // namespace audit

template <class T>
using Fifo = audit::Fifo<T>;

}  // namespace vitflow

#define VITFLOW_BUFFER1(T, name, d0) vitflow::audit::Array1<T> name(#name, d0)
#define VITFLOW_BUFFER2(T, name, d0, d1) vitflow::audit::Array2<T> name(#name, d0, d1)
#define VITFLOW_BUFFER3(T, name, d0, d1, d2) vitflow::audit::Array3<T> name(#name, d0, d1, d2)
#define VITFLOW_PARTITION(name, kind, dim) name.partition(vitflow::audit::VITFLOW_PART_##kind, 0, dim)
#define VITFLOW_PART_complete COMPLETE
#define VITFLOW_PARTITION_CYCLIC(name, factor, dim) name.partition(vitflow::audit::CYCLIC, factor, dim)
#define VITFLOW_STORAGE(name, type, impl, latency) name.storage(VITFLOW_PORTS_##type)
#define VITFLOW_PORTS_ram_t2p 2
#define VITFLOW_PORTS_ram_2p 2
#define VITFLOW_PORTS_ram_s2p 2
#define VITFLOW_PORTS_ram_1p 1
#define VITFLOW_NO_DEPENDENCE(name) name.no_dependence()
#define VITFLOW_DEPENDENCE_DISTANCE(name, d) name.no_dependence(d)
#define VITFLOW_AGGREGATE(name) name.aggregate()
#define VITFLOW_FIFO_DRAINED(name) name.drained(#name)
#define VITFLOW_FIFO(T, name, depth) vitflow::Fifo<T> name
#define VITFLOW_AXI(T, name, pointer, label) vitflow::audit::Axi<T> name(pointer, label)
#define VITFLOW_LOOP(name, depth) vitflow::audit::Loop name##_audit(#name, depth)
#define VITFLOW_PIPELINE(name, ii) name##_audit.iteration(ii)
#define VITFLOW_DESCRIPTOR(INDEX_) vitflow::audit::descriptor(INDEX_, -1, -1)
#define VITFLOW_DESCRIPTOR_IS(LAYER_, KIND_) vitflow::audit::started((LAYER_), (KIND_))

#endif

// AXI port ids of the audit's counts (the top's masters: three, and wgt2, wgt3 at L >= 2 BEAT)
#define VITFLOW_PORT_DESC 0
#define VITFLOW_PORT_WGT 1
#define VITFLOW_PORT_ACT 2
#define VITFLOW_PORT_WGT2 4
#define VITFLOW_PORT_WGT3 5
