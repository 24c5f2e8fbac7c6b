"""Acceptance: EfficientViT-B1 r224, QONNX execution vs Brevitas on 8 real images (slow: ~5 min)."""

import pytest
import torch

from flow.data import load_fashion_mnist
from flow.export import check_qonnx, export_clean_qonnx
from flow.models import QuantScheme, build_model
from flow.quantize import make_quant_config, quantize_model


@pytest.mark.slow
@pytest.mark.parametrize("po2", [False, True], ids=["float-scales", "po2-scales"])
def test_b1_r224_qonnx_matches_brevitas(tmp_path, po2):
    torch.manual_seed(0)
    fp = build_model("efficientvit_b1", resolution=224, quant=QuantScheme.float_reference()).eval()
    calib = load_fashion_mnist("train", 224, count=32)[0]
    q = quantize_model(fp, calib, make_quant_config({"po2_scales": po2, "calib_images": 32}))
    path = export_clean_qonnx(q, tmp_path)
    result = check_qonnx(path, q, load_fashion_mnist("test", 224, count=8)[0])
    assert result["images"] == 8
    if po2:
        assert result["max_output_diff_lsb"] <= 1e-5 and result["max_tensor_diff_lsb"] == 0
    else:
        assert result["max_tensor_diff_lsb"] <= 1 and result["min_tensor_equal_fraction"] >= 0.999
