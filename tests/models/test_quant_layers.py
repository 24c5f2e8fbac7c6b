"""Trio-ViT's two per-channel activation forms, on tensors built to need them: channel-wise migration
(one scale per channel for a depthwise conv's input) and filter-wise shift (one zero point per channel
under one scale for a pointwise conv's input)."""

import torch
from brevitas.graph.calibrate import calibration_mode

from flow.models import QuantScheme
from flow.models.quant_layers import act_quant


def _calibrated(quant, x):
    with torch.no_grad(), calibration_mode(quant):
        quant(x)
    quant.eval()
    with torch.no_grad():
        return quant(x)


def _channel_error(x, y):
    """Relative RMS error per channel."""
    return ((y - x).pow(2).mean((0, 2, 3)) / x.pow(2).mean((0, 2, 3))).sqrt()


def test_channel_migration_keeps_small_channels_of_a_depthwise_input():
    # 8 channels whose magnitudes span 2^0 .. 2^7: one 6-bit scale for all rounds the small ones away
    torch.manual_seed(0)
    x = torch.randn(16, 8, 6, 6) * (2.0 ** torch.arange(8.0)).view(1, 8, 1, 1)
    per_tensor = _calibrated(act_quant(QuantScheme(act_bits=6, act_calibrator="minmax"), channels=8,
                                       per_channel_scale=True), x)
    migrated = _calibrated(act_quant(QuantScheme(act_bits=6, act_calibrator="minmax", channel_migration=True),
                                     channels=8, per_channel_scale=True), x)
    assert per_tensor.scale.numel() == 1 and migrated.scale.numel() == 8
    assert _channel_error(x, per_tensor.value)[0] > 0.5  # channel 0 is mostly zeros
    assert _channel_error(x, migrated.value).max() < 0.05
    # each channel's scale is its own range: max |x_c| / 2^5 (Brevitas divides by 2^(bits - 1))
    assert torch.allclose(migrated.scale.reshape(-1), x.abs().amax((0, 2, 3)) / 32, rtol=1e-5)


def test_filter_shift_centres_each_channel_of_a_pointwise_input():
    # channel c in [3c, 3c + 1]: one zero point spends the 6-bit range on the gaps between channels
    torch.manual_seed(0)
    x = torch.rand(16, 8, 6, 6) + 3.0 * torch.arange(8.0).view(1, 8, 1, 1)
    one_zp = _calibrated(act_quant(QuantScheme(act_bits=6, act_calibrator="minmax", asym_post_act=True),
                                   asymmetric=True, channels=8), x)
    shifted = _calibrated(act_quant(QuantScheme(act_bits=6, act_calibrator="minmax", filter_shift=True),
                                    asymmetric=True, channels=8), x)
    assert one_zp.zero_point.numel() == 1 and shifted.zero_point.numel() == 8 and shifted.scale.numel() == 1
    # the scale: the largest channel range, but at least max/2 of every channel (zero points stay within
    # +-63, here channel 7: max 22 / 2 = 11 -> s = 11/63)
    lo, hi = x.amin((0, 2, 3)), x.amax((0, 2, 3))
    floor = torch.maximum(torch.maximum(hi - lo, hi / 2), -lo).max()
    assert torch.isclose(shifted.scale.reshape(()), floor / 63, rtol=1e-5)
    mse_one, mse_shift = (one_zp.value - x).pow(2).mean(), (shifted.value - x).pow(2).mean()
    assert mse_shift < 0.3 * mse_one
    # codes start at each channel's minimum: zero point = round(-min_c / s), negative for positive channels,
    # at most 63 in magnitude
    expected = torch.clamp(torch.round(-lo / shifted.scale.reshape(())), -63, 63)
    assert torch.equal(shifted.zero_point.reshape(-1), expected) and expected.min() == -63
    assert int(shifted.int().min()) == 0 and int(shifted.int().max()) <= 63
    assert torch.all(shifted.value.amax((0, 2, 3)) >= hi - shifted.scale.reshape(()))  # nothing clipped
