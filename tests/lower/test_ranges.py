"""Static range analysis: worked bounds on a small conv, and the hard error for a too-narrow width."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.lower import lower_model
from flow.lower.ranges import signed_bits

from .onnx_builder import GraphBuilder


def _conv(w_codes, b_code):
    b = GraphBuilder((1, 3, 3), 1.0)
    w = b.weight(w_codes, np.full((1, 1, 1, 1), 1.0, np.float32))
    bias = b.bias([b_code], np.array([1.0], np.float32))
    out = b.quant(b.op("Conv", [b.x, w, bias], kernel_shape=[2, 2], pads=[0, 0, 0, 0])[0], 1.0)
    return b.model(out).model


def test_signed_bits():
    assert [signed_bits(-128, 127), signed_bits(0, 255), signed_bits(-129, 0), signed_bits(0, 0)] == [8, 9, 9, 1]


def test_conv_accumulator_bounds_by_hand():
    # w = [[1, 2], [0, -1]], bias 3, x in [-128, 127]: max = 127 + 254 + 128 + 3 = 512, min = -128 - 256 - 127 + 3 = -508
    program = lower_model(_conv([[[[1, 2], [0, -1]]]], 3))
    acc = program.layers[0].ranges["acc"]
    assert (acc["min"], acc["max"], acc["bits"]) == (-508, 512, 11)
    assert acc["float32_exact"]


def test_too_narrow_accumulator_is_an_error():
    model = _conv([[[[127, 127], [127, 127]]]], 0)  # 4 * 127 * 128 = 65024: needs 17 bits
    assert lower_model(model, acc_bits=17).layers[0].ranges["acc"]["bits"] == 17
    with pytest.raises(FlowError, match=r"accumulator 'acc' of layer conv0 \(conv\) needs 17 bits .* 16 bits"):
        lower_model(model, acc_bits=16)
