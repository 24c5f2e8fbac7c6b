"""The integer program as an ONNX graph for hls4ml's ONNX frontend.

One node per program layer, in the ``vitflow`` domain, op type from OP_TYPES. Each node carries what the
engine needs for that layer alone, as flow.hls packs a one-layer program: its descriptor (addresses in
the layer's own activation memory), its weight stream, each tensor's geometry in the word layout and the
slots of its channels, and the accelerator configuration. Tensors are flat (batch x elements) in the
program's C x H x W order, and renamed t0, t1, ... (hls4ml's names must be C identifiers); ProgramGraph's
tensor_names and layer_names map them back.
"""

from dataclasses import asdict, dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from flow.hls.layout import encode
from flow.hls.memory_plan import plan_memory
from flow.hls.project import HwConfig
from flow.hls.streams import pack_stream
from flow.lower.program import Program

DOMAIN = "vitflow"
OP_TYPES = {"conv": "VitflowConv", "dwconv": "VitflowDwConv", "linear": "VitflowLinear",
            "hardswish": "VitflowHardswish", "relu": "VitflowRelu", "add": "VitflowAdd", "concat": "VitflowConcat",
            "gap": "VitflowGap", "layernorm": "VitflowLayerNorm", "linear_attention": "VitflowLinearAttention"}
UNBOUNDED = 1 << 40


@dataclass
class ProgramGraph:
    model: onnx.ModelProto
    tensor_names: dict   # program tensor -> ONNX/hls4ml tensor name
    layer_names: dict    # program layer -> hls4ml layer name
    tensor_bits: dict    # ONNX/hls4ml tensor name -> code bits


def single_layer(program: Program, layer) -> Program:
    names = list(dict.fromkeys(layer.inputs + layer.outputs))
    return Program(program.model, list(dict.fromkeys(layer.inputs)), list(layer.outputs),
                   {n: program.tensors[n] for n in names}, [layer], program.meta)


def _count(program: Program, tensor: str) -> int:
    return int(np.prod(program.tensors[tensor].shape))


def layer_image(program: Program, layer, hw: HwConfig) -> dict:
    """The layer alone on the accelerator: its compute descriptor, stream, memory size and tensor geometry."""
    alone = single_layer(program, layer)
    plan = plan_memory(alone, hw.lanes, UNBOUNDED, hw.beat_bytes, hw.tile_words)
    op = next(op for op in plan.ops if op.kind == layer.kind)
    stream = pack_stream(layer, plan.layouts, hw.lanes, plan.tile_words)
    geo = {}
    for role, t in list(zip(("in0", "in1"), layer.inputs)) + [("out", layer.outputs[0])]:
        lay = plan.layouts[t]
        geo[role] = {"c": lay.channels, "p": lay.pixels, "cw": lay.words_per_pixel, "eb": lay.eb,
                     "off": plan.onchip[t][0], "slots": lay.slots(), "signed": int(lay.signed)}
    return {"desc": encode(op.kind, op.fields), "stream": stream, "act_words": plan.act_words, "geometry": geo}


def program_to_onnx(program: Program, hw: HwConfig) -> ProgramGraph:
    """The ONNX graph of ``program``; every node also carries the accelerator configuration ``hw``."""
    tnames = {t: f"t{i}" for i, t in enumerate(program.tensors)}
    lnames = {l.name: f"l{i}_{l.kind}" for i, l in enumerate(program.layers)}
    nodes = []
    for layer in program.layers:
        img = layer_image(program, layer, hw)
        geo = img["geometry"]
        in1 = geo.get("in1", {"c": 0, "p": 1, "cw": 1, "eb": 1, "off": 0, "slots": np.zeros(0, np.int64)})
        slots = np.concatenate([geo["in0"]["slots"], in1["slots"], geo["out"]["slots"]]).astype(np.int32)
        stream = img["stream"] if img["stream"].size else np.zeros((1, hw.lanes), np.uint8)
        out = program.tensors[layer.outputs[0]]
        attrs = {f"{k}_{r}": int(geo_r[k]) for r, geo_r in (("in0", geo["in0"]), ("in1", in1), ("out", geo["out"]))
                 for k in ("c", "p", "cw", "eb", "off")}
        nodes.append(helper.make_node(
            OP_TYPES[layer.kind], [tnames[t] for t in layer.inputs], [tnames[layer.outputs[0]]], name=lnames[layer.name],
            domain=DOMAIN, desc=[int(v) for v in img["desc"]],
            weights=numpy_helper.from_array(stream.reshape(-1).view(np.int8), "weights"),
            slots=numpy_helper.from_array(slots, "slots"), n_words=len(img["stream"]), act_words=img["act_words"],
            n_in=[_count(program, t) for t in layer.inputs], n_out=_count(program, layer.outputs[0]),
            out_bits=out.bits, out_signed=int(out.signed), hw=[int(v) for v in asdict(hw).values()], **attrs))

    def value_info(t):
        return helper.make_tensor_value_info(tnames[t], TensorProto.FLOAT, [1, _count(program, t)])

    graph = helper.make_graph(nodes, program.model, [value_info(t) for t in program.inputs],
                              [value_info(t) for t in program.outputs],
                              value_info=[value_info(t) for t in program.tensors
                                          if t not in program.inputs and t not in program.outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)],
                              producer_name="vitflow")
    return ProgramGraph(model, tnames, lnames, {tnames[t]: info.bits for t, info in program.tensors.items()})
