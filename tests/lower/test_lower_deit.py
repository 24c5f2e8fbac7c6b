"""Lowering a two-block DeiT (tests/conftest.py's exported_deit) and running its integer program against
QONNX execution: power-of-two scales every tensor identical free-running, free scales within 1 LSB per
tensor teacher-forced (the EfficientViT standard); the onnxruntime session checked against qonnx's
executor on one image; and the program's files round-trip."""

import numpy as np
import onnx

from flow.lower import load_program, lower_qonnx, save_program
from flow.reference.compare import check_against_qonnx

from ..models.deit_cases import quantized_deit


def test_every_deit_node_is_lowered(exported_deit):
    _, path, _ = exported_deit
    program = lower_qonnx(path, name="deit")
    kinds = {}
    for layer in program.layers:
        kinds[layer.kind] = kinds.get(layer.kind, 0) + 1
    # per block: qkv, proj, fc1, fc2 (linear), q k^T and attn v (matmul), softmax, GELU, two adds, two
    # LayerNorms after a requantization each; plus the patch conv, the position add, the final LayerNorm on
    # the class token (a requant of token 0) and the head
    assert kinds == {"conv": 1, "add_const": 1, "linear": 2 * 4 + 1, "matmul": 2 * 2, "softmax": 2, "gelu": 2,
                     "add": 2 * 2, "requant": 2 * 2 + 1, "layernorm": 2 * 2 + 1}
    graph = onnx.load(str(path)).graph
    consts = {t.name for t in graph.initializer}
    n_quant = sum(1 for n in graph.node if n.op_type == "Quant" and n.input[0] not in consts)
    assert len(program.tensors) == n_quant  # every activation quantizer is a program tensor
    qkv = next(l for l in program.layers if l.attrs.get("split"))
    assert [program.tensors[t].shape for t in qkv.outputs] == [(2, 5, 64)] * 3
    assert program.meta["ranges"]["acc_bits_needed"] <= 32


def test_deit_program_matches_qonnx(exported_deit):
    q, path, images = exported_deit
    program = lower_qonnx(path)
    result = check_against_qonnx(program, path, images[:4].numpy(), verify_executor_images=1)
    assert result["tensors"] == len(program.tensors) - 1  # all but the input
    if q.scheme.po2_scales:
        assert result["tensors_exact"] == result["tensors"] and result["output_max_lsb"] == 0
    else:
        assert result["max_lsb"] <= 1 and result["min_equal_fraction"] >= 0.999
    assert result["top1_agree"] == 4


def test_deit_program_round_trips(exported_deit, tmp_path):
    _, path, _ = exported_deit
    program = lower_qonnx(path)
    save_program(program, tmp_path)
    again = load_program(tmp_path)
    for a, b in zip(program.layers, again.layers):
        assert a.kind == b.kind and a.attrs == b.attrs and a.blobs.keys() == b.blobs.keys()
        assert all(np.array_equal(a.blobs[k], b.blobs[k]) for k in a.blobs)


def test_deit_two_scales_lower_exactly(tmp_path):
    """TSPTQ's value-aware two scales on a DeiT's GELU and softmax outputs (W6A6, power-of-two scales): the
    GELU table's entries are the fine-scale integers (wider than 6 bits: coarse codes shifted up); the
    softmax rounds to its fine scale, then the codes above the fine range to the coarse one, unsigned
    integers of 8 bits at most; the integer program equals QONNX execution on every tensor."""
    from flow.models.two_scale_quant import TwoScaleQuant

    q, path, images = quantized_deit(tmp_path, images=8, po2_scales=True, value_two_scale=True, act_bits=6,
                                     weight_bits=6)
    assert isinstance(q.blocks[0].mlp.gelu_out_quant, TwoScaleQuant)
    sm = q.blocks[0].attn.softmax_quant
    assert isinstance(sm, TwoScaleQuant) and sm.fitted and sm.value_bits <= 8
    program = lower_qonnx(path)
    gelu = next(l for l in program.layers if l.kind == "gelu")
    assert program.tensors[gelu.outputs[0]].bits > 6
    softmax = next(l for l in program.layers if l.kind == "softmax")
    out = program.tensors[softmax.outputs[0]]
    assert softmax.attrs["two_shift"] == sm.coarse_shift and not out.signed and out.bits <= 8
    result = check_against_qonnx(program, path, images[:4].numpy(), verify_executor_images=1)
    assert result["tensors_exact"] == result["tensors"] and result["output_max_lsb"] == 0


def test_an_eight_bit_token_stream_lowers_exactly(tmp_path):
    """W6A6 with token_bits=8: the embedding, the residual sums and the LayerNorms' input requantizations
    are 8-bit tensors, the LayerNorm, GELU, softmax, product and linear outputs (the matmul operands) 6-bit,
    and the integer program equals QONNX execution on every tensor."""
    _, path, images = quantized_deit(tmp_path, images=8, po2_scales=True, act_bits=6, weight_bits=6, token_bits=8)
    program = lower_qonnx(path)
    bits = {}
    for layer in program.layers:
        bits.setdefault(layer.kind, set()).add(program.tensors[layer.outputs[0]].bits)
    assert bits["add"] == bits["add_const"] == bits["requant"] == {8}
    assert bits["layernorm"] == bits["linear"] == bits["matmul"] == bits["softmax"] == bits["gelu"] == {6}
    result = check_against_qonnx(program, path, images[:4].numpy(), verify_executor_images=1)
    assert result["tensors_exact"] == result["tensors"] and result["output_max_lsb"] == 0
