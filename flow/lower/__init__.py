"""Integer lowering (issue #4): the QONNX graph as an integer-only program.

So far: the arithmetic primitives every lowered layer uses, each matching QONNX's float semantics
where that is possible exactly (requant.py: multiplier-and-shift requantization with round-half-even;
lut.py: unary activations of an int8 tensor as lookup tables). The graph lowering itself is not built.
"""
