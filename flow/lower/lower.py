"""Cleaned QONNX graph -> integer Program.

Walks the graph in order. The graph input must go straight into a Quant: its output is the program's
input tensor (integer codes; the host quantizes the image with that scale). Every other activation Quant
ends a pattern that one rule in flow.lower.rules recognises, picked by the op that feeds the Quant;
linear attention is matched as a whole from its Split. A node no rule accounts for is an error: the
lowering either explains the whole graph or stops.
"""

from pathlib import Path

import onnx

from flow.errors import FlowError

from .context import Lowering
from .graph import GraphView
from .program import Program
from .ranges import analyse_ranges
from .requant import MULT_BITS
from .rules.attention import lower_attention
from .rules.conv import lower_conv, lower_linear
from .rules.eltwise import lower_add, lower_concat, lower_hardswish, lower_relu
from .rules.layernorm import lower_layernorm
from .rules.pool import lower_gap
from .rules.transformer import (lower_attention_output, lower_gelu, lower_logits, lower_patch_embed,
                                lower_position_add, lower_qkv, lower_requant, lower_softmax, lower_token_linear)

DEFAULT_ACC_BITS = 32


def _op(g: GraphView, tensor: str):
    node = g.src(tensor)
    return node.op_type if node is not None else None


def _rule_for(g: GraphView, q):
    src = g.src(q.input[0])
    op = src.op_type if src is not None else None
    if op == "Mul" and _op(g, src.input[0]) == "Cast":
        cast = g.src(src.input[0])
        return lower_softmax if _op(g, cast.input[0]) == "Min" else lower_layernorm
    if op == "Add" and any(_op(g, t) == "MatMul" for t in src.input):
        return lower_token_linear
    if op == "Add" and any(_op(g, t) == "Concat" for t in src.input):
        return lower_position_add
    if op == "Reshape" and _op(g, src.input[0]) == "Transpose":
        return lower_attention_output
    rules = {"Conv": lower_conv, "Gemm": lower_linear, "Mul": lower_hardswish, "Relu": lower_relu,
             "Add": lower_add, "Concat": lower_concat, "Reshape": lower_gap, "Transpose": lower_patch_embed,
             "Squeeze": lower_qkv, "MatMul": lower_logits, "Gelu": lower_gelu, "Quant": lower_requant,
             "Gather": lower_requant}
    if op not in rules:
        raise FlowError(f"cannot lower {q.name}: no rule for a quantized {op or 'constant'} "
                        f"(supported: {', '.join(rules)}, linear attention, the integer LayerNorm and softmax)")
    return rules[op]


def lower_model(model: onnx.ModelProto, name: str = "model", acc_bits: int = DEFAULT_ACC_BITS,
                mult_bits: int = MULT_BITS) -> Program:
    g = GraphView(model)
    ctx = Lowering(g, mult_bits)
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise FlowError(f"cannot lower: the graph has {len(g.inputs)} inputs and {len(g.outputs)} outputs (need 1 and 1)")
    first = g.only_user(g.inputs[0], "Quant")
    ctx.inputs.append(ctx.add_quant_output(first))
    ctx.claimed.add(first.name)
    for node in g.nodes:
        if node.name in ctx.claimed:
            continue
        if node.op_type == "Split":
            lower_attention(ctx, node)
        elif g.is_act_quant(node):
            _rule_for(g, node)(ctx, node)
    left = [n for n in g.nodes if n.name not in ctx.claimed]
    if left:
        listed = ", ".join(f"{n.op_type} {n.name}" for n in left[:5])
        raise FlowError(f"cannot lower: {len(left)} nodes match no rule ({listed}{', ...' if len(left) > 5 else ''})")
    out = g.outputs[0]
    if g.src(out) is None or not g.is_act_quant(g.src(out)):
        raise FlowError("cannot lower: the graph output must be an activation Quant")
    program = Program(name, ctx.inputs, [ctx.tensor_of(out)], ctx.tensors, ctx.layers,
                      meta={"acc_bits": acc_bits, "mult_bits": mult_bits, "rounding": "half to even",
                            "layout": "batch dropped; C x H x W feature maps, vectors (C,), tokens (N, C), "
                                      "per head (heads, N, d)"})
    program.check()
    analyse_ranges(program, acc_bits)
    return program


def onnx_file_problem(path, exc: Exception) -> str:
    """What is wrong with a file onnx.load refused, in words."""
    try:
        size = Path(path).stat().st_size
    except OSError as err:
        return f"it cannot be opened ({err.strerror})"
    if size == 0:
        return "it is empty"
    return f"it is damaged, truncated or not ONNX (it does not parse as an ONNX model: {type(exc).__name__})"


def lower_qonnx(path: Path, name: str = "model", acc_bits: int = DEFAULT_ACC_BITS) -> Program:
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise FlowError(f"cannot read QONNX file '{path}': {onnx_file_problem(path, exc)}") from None
    return lower_model(model, name, acc_bits)
