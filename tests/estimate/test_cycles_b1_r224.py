"""Acceptance: the cycle model equals the C-simulation's counted cycles on every layer of
EfficientViT-B1 r224 (slow: quantize and export, ~8 min)."""

import pytest
import torch

from flow.data import load_fashion_mnist
from flow.estimate.cycles import layer_cycles
from flow.export import export_clean_qonnx
from flow.hls.project import HwConfig
from flow.models import QuantScheme, build_model
from flow.quantize import make_quant_config, quantize_model

from .test_cycles import _csim_cycles


@pytest.mark.slow
def test_cycle_model_equals_csim_on_every_b1_layer(tmp_path):
    torch.manual_seed(0)
    fp = build_model("efficientvit_b1", resolution=224, quant=QuantScheme.float_reference()).eval()
    calib = load_fashion_mnist("train", 224, count=16)[0]
    q = quantize_model(fp, calib, make_quant_config({"po2_scales": True, "calib_images": 16}))
    path = export_clean_qonnx(q, tmp_path)
    cfg = HwConfig()
    program, counted = _csim_cycles(path, load_fashion_mnist("test", 224, count=1)[0][0].numpy(), tmp_path, cfg)
    assert len(counted) == len(program.layers) == 142
    for layer in program.layers:
        assert layer_cycles(layer, program, cfg) == counted[layer.name], layer.name
