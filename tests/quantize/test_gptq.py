"""GPTQ (Brevitas) on a case built to need it: a layer whose inputs are strongly correlated, where
compensating one column's rounding error on the others beats rounding to nearest."""

import torch
import torch.nn as nn
from brevitas.nn import QuantLinear
from brevitas.quant import Int8WeightPerChannelFloat

from flow.quantize.gptq import apply_gptq
from flow.quantize.weight_quant import freeze_weight_scales


def _model(weight):
    m = nn.Sequential(QuantLinear(16, 8, bias=False, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3))
    with torch.no_grad():
        m[0].weight.copy_(weight)
    return m.eval()


def test_gptq_beats_round_to_nearest_on_correlated_inputs():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(8, 16, generator=g)
    basis = torch.randn(3, 16, generator=g)
    x = torch.randn(512, 3, generator=g) @ basis + 0.05 * torch.randn(512, 16, generator=g)  # rank ~3
    ref = x @ weight.T
    rtn, opt = _model(weight), _model(weight)
    freeze_weight_scales(opt)
    assert apply_gptq(opt, x, batch_size=128) == 1
    with torch.no_grad():
        err_rtn = (rtn(x) - ref).pow(2).mean().item()
        err_gptq = (opt(x) - ref).pow(2).mean().item()
        on_grid = opt[0].quant_weight()
        # weights written on the frozen scale's grid: weight / scale is an integer, the code itself
        assert (opt[0].weight / on_grid.scale - on_grid.int()).abs().max() < 1e-4
        assert on_grid.int().abs().max() <= 3  # still 3-bit codes
    assert err_gptq < 0.5 * err_rtn, (err_gptq, err_rtn)
