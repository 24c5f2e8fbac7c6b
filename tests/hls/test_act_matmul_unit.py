"""The activation-product unit (hls_templates/vitflow/act_matmul.h) C-simulated with g++ and the open
ap_types, under the II audit: q k^T (signed A) and attn v (unsigned softmax codes times v^T), with row
counts that are not multiples of the bank count and inner lengths that end inside a word, and two heads
written interleaved into tokens; its codes equal the numpy reference's (flow/reference/transformer_kernels,
requantize of the int64 product) bit for bit, every loop is audit-clean at II = 1, and the audit's counts
equal the cycle model's. act_matmul_nn (attn v against v in its natural layout, rows = tokens) the same
way; both write their padding lanes 0. One testbench runs either form (MODE)."""

import numpy as np
import pytest

from flow.estimate.counts import act_matmul_counts, act_matmul_nn_counts
from flow.lower.requant import requantize

from .unit_tb import compile_unit, run_unit

L, ROWS, B_DEPTH, ACT_WORDS = 16, 4, 256, 16384
# one testbench for both forms: MODE 0 act_matmul (B: NB rows of T codes), MODE 1 act_matmul_nn (B: T rows of
# NB = D codes); per head A (NA rows of T codes) then B, row after row; the output rows interleaved by head
TB = r"""
#include <cstdio>
#include "act_matmul.h"

using namespace vitflow;
const int L = LANES, ROWS = BANKS, B_DEPTH = DEPTH, ACT_WORDS = WORDS;

int main() {
    int mode, heads, na, nb, t_len, a_signed, mult, shift, lo, hi;
    if (std::scanf("%d %d %d %d %d %d %d %d %d %d", &mode, &heads, &na, &nb, &t_len, &a_signed, &mult, &shift, &lo,
                   &hi) != 10)
        return 2;
    VITFLOW_BUFFER1(Word<L>, act, ACT_WORDS);
    VITFLOW_AGGREGATE(act);
    Word<L> junk;
    for (int c = 0; c < L; c++) junk.b[c] = uint8_t(0xA5);
    for (int k = 0; k < ACT_WORDS; k++) act[k] = junk;  // what the unit must not read, or must overwrite
    const int tw = (t_len + L - 1) / L, ow = (nb + L - 1) / L;
    const int b_rows = mode == 0 ? nb : t_len, b_cols = mode == 0 ? t_len : nb, bw = mode == 0 ? tw : ow;
    const int a_words = na * tw, b_words = b_rows * bw, out0 = heads * (a_words + b_words);
    for (int h = 0; h < heads; h++) {
        // A's lanes past T: zero for act_matmul (its B rows end there too), junk for act_matmul_nn (its B rows
        // past T are zero-filled); B's lanes past its row: zero
        for (int m = 0; m < 2; m++) {
            const int rows = m == 0 ? na : b_rows, cols = m == 0 ? t_len : b_cols, words = m == 0 ? tw : bw;
            const int base = h * (a_words + b_words) + (m == 0 ? 0 : a_words);
            for (int r = 0; r < rows; r++) {
                for (int w = 0; w < words; w++) {
                    Word<L> x = m == 0 && mode == 1 ? junk : zero_word<L>();
                    for (int c = 0; c < L && w * L + c < cols; c++) {
                        int v;
                        if (std::scanf("%d", &v) != 1) return 2;
                        x.b[c] = uint8_t(v);
                    }
                    act[base + r * words + w] = x;
                }
            }
        }
    }
    for (int h = 0; h < heads; h++) {  // head h's output rows interleaved: row i at out0 + i heads ow + h ow
        const int base = h * (a_words + b_words);
        if (mode == 0)
            act_matmul<L, ROWS, B_DEPTH, 32, ACT_WORDS>(act, base, base + a_words, out0 + h * ow, na, nb, t_len,
                                                        a_signed, heads * ow, mult, shift, lo, hi);
        else
            act_matmul_nn<L, ROWS, B_DEPTH, 32, ACT_WORDS>(act, base, base + a_words, out0 + h * ow, na, nb, t_len,
                                                           a_signed, heads * ow, mult, shift, lo, hi);
    }
    for (int i = 0; i < na; i++) {  // every lane of the output words, padding included
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < ow * L; j++) {
                const Word<L> o = act[out0 + (i * heads + h) * ow + j / L];
                std::printf("%d ", lo < 0 ? int(int8_t(o.b[j % L])) : int(o.b[j % L]));
            }
        }
        std::printf("\n");
    }
    long long it = 0, cy = 0, en = 0, fi = 0;
    for (const audit::DescriptorStats &d : audit::state().stats) {
        it += d.iterations;
        cy += d.cycles;
        en += d.entries;
        fi += d.fill;
    }
    std::printf("counts %lld %lld %lld %lld\n", it, cy, en, fi);
    return 0;
}
"""


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    return compile_unit(tmp_path_factory.mktemp("act_matmul_unit"), TB, LANES=L, BANKS=ROWS, DEPTH=B_DEPTH,
                        WORDS=ACT_WORDS)


