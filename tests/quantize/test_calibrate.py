"""The calibrator names select the statistics they say, on a single quantizer with known data."""

import math

import pytest
import torch

from flow.models import QuantScheme
from flow.models.quant_layers import act_quant
from flow.quantize.calibrate import calibrate


def _calibrated_scale(scheme, data, signed=True):
    q = act_quant(scheme, signed=signed)
    calibrate(q, data, batch_size=len(data))
    return float(q.act_quant.scale().detach())


@pytest.fixture
def data():
    torch.manual_seed(0)
    x = torch.randn(64, 1000)
    x[0, 0] = 40.0  # one outlier
    return x


def test_minmax_uses_the_absolute_maximum(data):
    scale = _calibrated_scale(QuantScheme(act_calibrator="minmax"), data)
    assert scale == pytest.approx(40.0 / 128, rel=1e-4)  # signed activations span [-128, 127]


def test_percentile_ignores_the_outlier(data):
    scale = _calibrated_scale(QuantScheme(act_calibrator="percentile", percentile=99.9), data)
    assert 3.0 / 127 < scale < 5.0 / 127


def test_mse_clips_harder_than_minmax(data):
    mse = _calibrated_scale(QuantScheme(act_calibrator="mse"), data)
    assert mse < 40.0 / 128 * 0.9


def test_power_of_two_scales(data):
    scale = _calibrated_scale(QuantScheme(act_calibrator="minmax", po2_scales=True), data)
    assert math.log2(scale) == int(math.log2(scale)) and scale >= 40.0 / 128


def test_unsigned_after_relu(data):
    scale = _calibrated_scale(QuantScheme(act_calibrator="minmax", act_bits=8), data.relu(), signed=False)
    assert scale == pytest.approx(40.0 / 255, rel=1e-4)
