"""A two-block DeiT (DeiT-Tiny's head width 64, two heads) quantized, exported to QONNX and executed:
the softmax attention, GELU, the token LayerNorms and the class token / position embedding add export,
and the graph matches Brevitas by the export check's standard (power-of-two scales exactly; free scales
at most 1 LSB per tensor, teacher-forced). The lowering names the first DeiT operator it has no rule for."""

import onnx
import pytest
import torch

from flow.data import load_fashion_mnist
from flow.errors import FlowError
from flow.export import check_qonnx, export_clean_qonnx
from flow.models import DeiTSpec, QuantScheme
from flow.models.zoo import build_from_spec
from flow.quantize import make_quant_config, quantize_model

SPEC = DeiTSpec("deit_test", embed_dim=128, depth=2, heads=2)


@pytest.fixture(scope="module", params=[True, False], ids=["po2-scales", "free-scales"])
def exported_deit(request, tmp_path_factory):
    torch.manual_seed(0)
    fp = build_from_spec(SPEC, num_classes=10, resolution=32, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("test", 32, count=16)[0]
    q = quantize_model(fp, images, make_quant_config({"calib_images": 16, "po2_scales": request.param}))
    return q, export_clean_qonnx(q, tmp_path_factory.mktemp("deit")), images


def test_deit_qonnx_matches_brevitas(exported_deit):
    q, path, images = exported_deit
    result = check_qonnx(path, q, images[:4])
    # per block: 2 LayerNorms x (in, out), q, k, v, logits, softmax, attention out, proj, add, GELU in and
    # out, fc2, add = 16; plus the image, the patch embedding, the embedded tokens, the final LayerNorm's
    # two and the logits
    assert result["tensors_checked"] == 2 * 16 + 6
    if q.scheme.po2_scales:
        assert result["max_output_diff_lsb"] <= 1e-5 and result["max_tensor_diff_lsb"] == 0
    else:
        assert result["max_tensor_diff_lsb"] <= 1 and result["min_tensor_equal_fraction"] >= 0.999
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Softmax", "Gelu", "MatMul", "Concat", "Quant"} <= ops


def test_lowering_names_the_first_unsupported_operator(exported_deit):
    from flow.lower import lower_qonnx

    _, path, _ = exported_deit
    with pytest.raises(FlowError, match="cannot lower .*no rule for a quantized"):
        lower_qonnx(path)
