"""flow.export.qonnx_export.clean_qonnx gives the file qonnx's cleanup_model gives, byte for byte."""

import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.cleanup import cleanup_model

from flow.export.qonnx_export import RAW_NAME, clean_qonnx


def _same_as_cleanup_model(clean_path):
    raw = str(clean_path.parent / RAW_NAME)
    ours = clean_qonnx(ModelWrapper(raw)).model.SerializeToString()
    assert ours == cleanup_model(ModelWrapper(raw)).model.SerializeToString()
    assert ours == clean_path.read_bytes()  # and it is the file the export wrote


def test_b0_clean_equals_cleanup_model(exported_b0):
    _same_as_cleanup_model(exported_b0[1])


@pytest.mark.slow
def test_b1_r224_clean_equals_cleanup_model(b1_r224_po2_qonnx):
    _same_as_cleanup_model(b1_r224_po2_qonnx)


def test_constant_folding_runs_at_the_standard_domains_opset_whatever_the_import_order():
    """The exporter may list qonnx's domain (version 2) first; a constant Concat still folds (Concat-1, its
    version there, has no onnxruntime kernel)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    from qonnx.core.modelwrapper import ModelWrapper

    from flow.export.qonnx_export import clean_qonnx

    a, b = np.ones((1, 2), np.float32), np.zeros((1, 2), np.float32)
    graph = helper.make_graph(
        [helper.make_node("Concat", ["a", "b"], ["c"], axis=0), helper.make_node("Add", ["x", "c"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])],
        [numpy_helper.from_array(a, "a"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("qonnx.custom_op.general", 2),
                                                    helper.make_opsetid("", 20)])
    cleaned = clean_qonnx(ModelWrapper(model))
    assert [n.op_type for n in cleaned.graph.node] == ["Add"]
    folded = [numpy_helper.to_array(t) for t in cleaned.graph.initializer]
    assert any(np.array_equal(f, np.concatenate([a, b])) for f in folded)
