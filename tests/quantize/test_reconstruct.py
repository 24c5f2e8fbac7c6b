"""Block reconstruction (Brevitas' learned rounding, BRECQ style) on a case built to need it: a two-layer
block at 3-bit weights whose inputs are correlated, where rounding each weight to nearest leaves a large
block-output error that choosing the rounding direction jointly removes; and the reconstruction units of
EfficientViT (every block; the bridge stages where convolutions meet attention)."""

from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from brevitas.core.function_wrapper.learned_round import LearnedRoundSte
from brevitas.nn import QuantLinear
from brevitas.quant import Int8WeightPerChannelFloat

from flow.models import QuantScheme, build_model
from flow.quantize.reconstruct import block_units, bridge_units, reconstruct
from flow.quantize.weight_quant import freeze_weight_scales


def _model(w1, w2):
    def layer(w):
        q = QuantLinear(w.shape[1], w.shape[0], bias=False, weight_quant=Int8WeightPerChannelFloat,
                        weight_bit_width=3)
        with torch.no_grad():
            q.weight.copy_(w)
        return q

    return nn.Sequential(OrderedDict(block=nn.Sequential(layer(w1), nn.ReLU(), layer(w2)))).eval()


def test_reconstruction_beats_round_to_nearest_and_leaves_plain_rounding():
    g = torch.Generator().manual_seed(0)
    w1, w2 = torch.randn(24, 16, generator=g), torch.randn(8, 24, generator=g)
    basis = torch.randn(4, 16, generator=g)
    x = torch.randn(256, 4, generator=g) @ basis + 0.05 * torch.randn(256, 16, generator=g)
    ref = torch.relu(x @ w1.T) @ w2.T
    rtn, opt = _model(w1, w2), _model(w1, w2)
    freeze_weight_scales(opt)
    scales = [opt.block[i].quant_weight().scale.clone() for i in (0, 2)]
    losses = reconstruct(opt, x, ["block"], iters=300, lr=1e-2, batch_size=32)
    assert set(losses) == {"block"} and losses["block"][1] < losses["block"][0]
    with torch.no_grad():
        err_rtn = (rtn(x) - ref).pow(2).mean().item()
        err_rec = (opt(x) - ref).pow(2).mean().item()
        for i, scale in zip((0, 2), scales):
            q = opt.block[i].quant_weight()
            assert torch.equal(q.scale, scale)  # the grid did not move
            assert (opt.block[i].weight / q.scale - q.int()).abs().max() < 1e-4  # weights baked on the grid
            assert q.int().abs().max() <= 4  # 3-bit codes
    assert err_rec < 0.7 * err_rtn, (err_rec, err_rtn)
    # plain rounding again: nothing learned-round left to export or to save
    assert not any(isinstance(m, LearnedRoundSte) for m in opt.modules())
    assert not any("float_to_int_impl" in k for k in opt.state_dict())


def test_reconstruction_units_of_efficientvit():
    m = build_model("efficientvit_b0", resolution=32, num_classes=10, quant=QuantScheme(enabled=True))
    units = block_units(m)
    assert units[0] == "stem" and units[-1] == "head" and "stages.2.blocks.1" in units and len(units) == 12
    assert bridge_units(m) == ["stages.2", "stages.3"]  # an MBConv then EfficientViT blocks in each
    with pytest.raises(ValueError, match="no reconstruction unit named 'stages.9'"):
        reconstruct(m, torch.zeros(1, 1, 32, 32), ["stages.9"])
