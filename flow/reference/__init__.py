"""The integer reference: executes a flow.lower Program with numpy integer arithmetic (int64
accumulators), layer by layer, and compares it with QONNX execution.

run_program: codes in, every tensor out (program tensors and each layer's internal dumps).
compare_with_qonnx: the reference against qonnx's executor on real images, every quantized tensor.
Arbiter (arbitrate.py): the graph's exact arithmetic (float64) for any quantized tensor, to judge which
side of a free-scale difference is right, and the whole graph executed exactly.
"""

from .executor import run_program

__all__ = ["run_program"]
