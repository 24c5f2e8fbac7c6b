"""Acceptance: EfficientViT-B1 r224 with power-of-two scales, the integer program against QONNX
execution on 8 real images, every quantized tensor identical, QONNX run as one onnxruntime session checked
identical to qonnx's executor on one image (slow; the model comes from conftest)."""

import pytest

from flow.data import load_fashion_mnist
from flow.lower import lower_qonnx
from flow.reference.compare import check_against_qonnx


@pytest.mark.slow
def test_b1_r224_integer_program_equals_qonnx(b1_r224_po2_qonnx):
    path = b1_r224_po2_qonnx
    program = lower_qonnx(path, name="efficientvit_b1")
    assert program.meta["ranges"]["acc_bits_needed"] <= 32  # the range analysis proves every accumulator fits
    result = check_against_qonnx(program, path, load_fashion_mnist("test", 224, count=8)[0].numpy(),
                                 verify_executor_images=1)
    assert result["qonnx_executor_verified_images"] == 1  # the one-session execution equals qonnx's executor
    assert result["images"] == 8 and result["max_lsb"] == 0 and result["tensors_exact"] == result["tensors"] == 184
