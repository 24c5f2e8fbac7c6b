"""The token LayerNorm unit (hls_templates/vitflow/token_layernorm.h) C-simulated with g++ and the open
ap_types, under the II audit: on random tokens and on edge tokens (every code equal, so V = 0 and sigma = 1;
the code range's ends; one outlier channel) its codes equal the numpy reference's
(flow/reference/kernels.layernorm, which the lowering check holds to QONNX) bit for bit, with positive and
negative K; every loop is audit-clean at II = 1, and the audit's counts equal the cycle model's."""

import numpy as np
import pytest

from flow.estimate.counts import token_layernorm_counts
from flow.estimate.resources import token_layernorm_resources
from flow.lower.program import Layer, TensorInfo
from flow.reference.kernels import layernorm

from .unit_tb import compile_unit, run_unit

L, DIV, C_MAX, TOKENS_MAX, ACT_WORDS = 16, 4, 256, 64, 4096
TB = r"""
#include <cstdio>
#include "token_layernorm.h"

using namespace vitflow;
const int L = LANES, DIV = DIVIDERS, C_MAX = CMAX, TOKENS_MAX = TOKENS, ACT_WORDS = WORDS;

int main() {
    int tokens, ch, k, lo, hi;
    if (std::scanf("%d %d %d %d %d", &tokens, &ch, &k, &lo, &hi) != 5) return 2;
    Fifo<Word<L> > ws;
    for (int c = 0; c < ch; c += L / 8) {  // (a_c, b_c) int32 pairs, L / 8 per word
        Word<L> w = zero_word<L>();
        for (int p = 0; p < L / 8; p++) {
            int ab[2];
            if (std::scanf("%d %d", &ab[0], &ab[1]) != 2) return 2;
            for (int h = 0; h < 2; h++)
                for (int b = 0; b < 4; b++) w.b[8 * p + 4 * h + b] = (unsigned(ab[h]) >> (8 * b)) & 255;
        }
        ws.write(w);
    }
    VITFLOW_BUFFER1(Word<L>, act, ACT_WORDS);
    VITFLOW_AGGREGATE(act);
    const int words = ch / L, out0 = tokens * words;
    for (int i = 0; i < tokens * words; i++) {
        Word<L> w = zero_word<L>();
        for (int c = 0; c < L; c++) {
            int v;
            if (std::scanf("%d", &v) != 1) return 2;
            w.b[c] = uint8_t(v);
        }
        act[i] = w;
    }
    token_layernorm<L, DIV, C_MAX, TOKENS_MAX, ACT_WORDS>(ws, act, 0, out0, tokens, ch, k, lo, hi);
    for (int i = 0; i < tokens * words; i++) {
        const Word<L> o = act[out0 + i];
        for (int c = 0; c < L; c++) std::printf("%d ", int(int8_t(o.b[c])));
        if ((i + 1) % words == 0) std::printf("\n");
    }
    const audit::DescriptorStats &d = audit::current();
    std::printf("counts %lld %lld %lld %lld\n", d.iterations, d.cycles, d.entries, d.fill);
    return 0;
}
"""


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    return compile_unit(tmp_path_factory.mktemp("token_layernorm_unit"), TB, LANES=L, DIVIDERS=DIV, CMAX=C_MAX,
                        TOKENS=TOKENS_MAX, WORDS=ACT_WORDS)


def _tokens(n, ch, rng):
    edge = [np.full(ch, 5), np.full(ch, -128), np.full(ch, 127), np.r_[127, np.full(ch - 1, -128)],
            np.r_[np.zeros(ch - 1, dtype=np.int64), 127],
            np.resize([127, -128], ch)]  # the largest variance, C^3 255^2 / 4: the square root's widest input
    return np.stack(edge + [rng.integers(-128, 128, ch) for _ in range(n - len(edge))])


def _run(exe, x, a, b, k):
    tokens, ch = x.shape
    lo, hi = -128, 127
    pairs = np.stack([a, b], axis=1).reshape(-1)
    got, counts = run_unit(exe, [tokens, ch, k, lo, hi, *pairs.tolist(), *x.reshape(-1).tolist()])
    layer = Layer("layernorm0", "layernorm", ["x"], ["y"], attrs={"features": ch, "k": k},
                  blobs={"a": a.astype(np.int32), "b": b.astype(np.int32)})
    (ref,), _ = layernorm(layer, x, TensorInfo(x.shape, 8, True, 1.0))
    return got, ref, counts


@pytest.mark.parametrize("tokens,ch,k", [(17, 192, 9), (5, 64, 0), (30, 128, -2), (1, 16, 12), (8, 256, 12)])
def test_token_layernorm_unit_equals_the_reference_audited_and_counted(unit, tokens, ch, k):
    rng = np.random.default_rng(tokens * 1000 + ch)
    x = _tokens(max(tokens, 6), ch, rng)[:tokens]
    a = rng.integers(-2 ** 14, 2 ** 14, ch)  # |a| <= 2^15 (LN_COEF_BITS), as the model rounds them
    a[:2] = 2 ** 15, -2 ** 15  # the ends: a coefficient that is exactly a power of two rounds to 2^15
    b = rng.integers(-2 ** 12, 2 ** 12, ch)
    got, ref, counts = _run(unit, x, a, b, k)
    assert np.array_equal(got, ref)
    if tokens >= 6:  # tokens of equal codes: d = 0, sigma = 1, so y = round(b / 2^K) whatever the code
        assert np.array_equal(got[0], got[1]) and np.array_equal(got[0], got[2])
        assert not np.array_equal(got[0], got[5])
    c = token_layernorm_counts(tokens, ch, L, DIV)
    assert counts == (c.iterations, c.cycles, c.entries, c.fill)
    assert c.cycles == c.iterations  # every loop at II = 1


def test_token_layernorm_unit_resources():
    r = token_layernorm_resources(32, 4, 384, 197)
    assert r["dsp"] == 32 + 12 + 4 and r["lut"] > 4 * 1100
