"""The integer program as an ONNX graph for hls4ml's ONNX frontend.

One node per program layer, in the ``vitflow`` domain, op type from OP_TYPES. Each node carries what the
engine needs for that layer alone: the descriptor flow.hls.layout packs for a one-layer program (so its
activation offsets are layer-local), the layer's weight bytes and parameter words, and the arena geometry
(input/output offsets, element counts, bit widths; the arena, shared by all layers, is the largest
layer's). Tensors are flat (batch x elements) in the program's C x H x W order, and renamed t0, t1, ...
(hls4ml's names must be C identifiers); ProgramGraph's tensor_names and layer_names map them back.
"""

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from flow.hls.layout import pack
from flow.hls.project import HwConfig
from flow.lower.program import Program

DOMAIN = "vitflow"
OP_TYPES = {"conv": "VitflowConv", "dwconv": "VitflowDwConv", "linear": "VitflowLinear",
            "hardswish": "VitflowHardswish", "relu": "VitflowRelu", "add": "VitflowAdd", "concat": "VitflowConcat",
            "gap": "VitflowGap", "layernorm": "VitflowLayerNorm", "linear_attention": "VitflowLinearAttention"}


@dataclass
class ProgramGraph:
    model: onnx.ModelProto
    tensor_names: dict   # program tensor -> ONNX/hls4ml tensor name
    layer_names: dict    # program layer -> hls4ml layer name
    tensor_bits: dict    # ONNX/hls4ml tensor name -> code bits


def _single_layer(program: Program, layer) -> Program:
    names = list(dict.fromkeys(layer.inputs + layer.outputs))
    return Program(program.model, list(dict.fromkeys(layer.inputs)), list(layer.outputs),
                   {n: program.tensors[n] for n in names}, [layer])


def _count(program: Program, tensor: str) -> int:
    return int(np.prod(program.tensors[tensor].shape))


def program_to_onnx(program: Program, hw: HwConfig) -> ProgramGraph:
    """The ONNX graph of ``program``; every node also carries the engines' parallelism ``hw`` (HwConfig order)."""
    tnames = {t: f"t{i}" for i, t in enumerate(program.tensors)}
    lnames = {l.name: f"l{i}_{l.kind}" for i, l in enumerate(program.layers)}
    images = [pack(_single_layer(program, layer)) for layer in program.layers]
    arena = max((image.arena_size for image in images), default=0)  # one arena, shared by all layers
    nodes = []
    for layer, image in zip(program.layers, images):
        off = {t: image.tensors[t][0] for t in image.tensors}
        ins, out = layer.inputs, program.tensors[layer.outputs[0]]
        weights = image.weights if image.weights.size else np.zeros(1, np.int8)
        params = image.params if image.params.size else np.zeros(1, np.int32)
        nodes.append(helper.make_node(
            OP_TYPES[layer.kind], [tnames[t] for t in ins], [tnames[layer.outputs[0]]], name=lnames[layer.name],
            domain=DOMAIN, desc=[int(v) for v in image.desc[0]],
            weights=numpy_helper.from_array(weights.astype(np.int8), "weights"),
            params=numpy_helper.from_array(params.astype(np.int32), "params"),
            n_in=[_count(program, t) for t in ins], in_off=[off[t] for t in ins],
            n_out=_count(program, layer.outputs[0]), out_off=off[layer.outputs[0]], arena=arena,
            out_bits=out.bits, out_signed=int(out.signed), hw=[int(v) for v in hw.__dict__.values()]))

    def value_info(t):
        return helper.make_tensor_value_info(tnames[t], TensorProto.FLOAT, [1, _count(program, t)])

    graph = helper.make_graph(nodes, program.model, [value_info(t) for t in program.inputs],
                              [value_info(t) for t in program.outputs],
                              value_info=[value_info(t) for t in program.tensors
                                          if t not in program.inputs and t not in program.outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)],
                              producer_name="vitflow")
    return ProgramGraph(model, tnames, lnames, {tnames[t]: info.bits for t, info in program.tensors.items()})
