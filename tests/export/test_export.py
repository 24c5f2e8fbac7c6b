"""QONNX export, cleaned by qonnx and executed by qonnx's executor, against the Brevitas model."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from flow.errors import FlowError
from flow.export import check_qonnx


@pytest.fixture(scope="module")
def exported(exported_b0):
    return exported_b0


def test_qonnx_execution_matches_brevitas(exported):
    q, path, images = exported
    result = check_qonnx(path, q, images[:4])
    assert result["tensors_checked"] == 122
    if q.scheme.po2_scales:
        assert result["max_output_diff_lsb"] <= 1e-5 and result["max_tensor_diff_lsb"] == 0
    else:
        assert result["max_tensor_diff_lsb"] <= 1 and result["min_tensor_equal_fraction"] >= 0.999
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Quant" in ops and "MatMul" in ops and "Div" in ops  # the linear attention is in the graph


def test_check_catches_a_wrong_graph(exported, tmp_path):
    q, path, images = exported
    model = onnx.load(str(path))
    init = max(model.graph.initializer, key=lambda t: np.prod(t.dims))  # the largest weight tensor
    arr = numpy_helper.to_array(init).copy()
    arr *= -1.0
    init.CopyFrom(numpy_helper.from_array(arr, init.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(FlowError, match="QONNX execution differs"):
        check_qonnx(bad, q, images[:2])


def test_the_one_session_check_equals_qonnx_node_by_node(exported):
    """The export check's onnxruntime session (teacher forcing by cutting the graph at each quantized
    tensor) gives, per image and per tensor, exactly what qonnx's executor gives node by node."""
    from qonnx.core.modelwrapper import ModelWrapper

    from flow.export.check import _brevitas_tensors, _execute, _OrtGraph

    q, path, images = exported
    wrapped = ModelWrapper(str(path))
    ort_graph = _OrtGraph(wrapped)
    for i in range(2):
        x = images[i:i + 1]
        _, tensors = _brevitas_tensors(q, x)
        y_qonnx, stats_qonnx = _execute(wrapped, x.numpy(), forced=tensors)
        assert ort_graph.forced(x.numpy(), tensors) == stats_qonnx
        assert np.array_equal(ort_graph.free(x.numpy()), _execute(wrapped, x.numpy())[0])
    a, b = (check_qonnx(path, q, images[:2], executor=e) for e in ("onnxruntime", "qonnx"))
    assert {**a, "executor": None} == {**b, "executor": None}
