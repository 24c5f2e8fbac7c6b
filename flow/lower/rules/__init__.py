"""Lowering rules: each recognises one pattern of the cleaned QONNX graph, anchored on the activation
Quant that ends it (or, for linear attention, on its Split), and emits one program layer."""
