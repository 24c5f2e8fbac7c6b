"""The DSP packing helper (hls_templates/vitflow/dsp_pack.h): two int8 products sharing an operand from one
multiply, checked exhaustively in both its forms (the ap_int one synthesis sees, and C-simulation's native
one): every (a_hi, a_lo) pair of int8 weights times every 9-bit shared operand (each int8 and uint8
activation code, and each byte of a wider one)."""

import subprocess

import pytest

from flow.hls.csim import CXXFLAGS, ap_types_dir, compiler
from flow.hls.project import templates_dir

SWEEP = r"""
#include <cstdio>
#include "dsp_pack.h"

int main() {
    long long checked = 0, wrong = 0, wrong_unfixed = 0, sum = 0;
    for (int b = -256; b < 256; b++) {
        for (int hi = -128; hi < 128; hi++) {
            for (int lo = -128; lo < 128; lo++) {
                vitflow::prod_t p_hi, p_lo;
                vitflow::mul2(hi, lo, b, p_hi, p_lo);
                checked++;
                if (int(p_hi) != hi * b || int(p_lo) != lo * b) {
                    if (wrong++ < 5) std::printf("wrong: %d %d x %d -> %d %d\n", hi, lo, b, int(p_hi), int(p_lo));
                }
                // the same packing without the rounding constant: a negative low product borrows from
                // the high one (what the constant is for)
                const long long p = ((long long)hi * (1 << 18) + lo) * b;
                if ((p >> 18) != hi * b) wrong_unfixed++;
                sum += int(p_hi) + 3 * int(p_lo);
            }
        }
    }
    std::printf("checked %lld wrong %lld unfixed %lld sum %lld\n", checked, wrong, wrong_unfixed, sum);
    return wrong != 0;
}
"""


@pytest.fixture(scope="module", params=["synthesis", "csim"])
def sweep(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dsp_pack")
    (folder / "sweep.cpp").write_text(SWEEP)
    exe = folder / "sweep"
    form = ["-DVITFLOW_PACK_AP_INT"] if request.param == "synthesis" else []
    subprocess.run([compiler(), *CXXFLAGS, *form, "-isystem", str(ap_types_dir()), "-I",
                    str(templates_dir() / "vitflow"), str(folder / "sweep.cpp"), "-o", str(exe)], check=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    return run.returncode, dict(zip(*[iter(run.stdout.split("\n")[-2].split())] * 2)), run.stdout


def test_every_weight_pair_times_every_9_bit_operand_is_exact(sweep):
    code, figures, out = sweep
    assert code == 0, out
    assert int(figures["checked"]) == 256 * 256 * 512
    assert int(figures["wrong"]) == 0
    # the products' sum over the sweep, from Python: sum(hi b) + 3 sum(lo b) over all triples = 0 + ... the
    # weights' sum is -128 per factor over 256 values, so each product term sums to -128 * 256 * sum(b)
    b_sum = sum(range(-256, 256))
    assert int(figures["sum"]) == 4 * (-128) * 256 * b_sum


def test_the_rounding_constant_is_needed(sweep):
    # without the constant 2^17 on the post-adder, every negative low product breaks the high one
    negative_low = sum(1 for b in range(-256, 256) for lo in range(-128, 128) if lo * b < 0) * 256
    assert int(sweep[1]["unfixed"]) == negative_low
