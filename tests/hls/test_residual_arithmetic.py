"""The add's lane arithmetic (hls_templates/vitflow/residual.h weighted_sum), in the ap_int form synthesis
sees (each product one 25 x 18 DSP: a 17-bit code times a multiplier below 2^24) and in C-simulation's
native one, against the reference executor's (flow/reference/kernels.py): equal integers on every code of
8 and 16 bits, signed and unsigned, at the extreme multipliers and on random ones."""

import subprocess

import numpy as np
import pytest

from flow.hls.csim import CXXFLAGS, ap_types_dir, compiler
from flow.hls.project import templates_dir
from flow.lower.program import TensorInfo
from flow.lower.requant import ADD_MULT_BITS
from flow.reference.kernels import _weighted_sum

L = 8  # lanes of the word under test

# reads cases "eb lo hi m0 m1 shift a0..a7 b0..b7" from stdin; prints the L output codes of each
PROGRAM = r"""
#include <cstdio>
#include "residual.h"

int main() {
    int eb, lo, hi, m0, m1, shift, a[8], b[8];
    while (std::scanf("%d %d %d %d %d %d", &eb, &lo, &hi, &m0, &m1, &shift) == 6) {
        for (int l = 0; l < 8; l++) std::scanf("%d", &a[l]);
        for (int l = 0; l < 8; l++) std::scanf("%d", &b[l]);
        const vitflow::Word<8> y = vitflow::weighted_sum<8>(a, b, eb, m0, m1, shift, lo, hi);
        for (int l = 0; l < (eb == 1 ? 8 : 4); l++) std::printf("%d ", vitflow::element<8>(y, l, eb, lo < 0));
        std::printf("\n");
    }
    return 0;
}
"""


def _cases(rng):
    """(eb, signed, m0, m1, shift, a, b): every code of each width at the largest multipliers, and random."""
    top = (1 << ADD_MULT_BITS) - 1
    for eb, signed in ((1, True), (1, False), (2, True), (2, False)):
        bits = 8 * eb
        lo, hi = (-(1 << bits - 1), (1 << bits - 1) - 1) if signed else (0, (1 << bits) - 1)
        lanes = L // eb
        codes = np.concatenate([np.arange(lo, hi + 1)] * 12) if bits == 8 else np.concatenate(
            [np.arange(lo, lo + 600), np.arange(-300, 300) if signed else np.arange(0, 600),
             np.arange(hi - 599, hi + 1), rng.integers(lo, hi + 1, 2000)])
        codes = np.resize(codes, -(-codes.size // lanes) * lanes).reshape(-1, lanes)
        for i, a in enumerate(codes):
            b = rng.permutation(codes[(i * 7 + 3) % len(codes)])
            m0, m1 = (top, top) if i % 3 == 0 else (int(v) for v in rng.integers(1, top + 1, 2))
            shift = int(rng.integers(ADD_MULT_BITS - 1, ADD_MULT_BITS + 6)) if i % 3 else ADD_MULT_BITS + 1
            yield eb, signed, m0, m1, shift, a, b


@pytest.mark.parametrize("form", ["synthesis", "csim"])
def test_the_add_lanes_equal_the_reference(form, tmp_path):
    (tmp_path / "add.cpp").write_text(PROGRAM)
    exe = tmp_path / "add"
    flags = ["-DVITFLOW_PACK_AP_INT"] if form == "synthesis" else []
    subprocess.run([compiler(), *CXXFLAGS, *flags, "-isystem", str(ap_types_dir()), "-I",
                    str(templates_dir() / "vitflow"), str(tmp_path / "add.cpp"), "-o", str(exe)], check=True)
    cases = list(_cases(np.random.default_rng(7)))
    lines, want = [], []
    for eb, signed, m0, m1, shift, a, b in cases:
        info = TensorInfo((a.size,), 8 * eb, signed, 1.0)
        lo, hi = info.range
        want.append(_weighted_sum(a, b, m0, m1, shift, info)[0])
        pad = [0] * (L - a.size)
        lines.append(" ".join(str(int(v)) for v in [eb, lo, hi, m0, m1, shift, *a, *pad, *b, *pad]))
    run = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    got = [np.array(line.split(), dtype=np.int64) for line in run.stdout.splitlines()]
    assert len(got) == len(cases) > 1000
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if not np.array_equal(g, w)]
    assert not bad, bad[:3]
    # each width's outputs reach the upper clamp, the lower one when signed (unsigned operands and positive
    # multipliers make no negative sum), and many codes between; many cases at the widest multipliers
    for width in ((1, True), (1, False), (2, True), (2, False)):
        lo, hi = TensorInfo((1,), 8 * width[0], width[1], 1.0).range
        outs = {int(v) for w, c in zip(want, cases) if c[:2] == width for v in w}
        assert {lo if width[1] else hi, hi} <= outs and len(outs) > 100, (width, len(outs))
    assert sum(c[2] == (1 << ADD_MULT_BITS) - 1 for c in cases) > 100
