"""QONNX export of a quantized model, cleaned with qonnx and checked by executing it."""

from .check import check_qonnx
from .qonnx_export import export_clean_qonnx

__all__ = ["check_qonnx", "export_clean_qonnx"]
