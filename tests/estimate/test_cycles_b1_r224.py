"""Acceptance: the cycle model equals the C-simulation's counted cycles on every layer of
EfficientViT-B1 r224 (slow; the model comes from conftest, shared with the lowering test)."""

import pytest

from flow.data import load_fashion_mnist
from flow.estimate.cycles import layer_cycles
from flow.hls.project import HwConfig

from .test_cycles import _csim_cycles


@pytest.mark.slow
def test_cycle_model_equals_csim_on_every_b1_layer(b1_r224_po2_qonnx, tmp_path):
    path = b1_r224_po2_qonnx
    cfg = HwConfig()
    program, counted = _csim_cycles(path, load_fashion_mnist("test", 224, count=1)[0][0].numpy(), tmp_path, cfg)
    assert len(counted) == len(program.layers) == 142
    for layer in program.layers:
        assert layer_cycles(layer, program, cfg) == counted[layer.name], layer.name
