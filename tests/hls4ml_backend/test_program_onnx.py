"""The program as hls4ml's ONNX input: one vitflow node per layer carrying that layer's own machine image."""

import numpy as np
import onnx
from onnx import numpy_helper

from flow.hls.layout import DESC_WORDS, FIELDS, KINDS, field_index
from flow.hls.project import HwConfig
from flow.hls.streams import pack_stream, stream_words
from flow.hls.tensor_layout import plan_layouts
from flow.hls4ml_backend.program_onnx import DOMAIN, OP_TYPES, program_to_onnx, single_layer

from .test_extension import side_by_side


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def test_one_node_per_layer_with_its_own_descriptor_stream_and_slots():
    program = side_by_side(np.random.default_rng(3))
    hw = HwConfig(lanes=16, pe_rows=4)
    graph = program_to_onnx(program, hw)
    nodes = list(graph.model.graph.node)
    assert [n.op_type for n in nodes] == [OP_TYPES[l.kind] for l in program.layers]
    assert all(n.domain == DOMAIN for n in nodes)
    for layer, node in zip(program.layers, nodes):
        a = _attrs(node)
        assert len(a["desc"]) == DESC_WORDS and a["desc"][0] == KINDS.index(layer.kind)
        lays = plan_layouts(single_layer(program, layer), 16)
        stream = numpy_helper.to_array(a["weights"]).view(np.uint8)
        if stream_words(layer, lays, 16):
            assert np.array_equal(stream, pack_stream(layer, lays, 16).reshape(-1))
            assert a["n_words"] == stream_words(layer, lays, 16)
        out = lays[layer.outputs[0]]
        assert a["c_out"] == out.channels and a["cw_out"] == out.words_per_pixel and a["eb_out"] == out.eb
        slots = numpy_helper.to_array(a["slots"])
        assert np.array_equal(slots[-out.channels:], out.slots())
        assert a["n_out"] == int(np.prod(program.tensors[layer.outputs[0]].shape))
        group = "conv" if layer.kind in ("conv", "dwconv", "linear") else None
        if group:
            assert a["desc"][field_index(group, "TILES")] == out.words_per_pixel
        assert a["hw"][0] == 16 and a["act_words"] > 0
        assert node.name == graph.layer_names[layer.name]
    assert set(FIELDS)  # the layout module is the single source of the descriptor format


def test_names_are_identifiers_and_shapes_flat():
    program = side_by_side(np.random.default_rng(4))
    graph = program_to_onnx(program, HwConfig())
    for t, name in graph.tensor_names.items():
        assert name.isidentifier()
        assert graph.tensor_bits[name] == program.tensors[t].bits
    dims = [[d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in graph.model.graph.input]
    assert dims == [[1, int(np.prod(program.tensors[t].shape))] for t in program.inputs]
