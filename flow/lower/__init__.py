"""Integer lowering: the cleaned QONNX graph as an integer-only program (flow.lower.program).

lower.py walks the graph and lets one rule per pattern (rules/) emit each layer; ranges.py proves the
accumulator widths; program.py holds the program and its files (program.json + weights.bin).
The arithmetic primitives: requant.py (multiplier-and-shift requantization, round half to even, exact
rational rounding) and lut.py (activations as lookup tables).
"""

from .lower import lower_model, lower_qonnx
from .program import Program, load as load_program, save as save_program

__all__ = ["Program", "lower_model", "lower_qonnx", "load_program", "save_program"]
