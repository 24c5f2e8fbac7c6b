"""Acceptance: EfficientViT-B1 r224 with power-of-two scales, the integer program against QONNX
execution on 8 real images, every quantized tensor identical (slow: ~13 min)."""

import pytest
import torch

from flow.data import load_fashion_mnist
from flow.export import export_clean_qonnx
from flow.lower import lower_qonnx
from flow.models import QuantScheme, build_model
from flow.quantize import make_quant_config, quantize_model
from flow.reference.compare import check_against_qonnx


@pytest.mark.slow
def test_b1_r224_integer_program_equals_qonnx(tmp_path):
    torch.manual_seed(0)
    fp = build_model("efficientvit_b1", resolution=224, quant=QuantScheme.float_reference()).eval()
    calib = load_fashion_mnist("train", 224, count=32)[0]
    q = quantize_model(fp, calib, make_quant_config({"po2_scales": True, "calib_images": 32}))
    path = export_clean_qonnx(q, tmp_path)
    program = lower_qonnx(path, name="efficientvit_b1")
    assert program.meta["ranges"]["acc_bits_needed"] <= 32  # the range analysis proves every accumulator fits
    result = check_against_qonnx(program, path, load_fashion_mnist("test", 224, count=8)[0].numpy())
    assert result["images"] == 8 and result["max_lsb"] == 0 and result["tensors_exact"] == result["tensors"] == 184
