"""TSPTQ-ViT's two-scale quantizers: the value-aware one's exact values, both modules around Brevitas'
quantizer, and the integer LayerNorm on outlier-aware two scales."""

import pytest
import torch
from brevitas.graph.calibrate import calibration_mode

from flow.errors import FlowError
from flow.models import QuantScheme, build_model
from flow.models.quant_layers import act_quant
from flow.models.efficientvit import QuantLayerNorm
from flow.models.two_scale_quant import (ChannelTwoScaleQuant, TwoScaleQuant, activation_quantizers,
                                         quantize_two_scale)

from .two_scale_cases import ln_input, long_tail


def test_values_by_hand():
    # 4 bits: fine codes -4..3 at s = 1, coarse codes 0..7 at 2^2; T = 3.5
    y = torch.tensor([-5.0, -0.4, 1.2, 3.4, 3.5, 3.6, 9.0, 29.0, 100.0])
    got = quantize_two_scale(y, torch.tensor(1.0), 2, 4)
    assert got.tolist() == [-4, 0, 1, 3, 4, 4, 8, 28, 28]


def test_unsigned_fine_values_by_hand():
    # 4 bits, unsigned fine codes (a softmax output's): fine 0..7 at s = 1, coarse 0..7 at 2^2; T = 7.5
    y = torch.tensor([-1.0, 0.4, 6.6, 7.4, 7.5, 9.9, 10.0, 14.0, 100.0])
    got = quantize_two_scale(y, torch.tensor(1.0), 2, 4, signed_fine=False)
    assert got.tolist() == [0, 0, 7, 7, 8, 8, 8, 16, 28]


def test_limits_of_a_softmax_two_scale_quantizer():
    """A power-of-two fine scale and integers of at most 8 bits: 6-bit codes take shifts up to 3
    (31 << 3 = 248), and the fit refuses what the limits exclude."""
    q = TwoScaleQuant(torch.nn.Identity(), 6, signed_fine=False, po2=True, max_value_bits=8)
    assert q.allows(2.0 ** -8, 3) and not q.allows(2.0 ** -8, 4) and not q.allows(0.003, 1)
    with pytest.raises(FlowError, match="within its limits"):
        q.fit(2.0 ** -8, 4)
    q.fit(2.0 ** -8, 3)
    assert q.value_bits == 8 and q.fine_scale_value == 2.0 ** -8
    out = q(torch.tensor([0.05, 0.5, 1.0]))
    assert not out.signed and out.value.tolist() == [13 / 256, 128 / 256, 248 / 256]


def test_fewer_than_three_bits_is_an_error():
    with pytest.raises(FlowError, match="at least 3 bits"):
        quantize_two_scale(torch.zeros(1), torch.tensor(1.0), 1, 2)
    with pytest.raises(FlowError, match="value_two_scale needs act_bits >= 3"):
        QuantScheme(act_bits=2, value_two_scale=True)
    with pytest.raises(FlowError, match="choose one"):
        QuantScheme(value_two_scale=True, channel_migration=True)


def test_module_is_the_uniform_quantizer_until_fit():
    y = long_tail()[:4]
    uniform = act_quant(QuantScheme(act_bits=6, act_calibrator="minmax"))
    with torch.no_grad(), calibration_mode(uniform):
        uniform(y)
    mod = TwoScaleQuant(uniform, 6).eval()
    with torch.no_grad():
        assert torch.equal(mod(y).value, uniform(y).value)
        mod.fit(0.05, 3)
        out = mod(y)
    assert torch.equal(out.value, quantize_two_scale(y, torch.tensor(0.05), 3, 6))
    # integers at the fine scale, within the signed bits the module declares: (2^5 - 1) << 3 = 248 < 2^8
    codes = out.value.double() / out.scale.double()
    assert float((codes - codes.round()).abs().max()) < 1e-5
    assert int(out.bit_width) == 9 and float(codes.round().max()) <= 248


def test_fit_survives_state_dict_and_replaces_the_wrapped_quantizer():
    scheme = QuantScheme(act_bits=6, value_two_scale=True)
    model = build_model("efficientvit_b0", num_classes=10, resolution=32, quant=scheme)
    two = [n for n, m in model.named_modules() if isinstance(m, TwoScaleQuant)]
    assert two and all("inverted_conv.out_quant" in n for n in two)  # the depthwise inputs of MBConv
    names = [n for n, _ in activation_quantizers(model)]
    assert f"{two[0]}.uniform" in names and two[0] not in names  # not fit yet: the uniform quantizer counts
    dict(model.named_modules())[two[0]].fit(0.01, 2)
    names = [n for n, _ in activation_quantizers(model)]
    assert two[0] in names and f"{two[0]}.uniform" not in names
    again = build_model("efficientvit_b0", num_classes=10, resolution=32, quant=scheme)
    again.load_state_dict(model.state_dict(), strict=False)
    mod = dict(again.named_modules())[two[0]]
    assert mod.fitted and mod.coarse_shift == 2 and float(mod.fine_scale) == pytest.approx(0.01)


def test_channel_two_scales_quantize_each_channel_at_its_scale():
    uniform = act_quant(QuantScheme(act_bits=8, act_calibrator="minmax"))
    mod = ChannelTwoScaleQuant(uniform, 8, 4)
    mod.fit(0.5, torch.tensor([0, 3, 0, 1]))
    x = torch.tensor([[1.3, 1.3, 100.0, -70.0]])
    out = mod(x)
    # scales [0.5, 4, 0.5, 1]: codes [3 (2.6 -> 3), 0 (0.325), 127 (clamped), -70]
    assert out.value.tolist() == [[1.5, 0.0, 63.5, -70.0]] and out.scale.tolist() == [0.5, 4.0, 0.5, 1.0]
    with pytest.raises(FlowError, match="shifts in 0..8"):
        mod.fit(0.5, torch.tensor([0, -1, 0, 0]))


def test_integer_layernorm_on_outlier_two_scales():
    """Frozen on two scales (the outliers 2^6 x the rest), the integer LayerNorm tracks torch's LayerNorm of
    the same quantized input (within 1 LSB), and its error against the unquantized input's LayerNorm is
    lower than with one scale for the whole input."""
    x = ln_input()
    outs = {}
    for two in (False, True):
        torch.manual_seed(0)
        ln = QuantLayerNorm(QuantScheme(act_calibrator="minmax", outlier_two_scale=two), 64).eval()
        with torch.no_grad(), calibration_mode(ln):
            ln(x)
        if two:
            shifts = torch.zeros(64, dtype=torch.int64)
            shifts[[3, 17, 40, 41]] = 6
            ln.in_quant.fit(float(x[:, shifts == 0].abs().max()) / 127, shifts)
        ln.freeze_integer()
        with torch.no_grad():
            got = ln(x).value
            x_q = ln.in_quant(x).value
            step = float(ln.out_quant.act_quant.scale())
            same_input = torch.nn.functional.layer_norm(x_q, (64,), ln.weight, ln.bias)
            exact = torch.nn.functional.layer_norm(x, (64,), ln.weight, ln.bias)
        diff = ((got - same_input) / step).abs().round()
        assert diff.max() <= 1 and (diff == 0).float().mean() > 0.97
        outs[two] = float(((got - exact) ** 2).mean())
    assert outs[True] < 0.5 * outs[False], outs
