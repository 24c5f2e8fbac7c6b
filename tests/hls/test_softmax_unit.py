"""The softmax unit (hls_templates/vitflow/softmax.h) C-simulated with g++ and the open ap_types, under the
II audit: on random rows and on the edge rows (the max at either end of the code range, rows of equal
values, rows shorter than a word and rows ending inside one) its codes equal the numpy reference's
(flow/reference/transformer_kernels.softmax) bit for bit, every pipelined loop is audit-clean at II = 1,
and the audit's counts equal the cycle model's (flow.estimate.counts.softmax_unit_counts)."""

import numpy as np
import pytest

from flow.estimate.counts import softmax_unit_counts
from flow.estimate.resources import softmax_unit_resources
from flow.lower.program import Layer, TensorInfo
from flow.reference.transformer_kernels import softmax

from .unit_tb import compile_unit, run_unit

L, ROWS_MAX, ACT_WORDS = 16, 64, 4096
TB = r"""
#include <cstdio>
#include "softmax.h"

using namespace vitflow;
const int L = LANES, ROWS_MAX = ROWS, ACT_WORDS = WORDS;

int main() {
    int rows, n, entries, recip_bits, shift, out_max, two_shift, fine_max, coarse_max;
    if (std::scanf("%d %d %d %d %d %d %d %d %d", &rows, &n, &entries, &recip_bits, &shift, &out_max, &two_shift,
                   &fine_max, &coarse_max) != 9)
        return 2;
    Fifo<Word<L> > ws;
    for (int e = 0; e < entries; e += L / 4) {  // the table: L / 4 int32 entries per word
        Word<L> w = zero_word<L>();
        for (int k = 0; k < L / 4 && e + k < entries; k++) {
            unsigned v;
            if (std::scanf("%u", &v) != 1) return 2;
            for (int b = 0; b < 4; b++) w.b[4 * k + b] = (v >> (8 * b)) & 255;
        }
        ws.write(w);
    }
    VITFLOW_BUFFER1(Word<L>, act, ACT_WORDS);
    VITFLOW_AGGREGATE(act);
    const int words = (n + L - 1) / L, out0 = rows * words;
    for (int r = 0; r < rows; r++) {
        for (int wd = 0; wd < words; wd++) {
            Word<L> w = zero_word<L>();
            for (int c = 0; c < L && wd * L + c < n; c++) {
                int v;
                if (std::scanf("%d", &v) != 1) return 2;
                w.b[c] = uint8_t(v);
            }
            act[r * words + wd] = w;
        }
    }
    softmax_rows<L, ROWS_MAX, 256, ACT_WORDS>(ws, act, 0, out0, rows, n, entries, recip_bits, shift, out_max,
                                              two_shift, fine_max, coarse_max);
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < n; j++) {
            const Word<L> o = act[out0 + r * words + j / L];
            std::printf("%d ", int(o.b[j % L]));
        }
        std::printf("\n");
    }
    const audit::DescriptorStats &d = audit::current();
    std::printf("counts %lld %lld %lld %lld\n", d.iterations, d.cycles, d.entries, d.fill);
    return 0;
}
"""


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    return compile_unit(tmp_path_factory.mktemp("softmax_unit"), TB, LANES=L, ROWS=ROWS_MAX, WORDS=ACT_WORDS)


def _table(bits, s_l):
    t = np.arange(2 ** bits, dtype=np.float64)
    return np.round(2.0 ** 16 * np.exp(-t * s_l)).astype(np.int64)


def _rows(bits, n, rng, count=30):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    edge = [np.full(n, hi), np.full(n, lo), np.zeros(n, dtype=np.int64), np.r_[hi, np.full(n - 1, lo)],
            np.r_[np.full(n - 1, lo), hi], np.r_[lo, np.full(n - 1, hi)]]
    return np.stack(edge + [rng.integers(lo, hi + 1, n) for _ in range(count)])


def _run(exe, codes, table, bits, out_bits=None, two=(0, 0, 0)):
    """The unit's codes, the reference's and the audit's counts; ``out_bits``: the output precision (the
    logits' bits when None); ``two``: (shift, fine max, coarse max) of two output scales, shift 0 for one."""
    rows, n = codes.shape
    out_bits = out_bits or bits
    recip_bits, shift, out_max = 40, 40 - out_bits, 2 ** out_bits - 1
    got, counts = run_unit(exe, [rows, n, table.size, recip_bits, shift, out_max, *two, *table.tolist(),
                                 *codes.reshape(-1).tolist()])
    attrs = {"recip_bits": recip_bits, "shift": shift, "out_max": out_max, "rows": rows, "row_length": n}
    if two[0]:
        attrs.update(two_shift=two[0], fine_max=two[1], coarse_max=two[2])
    layer = Layer("softmax0", "softmax", ["x"], ["y"], attrs=attrs, blobs={"table": table})
    (ref,), _ = softmax(layer, codes[None], TensorInfo((1, rows, n), 8, False, 2.0 ** -out_bits))
    return got, ref[0], counts


@pytest.mark.parametrize("bits,s_l,n", [(8, 2 ** -5, 197), (8, 0.0371, 5), (8, 0.011, 16), (8, 0.09, 33),
                                        (6, 0.11, 50), (4, 0.5, 17)])
def test_softmax_unit_equals_the_reference_audited_and_counted(unit, bits, s_l, n):
    rng = np.random.default_rng(n * 10 + bits)
    codes = _rows(bits, n, rng)
    table = _table(bits, s_l)
    got, ref, counts = _run(unit, codes, table, bits)
    assert np.array_equal(got, ref)
    c = softmax_unit_counts(len(codes), n, L, table.size)
    assert counts == (c.iterations, c.cycles, c.entries, c.fill)
    assert c.cycles == c.iterations  # every loop at II = 1


def test_softmax_unit_resources():
    r = softmax_unit_resources(32, 256, 2400)
    assert r["dsp"] == 32 and r["lut"] > 0 and r["ff"] > 0


@pytest.mark.parametrize("bits,s_l,n,out_bits,two", [(6, 0.11, 50, 8, (3, 31, 31)), (8, 0.0371, 197, 9, (1, 127, 127)),
                                                     (8, 0.09, 33, 10, (4, 15, 15))])
def test_softmax_unit_two_scales_equal_the_reference(unit, bits, s_l, n, out_bits, two):
    """TSPTQ's two output scales: codes at 2^-out_bits up to the fine range, above it rounded half to even
    to 2^shift times that and shifted back, at most coarse max; both regions occur, every code is on its
    region's grid, and the unit equals the reference bit for bit, audit-clean and counted."""
    rng = np.random.default_rng(n * 7 + out_bits)
    codes = _rows(bits, n, rng)
    table = _table(bits, s_l)
    got, ref, counts = _run(unit, codes, table, bits, out_bits, two)
    assert np.array_equal(got, ref)
    shift, fine_max, coarse_max = two
    coarse = got[got > fine_max]
    assert coarse.size and (got <= fine_max).any() and coarse.max() <= coarse_max << shift
    assert not (coarse % (1 << shift)).any()
    c = softmax_unit_counts(len(codes), n, L, table.size)
    assert counts == (c.iterations, c.cycles, c.entries, c.fill)
