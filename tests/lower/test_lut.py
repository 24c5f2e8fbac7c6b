"""The Hardswish table equals the quantized model's own pre-quantizer -> Hardswish -> quantizer chain."""

import numpy as np
import pytest
import torch

from flow.lower.lut import apply_lut, hardswish_lut
from flow.models import QuantScheme
from flow.models.efficientvit import HardSwish
from flow.models.quant_layers import act_quant
from flow.quantize.calibrate import calibrate


@pytest.mark.parametrize("po2", [False, True])
@pytest.mark.parametrize("bits", [8, 6, 4])
def test_hardswish_table_equals_the_model(po2, bits):
    scheme = QuantScheme(act_bits=bits, po2_scales=po2, act_calibrator="minmax")
    pre, post = act_quant(scheme), act_quant(scheme)
    torch.manual_seed(bits)
    data = torch.randn(64, 512) * 3
    calibrate(pre, data, batch_size=64)
    calibrate(post, HardSwish()(pre(data).value.detach()), batch_size=64)
    s_in = float(pre.act_quant.scale().detach())
    s_out = float(post.act_quant.scale().detach())
    table = hardswish_lut(s_in, bits, True, s_out, bits, True)
    assert len(table) == 1 << bits
    codes = np.arange(-(1 << (bits - 1)), 1 << (bits - 1))
    with torch.no_grad():
        x = torch.from_numpy(codes.astype(np.float32)) * pre.act_quant.scale().detach()
        ref = post(HardSwish()(pre(x).value))
        expected = torch.round(ref.value / ref.scale).to(torch.int64).numpy()
    assert np.array_equal(apply_lut(codes, table, bits, True), expected)
