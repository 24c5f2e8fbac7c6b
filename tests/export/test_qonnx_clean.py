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
