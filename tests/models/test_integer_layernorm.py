"""The frozen QuantLayerNorm: an integer LayerNorm that stays close to torch's float LayerNorm."""

import torch
from brevitas.graph.calibrate import calibration_mode

from flow.models.efficientvit import QuantLayerNorm
from flow.models.quant_layers import QuantScheme


def _calibrated(C=64, seed=0):
    torch.manual_seed(seed)
    ln = QuantLayerNorm(QuantScheme(act_calibrator="minmax"), C)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-0.3, 0.3)
    x = torch.randn(256, C) * 2 + 0.5
    ln.eval()
    with torch.no_grad(), calibration_mode(ln):
        ln(x)
    return ln, x


def test_integer_layernorm_tracks_float_layernorm():
    ln, x = _calibrated()
    with torch.no_grad():
        float_out = ln(x).value
        ln.freeze_integer()
        int_out = ln(x).value
    step = float(ln.out_quant.act_quant.scale().detach())
    diff = ((int_out - float_out).abs() / step).round()
    assert ln.integer and diff.max() <= 1 and (diff == 0).float().mean() > 0.97


def test_integer_layernorm_outputs_are_codes_of_the_output_quantizer():
    ln, x = _calibrated(C=16, seed=1)
    ln.freeze_integer()
    with torch.no_grad():
        y = ln(x).value
    codes = y / ln.out_quant.act_quant.scale()
    assert (codes - codes.round()).abs().max() < 1e-4 and codes.abs().max() <= 128  # float32 c*s/s
    assert ln.ln_a.dtype == torch.float64 and torch.equal(ln.ln_a, ln.ln_a.round())
    assert ln.ln_a.abs().max() <= 2 ** QuantLayerNorm.LN_COEF_BITS


def test_float_model_layernorm_is_untouched():
    ln = QuantLayerNorm(QuantScheme.float_reference(), 8)
    ln.freeze_integer()
    x = torch.randn(4, 8)
    assert not ln.integer and torch.allclose(ln(x), torch.nn.functional.layer_norm(x, (8,), ln.weight, ln.bias))
