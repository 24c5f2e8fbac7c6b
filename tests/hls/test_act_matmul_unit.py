"""The activation-product unit (hls_templates/vitflow/act_matmul.h) C-simulated with g++ and the open
ap_types, under the II audit: q k^T (signed A) and attn v (unsigned softmax codes times v^T), with row
counts that are not multiples of the bank count and inner lengths that end inside a word, and two heads
written interleaved into tokens; its codes equal the numpy reference's (flow/reference/transformer_kernels,
requantize of the int64 product) bit for bit, every loop is audit-clean at II = 1, and the audit's counts
equal the cycle model's."""

import numpy as np
import pytest

from flow.estimate.counts import act_matmul_counts
from flow.lower.requant import requantize

from .unit_tb import compile_unit, run_unit

L, ROWS, B_DEPTH, ACT_WORDS = 16, 4, 256, 8192
TB = r"""
#include <cstdio>
#include "act_matmul.h"

using namespace vitflow;
const int L = LANES, ROWS = BANKS, B_DEPTH = DEPTH, ACT_WORDS = WORDS;

int main() {
    int heads, na, nb, t_len, a_signed, mult, shift, lo, hi;
    if (std::scanf("%d %d %d %d %d %d %d %d %d", &heads, &na, &nb, &t_len, &a_signed, &mult, &shift, &lo, &hi) != 9)
        return 2;
    VITFLOW_BUFFER1(Word<L>, act, ACT_WORDS);
    VITFLOW_AGGREGATE(act);
    const int tw = (t_len + L - 1) / L, ow = (nb + L - 1) / L;
    const int a_words = na * tw, b_words = nb * tw, out0 = heads * (a_words + b_words);
    for (int h = 0; h < heads; h++) {
        for (int m = 0; m < 2; m++) {  // A then B of head h, row after row, T codes padded with zeros
            const int rows = m == 0 ? na : nb, base = h * (a_words + b_words) + (m == 0 ? 0 : a_words);
            for (int r = 0; r < rows; r++) {
                for (int w = 0; w < tw; w++) {
                    Word<L> x = zero_word<L>();
                    for (int c = 0; c < L && w * L + c < t_len; c++) {
                        int v;
                        if (std::scanf("%d", &v) != 1) return 2;
                        x.b[c] = uint8_t(v);
                    }
                    act[base + r * tw + w] = x;
                }
            }
        }
    }
    for (int h = 0; h < heads; h++) {  // head h's output rows interleaved: row i at out0 + i heads ow + h ow
        const int base = h * (a_words + b_words);
        act_matmul<L, ROWS, B_DEPTH, 32, ACT_WORDS>(act, base, base + a_words, out0 + h * ow, na, nb, t_len,
                                                    a_signed, heads * ow, mult, shift, lo, hi);
    }
    for (int i = 0; i < na; i++) {
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < nb; j++) {
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


@pytest.mark.parametrize("heads,na,nb,t_len,a_signed", [(1, 5, 5, 64, 1), (2, 17, 17, 64, 1), (1, 9, 33, 20, 1),
                                                        (2, 17, 64, 17, 0), (3, 5, 64, 5, 0)])
def test_act_matmul_unit_equals_the_reference_audited_and_counted(unit, heads, na, nb, t_len, a_signed):
    rng = np.random.default_rng(na * 100 + nb + t_len)
    a = rng.integers(-128, 128, (heads, na, t_len)) if a_signed else rng.integers(0, 256, (heads, na, t_len))
    a[:, 0] = 127 if a_signed else 255  # rows at the range's ends
    b = rng.integers(-128, 128, (heads, nb, t_len))
    b[:, -1] = -128
    mult, shift, (lo, hi) = 1481, 20, (-128, 127)
    operands = np.concatenate([np.concatenate([a[h].reshape(-1), b[h].reshape(-1)]) for h in range(heads)])
    rows, counts = run_unit(unit, [heads, na, nb, t_len, a_signed, mult, shift, lo, hi, *operands.tolist()])
    got = rows.reshape(na, heads, nb).transpose(1, 0, 2)
    ref = requantize(np.einsum("hit,hjt->hij", a, b), mult, shift, lo, hi)
    assert np.array_equal(got, ref)
    c = act_matmul_counts(na, nb, t_len, L, ROWS)
    assert counts == (heads * c.iterations, heads * c.cycles, heads * c.entries, heads * c.fill)
    assert c.cycles == c.iterations
