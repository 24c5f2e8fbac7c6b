"""run_program: input checks and teacher forcing."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.lower import lower_model
from flow.reference import run_program

from ..lower.onnx_builder import GraphBuilder


def _two_relus():
    b = GraphBuilder((4,), 0.5)
    a = b.quant(b.op("Relu", [b.x])[0], 0.5, signed=False)
    out = b.quant(b.op("Relu", [a])[0], 1.0, signed=False)
    return lower_model(b.model(out).model), a, out


def test_inputs_are_checked():
    program, _, _ = _two_relus()
    name = program.inputs[0]
    with pytest.raises(FlowError, match="has shape"):
        run_program(program, {name: np.zeros(3, np.int64)})
    with pytest.raises(FlowError, match="integer codes in \\[-128, 127\\]"):
        run_program(program, {name: np.array([0, 0, 0, 200])})
    with pytest.raises(FlowError, match="integer codes"):
        run_program(program, {name: np.zeros(4, np.float32)})
    with pytest.raises(FlowError, match="missing program input"):
        run_program(program, {})


def test_teacher_forcing_feeds_the_given_inputs():
    program, a, out = _two_relus()
    x = np.array([-4, 3, 5, 8])
    free = run_program(program, {program.inputs[0]: x})
    assert free[a].tolist() == [0, 3, 5, 8] and free[out].tolist() == [0, 2, 2, 4]  # 1.5 -> 2, 2.5 -> 2
    forced = run_program(program, {program.inputs[0]: x}, forced={a: np.array([10, 0, 1, 3])})
    assert forced[a].tolist() == [0, 3, 5, 8]          # the layer's own output is still reported ...
    assert forced[out].tolist() == [5, 0, 0, 2]        # ... and the next layer ran on the forced one
