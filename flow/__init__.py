"""vitflow: deploy quantized EfficientViT models from PyTorch to FPGA.

Pipeline stages (each a function from one artifact to the next, checked after it):
model (flow.models) -> quantize -> export (QONNX) -> lower (integer program) -> HLS project -> csim.

``flow.models``, ``flow.hls_templates`` and ``flow.constraints`` live in the repository's top-level
``models/``, ``hls_templates/`` and ``constraints/`` folders (mapped in pyproject.toml).
"""

__version__ = "0.1.0"