def _run(unit, mode, a, b, a_signed, mult, shift, lo, hi):
    """(outputs (heads, NA, ceil(NB / L) L) with the padding lanes, audit counts) of one run of form ``mode``."""
    heads, na, t_len = a.shape
    nb = b.shape[1] if mode == 0 else b.shape[2]
    operands = np.concatenate([np.concatenate([a[h].reshape(-1), b[h].reshape(-1)]) for h in range(heads)])
    rows, counts = run_unit(unit, [mode, heads, na, nb, t_len, a_signed, mult, shift, lo, hi, *operands.tolist()])
    return rows.reshape(na, heads, -1).transpose(1, 0, 2), counts


@pytest.mark.parametrize("heads,na,nb,t_len,a_signed", [(1, 5, 5, 64, 1), (2, 17, 17, 64, 1), (1, 9, 33, 20, 1),
                                                        (2, 17, 64, 17, 0), (3, 5, 64, 5, 0)])
def test_act_matmul_unit_equals_the_reference_audited_and_counted(unit, heads, na, nb, t_len, a_signed):
    rng = np.random.default_rng(na * 100 + nb + t_len)
    a = rng.integers(-128, 128, (heads, na, t_len)) if a_signed else rng.integers(0, 256, (heads, na, t_len))
    a[:, 0] = 127 if a_signed else 255  # rows at the range's ends
    b = rng.integers(-128, 128, (heads, nb, t_len))
    b[:, -1] = -128
    mult, shift, (lo, hi) = 1481, 20, (-128, 127)
    got, counts = _run(unit, 0, a, b, a_signed, mult, shift, lo, hi)
    ref = requantize(np.einsum("hit,hjt->hij", a, b), mult, shift, lo, hi)
    assert np.array_equal(got[:, :, :nb], ref)
    assert not got[:, :, nb:].any()  # padding lanes written 0 (the next row's word starts clean)
    c = act_matmul_counts(na, nb, t_len, L, ROWS)
    assert counts == (heads * c.iterations, heads * c.cycles, heads * c.entries, heads * c.fill)
    assert c.cycles == c.iterations


@pytest.mark.parametrize("heads,t_len,d_len,a_signed", [(3, 5, 64, 0), (2, 17, 16, 0), (2, 197, 64, 0),
                                                        (3, 17, 24, 1), (2, 197, 24, 1), (1, 32, 16, 1)])
def test_act_matmul_nn_unit_equals_the_reference_audited_and_counted(unit, heads, t_len, d_len, a_signed):
    rng = np.random.default_rng(t_len * 100 + d_len + a_signed)
    na = t_len
    a = rng.integers(-128, 128, (heads, na, t_len)) if a_signed else rng.integers(0, 256, (heads, na, t_len))
    a[:, 0] = 127 if a_signed else 255  # rows at the range's ends
    b = rng.integers(-128, 128, (heads, t_len, d_len))
    b[:, -1] = -128
    acc = np.einsum("hit,htj->hij", a.astype(np.int64), b.astype(np.int64))
    mult, (lo, hi) = 1481, (-128, 127)
    shift = max(1, int(np.round(np.log2(max(1.0, acc.std()) * mult / 40))))  # most codes inside, a few clamped
    got, counts = _run(unit, 1, a, b, a_signed, mult, shift, lo, hi)
    ref = requantize(acc, mult, shift, lo, hi)
    assert np.array_equal(got[:, :, :d_len], ref)
    assert not got[:, :, d_len:].any()  # padding lanes written 0
    assert 0.9 < ((ref > lo) & (ref < hi)).mean() < 1  # codes mostly inside the range, some clamped
    c = act_matmul_nn_counts(na, d_len, t_len, L, ROWS)
    assert counts == (heads * c.iterations, heads * c.cycles, heads * c.entries, heads * c.fill)
    assert c.cycles == c.iterations
