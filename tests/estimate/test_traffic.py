"""DDR bytes and MACs of the traffic model, worked out by hand from the templates' access patterns."""

import numpy as np

from flow.estimate.traffic import layer_traffic
from flow.hls.project import HwConfig
from flow.lower.program import Layer, Program, TensorInfo


def _program(layer, shapes):
    tensors = {name: TensorInfo(shape, 8, True, 1.0) for name, shape in shapes.items()}
    return Program("hand", [layer.inputs[0]], list(layer.outputs), tensors, [layer])


def _layernorm(shift: bool):
    blobs = {"a": np.ones(8, np.int32), "b": np.zeros(8, np.int32)}
    if shift:
        blobs["in_shift"] = np.array([0, 2, 0, 0, 0, 0, 1, 0], np.int32)
    return Layer("ln", "layernorm", ["x"], ["y"], attrs={"features": 8, "k": 3}, blobs=blobs)


def test_layernorm_reads_its_input_in_three_passes():
    layer = _layernorm(shift=False)
    t = layer_traffic(layer, _program(layer, {"x": (8,), "y": (8,)}), HwConfig())
    # a and b: 16 int32 words read once = 64 B; x read by the sum, variance and output passes and y
    # written: (3 * 8 + 8) int16 codes = 64 B
    assert t == {"bytes": 64 + 64, "macs": 8}


def test_layernorm_reads_the_channel_shifts_in_each_pass():
    layer = _layernorm(shift=True)
    t = layer_traffic(layer, _program(layer, {"x": (8,), "y": (8,)}), HwConfig())
    # a, b once (64 B) and the 8 shifts in each of the three passes (96 B); the codes as before (64 B)
    assert t == {"bytes": 64 + 96 + 64, "macs": 8}


def test_pointwise_conv_rereads_its_input_per_output_tile():
    w = np.ones((4, 8, 1, 1), np.int8)
    layer = Layer("pw", "conv", ["x"], ["y"], attrs={"out_shape": [4, 2, 2], "groups": 1, "kernel": [1, 1]},
                  blobs={"weight": w, "bias": np.zeros(4, np.int32)})
    t = layer_traffic(layer, _program(layer, {"x": (8, 2, 2), "y": (4, 2, 2)}), HwConfig(pe_rows=2, pe_cols=4))
    # 2 output tiles (4 channels / 2 PE rows) x 4 pixels x 2 input tiles (8 / 4 PE columns) x 4 columns
    # = 64 codes read, 16 written (int16: 160 B); 32 weight bytes; 4 int32 biases (16 B)
    assert t == {"bytes": 160 + 32 + 16, "macs": 4 * 4 * 8}
