"""Lowering a whole exported EfficientViT-B0 (32x32) and running its integer program against QONNX."""

import numpy as np
import onnx
import pytest

from flow.errors import FlowError
from flow.lower import load_program, lower_qonnx, save_program
from flow.reference.arbitrate import Arbiter
from flow.reference.compare import compare_with_qonnx, summarize


def test_every_node_is_lowered_into_known_kinds(exported_b0):
    _, path, _ = exported_b0
    program = lower_qonnx(path, name="efficientvit_b0")
    kinds = {}
    for layer in program.layers:
        kinds[layer.kind] = kinds.get(layer.kind, 0) + 1
    # B0: 4 EfficientViT blocks (stages 3 and 4, depth 2 each), one head LayerNorm and GAP
    assert kinds["linear_attention"] == 4 and kinds["concat"] == 4
    assert kinds["layernorm"] == 1 and kinds["gap"] == 1 and kinds["linear"] == 2
    assert kinds["dwconv"] > 0 and kinds["conv"] > 0 and kinds["add"] > 0 and kinds["hardswish"] > 0
    n_quant = sum(1 for n in onnx.load(str(path)).graph.node
                  if n.op_type == "Quant" and n.input[0] not in {t.name for t in onnx.load(str(path)).graph.initializer})
    n_tensors = len(program.tensors) + sum(len(l.dumps) for l in program.layers) - 4  # attention outputs alias att
    assert n_tensors == n_quant  # every activation quantizer of the graph is a program tensor or a dump
    assert program.meta["ranges"]["acc_bits_needed"] <= 32


def test_program_round_trips_through_its_files(exported_b0, tmp_path):
    _, path, _ = exported_b0
    program = lower_qonnx(path)
    save_program(program, tmp_path)
    again = load_program(tmp_path)
    assert [l.name for l in again.layers] == [l.name for l in program.layers]
    for a, b in zip(program.layers, again.layers):
        assert a.attrs == b.attrs and a.ranges == b.ranges
        assert a.blobs.keys() == b.blobs.keys()
        for k in a.blobs:
            assert a.blobs[k].dtype == b.blobs[k].dtype and np.array_equal(a.blobs[k], b.blobs[k])


def test_reference_against_qonnx(exported_b0):
    """Power-of-two scales: every tensor identical, free-running. Free scales: each layer on QONNX's
    inputs within 1 LSB (ties that float32 and exact integer arithmetic round differently). Every element
    is judged against the graph's exact arithmetic too."""
    q, path, images = exported_b0
    program = lower_qonnx(path)
    runs = compare_with_qonnx(program, path, images[:3].numpy(), modes=("free", "forced"),
                              arbiter=Arbiter(onnx.load(str(path))), judge_all=True)
    free, forced = summarize(runs["free"]), summarize(runs["forced"])
    assert free["tensors"] == 121
    judged = forced["judged"]
    assert judged["elements"] == sum(s["total"] for s in runs["forced"]["tensors"].values())
    verdicts = sum(judged[k] for k in ("integer", "qonnx", "neither", "undecided", "not_judged"))
    assert verdicts == forced["differing"]  # every differing element has a verdict
    if q.scheme.po2_scales:
        assert free["max_lsb"] == 0 and free["tensors_exact"] == 121 and free["output_max_lsb"] == 0
        assert judged["integer_off"] == 0 and free["diverging_images"] == 0
    else:
        assert forced["max_lsb"] <= 1 and forced["min_equal_fraction"] >= 0.99
        assert forced["tensors_exact"] >= 110
        # the program's requantization is exact to ~1e-7 codes: off the exact code only next to a tie, or
        # where a table rounds as QONNX's float32 does (then QONNX is off by as much)
        assert judged["integer_off"] - judged["off_as_qonnx"] <= 1e-6 * judged["elements"]
        assert free["diverging_images"] == sum(o is not None for o in runs["free"]["origins"])


def test_free_scale_check_judges_every_difference(exported_b0):
    q, path, images = exported_b0
    if q.scheme.po2_scales:
        pytest.skip("power-of-two scales must match exactly: nothing to judge")
    from flow.reference.compare import check_against_qonnx

    result = check_against_qonnx(lower_qonnx(path), path, images[:8].numpy())
    assert result["differing"] > 0  # this model has some ties on these images, so the verdicts are exercised
    judged = result["judged"]
    assert sum(judged[k] for k in ("integer", "qonnx", "neither", "undecided", "not_judged")) == result["differing"]
    assert judged["integer"] > 0


def test_one_session_execution_equals_qonnx_executor(exported_b0):
    """The lowering check runs QONNX as one onnxruntime session: every tensor it reads, program tensors
    and activation Quants alike, is identical to qonnx's node-by-node executor."""
    from flow.reference.compare import activation_quants, check_against_qonnx
    from flow.reference.ort_qonnx import OrtQonnxRunner

    _, path, images = exported_b0
    program = lower_qonnx(path)
    quants = activation_quants(path)
    runner = OrtQonnxRunner(path, list(quants) + [t for t in program.tensors if t not in quants])
    assert runner.verify(images[:2].numpy()) == 2
    assert check_against_qonnx(program, path, images[:1].numpy(), verify_executor_images=1)[
        "qonnx_executor_verified_images"] == 1
    honest = runner.run
    name = runner.outputs[len(runner.outputs) // 2]

    def one_code_off(image):
        out = honest(image)
        out[name] = out[name] + 1e-3  # one tensor slightly off: the comparison must see it
        return out

    runner.run = one_code_off
    with pytest.raises(FlowError, match=f"differs from qonnx's executor at {name}"):
        runner.verify(images[:1].numpy())


def test_a_wrong_weight_is_caught(exported_b0):
    q, path, images = exported_b0
    if not q.scheme.po2_scales:
        pytest.skip("the exact criterion applies to power-of-two scales")
    from flow.reference.compare import check_against_qonnx

    program = lower_qonnx(path)
    layer = next(l for l in program.layers if l.kind == "dwconv")
    layer.blobs["weight"] = layer.blobs["weight"].copy()
    layer.blobs["weight"].flat[0] += 1
    with pytest.raises(FlowError, match=f"layer {layer.name}\\)"):
        check_against_qonnx(program, path, images[:1].numpy())


def test_unsupported_node_is_named(exported_b0, tmp_path):
    _, path, _ = exported_b0
    model = onnx.load(str(path))
    node = next(n for n in model.graph.node if n.op_type == "Relu")
    node.op_type = "Sigmoid"
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    with pytest.raises(FlowError, match="Sigmoid"):
        lower_qonnx(bad)
