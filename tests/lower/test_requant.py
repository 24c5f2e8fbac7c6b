from fractions import Fraction

import numpy as np
import pytest

from flow.errors import FlowError
from flow.lower.requant import int_range, requant_params, requantize, round_shift


def _exact_round_half_even(num: int, den: int) -> int:
    q, r = divmod(num, den)  # floor division, 0 <= r < den
    if 2 * r > den or (2 * r == den and q % 2 == 1):
        q += 1
    return q


@pytest.mark.parametrize("shift", [0, 1, 2, 5, 13, 31])
def test_round_shift_is_round_half_even(shift):
    x = np.arange(-5000, 5000, dtype=np.int64) * 7 + 3
    got = round_shift(x, shift)
    expected = [_exact_round_half_even(int(v), 1 << shift) for v in x]
    assert got.tolist() == expected


def test_round_shift_ties_go_to_even():
    assert round_shift(np.array([1, 3, 5, -1, -3, -5]), 1).tolist() == [0, 2, 2, 0, -2, -2]  # 0.5, 1.5, 2.5 ...


@pytest.mark.parametrize("exponent", [-20, -9, -1, 0, 3])
def test_power_of_two_is_a_pure_shift_and_equals_float_rounding(exponent):
    m, s = requant_params(2.0 ** exponent)
    assert m == 1 and s == -exponent
    acc = np.random.default_rng(0).integers(-(1 << 24), 1 << 24, size=20000)
    expected = np.clip(np.round(acc.astype(np.float64) * 2.0 ** exponent), -128, 127)  # QONNX's ROUND
    assert np.array_equal(requantize(acc, m, s, -128, 127), expected.astype(np.int64))


def test_free_ratio_is_exact_rational_rounding_and_within_one_lsb_of_float():
    rng = np.random.default_rng(1)
    for ratio in rng.uniform(1e-6, 2.0, size=25):
        m, s = requant_params(float(ratio))
        assert abs(m * 2.0 ** -s - ratio) <= ratio * 2.0 ** -30
        acc = rng.integers(-(1 << 20), 1 << 20, size=500)
        got = requantize(acc, m, s, -(1 << 22), 1 << 22)  # wide enough never to clamp here
        exact = [_exact_round_half_even(int(a) * m, 1 << s) if s > 0 else int(a) * m << -s for a in acc]
        assert got.tolist() == exact
        assert np.abs(got - np.round(acc * ratio)).max() <= 1


def test_ratio_with_few_significant_bits_is_exact():
    ratio = float(Fraction(3, 1 << 12))
    m, s = requant_params(ratio)
    assert (m, s) == (3, 12)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_ratio(bad):
    with pytest.raises(FlowError, match="positive finite"):
        requant_params(bad)


def test_int_ranges():
    assert int_range(8, True) == (-128, 127)
    assert int_range(8, True, narrow=True) == (-127, 127)
    assert int_range(8, False) == (0, 255)
    assert int_range(4, True) == (-8, 7)


def test_shared_shift_keeps_multipliers_in_range_and_po2_exact():
    from flow.lower.requant import MULT_BITS, requant_params_shared

    mults, shift = requant_params_shared([0.75, 0.1234567, 3.0e-3])
    assert max(mults) < 1 << MULT_BITS
    for r, m in zip([0.75, 0.1234567, 3.0e-3], mults):
        assert abs(m * 2.0 ** -shift - r) <= 2.0 ** -shift
    assert requant_params_shared([0.5, 0.125]) == ([4, 1], 3)
    with pytest.raises(FlowError, match="too far apart"):
        requant_params_shared([1.0, 2.0 ** -40])
