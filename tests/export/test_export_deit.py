"""A two-block DeiT (DeiT-Tiny's head width 64, two heads) quantized, exported to QONNX and executed:
the softmax attention, GELU, the token LayerNorms and the class token / position embedding add export,
and the graph matches Brevitas by the export check's standard (power-of-two scales exactly; free scales
at most 1 LSB per tensor, teacher-forced). The model: tests/conftest.py's exported_deit."""

import onnx

from flow.export import check_qonnx


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
    assert {"Gelu", "MatMul", "Concat", "GatherND", "Reciprocal", "Quant"} <= ops  # the softmax is integer
    assert "Softmax" not in ops
