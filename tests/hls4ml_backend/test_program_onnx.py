"""The program as hls4ml's ONNX input: one vitflow node per layer carrying that layer's own memory image."""

import numpy as np
import onnx
from onnx import numpy_helper

from flow.hls.layout import pack
from flow.hls.project import HwConfig
from flow.hls4ml_backend.program_onnx import DOMAIN, OP_TYPES, program_to_onnx

from .test_extension import side_by_side


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def test_one_node_per_layer_with_its_own_descriptor_and_blobs():
    program = side_by_side(np.random.default_rng(3))
    hw = HwConfig(pe_rows=4)
    graph = program_to_onnx(program, hw)
    nodes = list(graph.model.graph.node)
    assert [n.op_type for n in nodes] == [OP_TYPES[l.kind] for l in program.layers]
    assert all(n.domain == DOMAIN for n in nodes)
    arenas = set()
    for layer, node in zip(program.layers, nodes):
        a = _attrs(node)
        alone = pack(type(program)(program.model, list(layer.inputs), list(layer.outputs),
                                   {t: program.tensors[t] for t in layer.inputs + layer.outputs}, [layer]))
        assert a["desc"] == [int(v) for v in alone.desc[0]]
        w = numpy_helper.to_array(a["weights"])
        assert np.array_equal(w[:alone.weights.size], alone.weights)
        assert np.array_equal(numpy_helper.to_array(a["params"])[:alone.params.size], alone.params)
        assert a["n_out"] == int(np.prod(program.tensors[layer.outputs[0]].shape))
        assert a["out_off"] == alone.tensors[layer.outputs[0]][0]
        assert a["arena"] >= alone.arena_size
        assert a["hw"][0] == 4
        arenas.add(a["arena"])
        assert node.name == graph.layer_names[layer.name]
    assert len(arenas) == 1  # one shared arena, the largest layer's


def test_names_are_identifiers_and_shapes_flat():
    program = side_by_side(np.random.default_rng(4))
    graph = program_to_onnx(program, HwConfig())
    for t, name in graph.tensor_names.items():
        assert name.isidentifier()
        assert graph.tensor_bits[name] == program.tensors[t].bits
    dims = [[d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in graph.model.graph.input]
    assert dims == [[1, int(np.prod(program.tensors[t].shape))] for t in program.inputs]
