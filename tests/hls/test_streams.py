"""Weight streams: the closed-form length the estimate uses equals the packed stream, and a conv tile's
words are where conv_pe.h reads them."""

import zlib

import numpy as np
import pytest

from flow.hls.streams import conv_tiles, pack_stream, stream_words
from flow.hls.tensor_layout import TensorLayout, plan_layouts
from flow.lower.program import Layer

from .random_programs import MAKERS, random_program


@pytest.mark.parametrize("lanes", [8, 16, 32])
@pytest.mark.parametrize("kind", list(MAKERS))
def test_closed_form_length_equals_the_packed_stream(kind, lanes):
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    for _ in range(4):
        program = random_program(kind, rng)
        layer = program.layers[0]
        layouts = plan_layouts(program, lanes)
        words = pack_stream(layer, layouts, lanes)  # raises if the two differ
        assert words.shape == (stream_words(layer, layouts, lanes), lanes)


def test_a_conv_tile_is_header_parameters_then_weights_step_major():
    w = np.arange(2 * 3 * 1 * 1, dtype=np.int8).reshape(2, 3, 1, 1) + 1  # 2 outputs x 3 inputs
    layer = Layer("c", "conv", ["x"], ["y"], {"kernel": [1, 1], "groups": 1},
                  {"weight": w, "bias": np.array([5, 6], np.int32), "mult": np.array([7, 8], np.int32),
                   "shift": np.array([9, 10], np.int32)})
    lays = {"x": TensorLayout((3, 1, 1), 1, True, (3,), 8), "y": TensorLayout((2, 1, 1), 1, True, (2,), 8)}
    s = pack_stream(layer, lays, 8)
    assert conv_tiles(layer, lays["x"], lays["y"]) == [(0, 1)]
    # header: w0 = 0, nw = 1, and a padding word (the PE array reads its stream in pairs of words)
    assert s.shape == (2 + 12 + 8, 8) and s[0].view("<i4").tolist() == [0, 1] and not s[1].any()
    assert s[2:6].reshape(-1).view("<i4").tolist() == [5, 6, 0, 0, 0, 0, 0, 0]  # bias of rows 0..7
    assert s[6:10].reshape(-1).view("<i4").tolist() == [7, 8, 0, 0, 0, 0, 0, 0]  # multipliers
    assert s[14].view(np.int8).tolist() == [1, 2, 3, 0, 0, 0, 0, 0]  # row 0: inputs 0..2, padding lanes 0
    assert s[15].view(np.int8).tolist() == [4, 5, 6, 0, 0, 0, 0, 0] and not s[16:].any()
