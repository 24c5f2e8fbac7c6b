"""The clamped small-quotient divider (hls_templates/vitflow/requant.h ClampedDiv), compiled with g++ and
the open ap_types: on random and edge numerators (ties at every half, the clamp's bounds and one either
side, 64-bit extremes) and divisors (1, odd, even, the widest), with byte, unsigned-byte and narrow
ranges, it equals clamp(round_div(num, den), lo, hi), the general divider it replaces, and both equal
Python's exact round half to even."""

import subprocess

import numpy as np
import pytest

from .unit_tb import compile_unit

DB = 48
TB = r"""
#include <cstdio>
#include "requant.h"

using namespace vitflow;

int main() {
    long long num, den;
    int lo, hi;
    while (std::scanf("%lld %lld %d %d", &num, &den, &lo, &hi) == 4) {
        const ClampedDiv<QBITS, DBITS> div(wide_t(den), lo, hi);
        std::printf("%d %d\n", div(wide_t(num)), clamp(round_div(wide_t(num), wide_t(den)), lo, hi));
    }
    std::printf("counts 0 0 0 0\n");
    return 0;
}
"""


def _reference(num: int, den: int, lo: int, hi: int) -> int:
    q, r = divmod(num, den)  # floor
    if 2 * r > den or (2 * r == den and q % 2):
        q += 1
    return min(max(q, lo), hi)


def _cases(rng, lo, hi):
    top = min(DB, 61 - (max(-lo, hi) + 3).bit_length())  # divisors whose numerators stay within 64 bits
    dens = [1, 2, 3, 7, 64, 1000, (1 << top) - 1, (1 << 22) - 3] + rng.integers(1, 1 << min(40, top), 12).tolist()
    halves = list(range(2 * lo - 4, 2 * hi + 6))  # every half-step across the range and past both bounds
    if len(halves) > 1000:  # a 16-bit range: both ends and a sample of the middle
        halves = halves[:300] + halves[-300:] + rng.integers(2 * lo, 2 * hi, 300).tolist()
    out = []
    for den in dens:
        for m in halves:
            base = m * den // 2
            out += [(base + e, den) for e in (-1, 0, 1)]
        out += [(v, den) for v in (-(1 << 62), (1 << 62) - 1, 0, -1)]
        out += [(int(v), den) for v in rng.integers(-(hi + 3) * den, (hi + 3) * den, 40)]
    return out


@pytest.fixture(scope="module")
def units(tmp_path_factory):
    """quotient bits -> the testbench: 8 (the token LayerNorm's) and 16 (the linear attention's)"""
    return {qb: compile_unit(tmp_path_factory.mktemp(f"clamped_div{qb}"), TB, QBITS=qb, DBITS=DB) for qb in (8, 16)}


@pytest.mark.parametrize("qb,lo,hi", [(8, -128, 127), (8, 0, 255), (8, -8, 7), (8, -3, 100), (16, -128, 127),
                                      (16, -32768, 32767), (16, 0, 65535)])
def test_clamped_div_equals_the_divider_and_round_half_to_even(units, qb, lo, hi):
    rng = np.random.default_rng(hi - lo)
    cases = _cases(rng, lo, hi)
    text = "\n".join(f"{n} {d} {lo} {hi}" for n, d in cases)
    r = subprocess.run([str(units[qb])], input=text, capture_output=True, text=True, check=True)
    rows = [tuple(map(int, ln.split())) for ln in r.stdout.strip().splitlines()[:-1]]
    assert len(rows) == len(cases)
    want = [_reference(n, d, lo, hi) for n, d in cases]
    assert [g for g, _ in rows] == want
    assert [g for _, g in rows] == want
    assert {lo, hi} <= set(want) and (hi - lo > 300 or len(set(want)) == hi - lo + 1)  # every code, both clamps
