"""Tensor layouts in the activation memory: HWC words, element widths, head segments and their demand."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.hls.tensor_layout import TensorLayout, plan_layouts, split
from flow.lower.program import Layer, Program, TensorInfo


def test_dense_8_bit_layout_packs_hwc_words():
    lay = TensorLayout((3, 2, 2), 1, True, (3,), 4)
    codes = np.arange(12).reshape(3, 2, 2) - 6
    words = lay.pack(codes)
    assert lay.words == 4 and words.shape == (4, 4)  # one 4-byte word per pixel, lane 3 padding
    assert words[0].view(np.int8).tolist() == [-6, -2, 2, 0]  # pixel 0: channels 0, 1, 2
    assert lay.mask()[0].tolist() == [True, True, True, False]
    np.testing.assert_array_equal(lay.unpack(words), codes)


def test_16_bit_elements_take_two_bytes_and_half_the_lanes():
    lay = TensorLayout((5,), 2, False, (5,), 8)
    codes = np.array([1, 300, 65535, 7, 4096])
    assert lay.per_word == 4 and lay.words == 2
    assert lay.mask().reshape(-1).tolist() == [True] * 10 + [False] * 6
    np.testing.assert_array_equal(lay.unpack(lay.pack(codes)), codes)


def test_segments_start_on_word_boundaries():
    lay = TensorLayout((6, 1, 1), 1, True, (3, 3), 4)
    assert lay.slots().tolist() == [0, 1, 2, 4, 5, 6] and lay.words_per_pixel == 2
    assert split(32, 16, 32) == (16, 16) and split(64, 16, 8) == (64,)  # merged where nothing pads them apart


def test_a_view_lives_in_its_hosts_pixels():
    """A concatenation's input done in place: its words from word ``lead`` of each of the host's pixels."""
    host = TensorLayout((7, 1, 2), 1, True, (3, 4), 4)  # two words a pixel: 3 channels, then 4
    view = TensorLayout((4, 1, 2), 1, True, (4,), 4).view_in(host, 1)
    assert (view.words_per_pixel, view.pixel_words, view.words) == (1, 2, 4)
    assert view.slots().tolist() == [0, 1, 2, 3] and view.placed_slots().tolist() == [4, 5, 6, 7]
    codes = np.arange(8).reshape(4, 1, 2) + 1
    words = view.pack(codes)
    assert words.shape == (4, 4) and not words[0].any() and words[1].tolist() == [1, 3, 5, 7]
    assert view.mask().tolist() == [[False] * 4, [True] * 4] * 2
    np.testing.assert_array_equal(view.unpack(words), codes)
    cat = host.pack(np.concatenate([np.full((3, 1, 2), 9), codes]))  # the host's codes hold the view's
    np.testing.assert_array_equal(view.unpack(cat), codes)


def _t(shape, bits=8):
    return TensorInfo(tuple(shape), bits, True, 1.0)


def _attention_program(dim):
    """x -> two 1x1 convs (q and k, 3 heads' worth each) -> depthwise on k -> concat -> attention (2 heads
    of ``dim``) -> 1x1 conv"""
    half = 3 * dim
    conv = lambda name, x, y: Layer(name, "conv", [x], [y], {"kernel": [1, 1], "groups": 1})  # noqa: E731
    layers = [conv("c0", "x", "q"), conv("c1", "x", "k"),
              Layer("dw", "dwconv", ["k"], ["k2"], {}),
              Layer("cat", "concat", ["q", "k2"], ["qkv"], {}),
              Layer("att", "linear_attention", ["qkv"], ["a"], {"dim": dim}),
              conv("proj", "a", "y")]
    tensors = {"x": _t((8, 2, 2)), "q": _t((half, 2, 2)), "k": _t((half, 2, 2)), "k2": _t((half, 2, 2)),
               "qkv": _t((2 * half, 2, 2)), "a": _t((2 * dim, 2, 2)), "y": _t((8, 2, 2))}
    return Program("p", ["x"], ["y"], tensors, layers)


def test_heads_share_words_when_the_head_dimension_divides_them():
    lays = plan_layouts(_attention_program(4), 4)  # 4-channel heads, 4-lane words
    assert all(lays[t].dense for t in lays)
    lays = plan_layouts(_attention_program(4), 8)  # 12-channel q and k: the concatenation pads between them
    assert lays["q"].segments == (4, 4, 4) and lays["qkv"].segments == (4,) * 6


def test_the_attention_demand_reaches_the_convolutions_through_concat_and_depthwise():
    lays = plan_layouts(_attention_program(3), 16)  # 3-channel heads cannot share 16-lane words evenly
    for t in ("q", "k", "k2"):
        assert lays[t].segments == (3, 3, 3), t  # each head block from a word boundary
    assert lays["qkv"].segments == (3,) * 6 and lays["a"].segments == (3, 3)
    assert lays["x"].dense and lays["y"].dense


def test_layouts_the_units_cannot_serve_are_errors():
    p = Program("p", ["a", "b"], ["c"], {"a": _t((4,)), "b": _t((4,), bits=12), "c": _t((4,))},
                [Layer("add0", "add", ["a", "b"], ["c"], {})])
    with pytest.raises(FlowError, match="layer add0 .*one element width"):
        plan_layouts(p, 8)
