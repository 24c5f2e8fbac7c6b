"""The hls4ml backend (`flow build --backend hls4ml`): the integer program through hls4ml.

hls4ml's ONNX frontend rejects what EfficientViT needs (linear attention, integer LayerNorm, lookup-table
activations, our requantization), so this registers them through hls4ml's extension API: one hls4ml layer
per program layer kind, each running the vitflow engine of ``hls_templates/vitflow`` (the same headers the
default backend uses, registered as sources, not copied) through the bridge ``hls_templates/hls4ml``.

  program_onnx.py  the integer program as an ONNX graph of vitflow-domain nodes (hls4ml's frontend input)
  extension.py     the hls4ml layers, ONNX handlers, config/function templates and their registration
  project.py       scope check, conversion to an hls4ml ModelGraph for a part, compile() and predict()
"""
