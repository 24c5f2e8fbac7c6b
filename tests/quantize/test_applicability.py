"""Every `quantization:` option either works on a DeiT or says why it does not apply: the EfficientViT-only
ones are refused before any work, naming the option and the reason; the generic ones (GPTQ, block
reconstruction over the DeiT's blocks, distillation, mixed precision; the value-aware two scales in
tests/lower/test_lower_deit.py) quantize a DeiT whose integer program
still matches QONNX exactly (power-of-two scales)."""

import pytest
import torch

from flow.errors import FlowError
from flow.models import DeiTSpec, QuantScheme, build_model
from flow.models.zoo import build_from_spec
from flow.quantize import make_quant_config, quantize_model
from flow.quantize.applicability import NOT_FOR_DEIT, check_applicable
from flow.quantize.reconstruct import block_units

SPEC = DeiTSpec("deit_test", embed_dim=128, depth=2, heads=2)


def _deit():
    torch.manual_seed(0)
    return build_from_spec(SPEC, num_classes=10, resolution=32, quant=QuantScheme.float_reference()).eval()


@pytest.mark.parametrize("option", sorted(NOT_FOR_DEIT))
def test_efficientvit_only_options_are_refused_with_their_reason(option):
    qcfg = make_quant_config({option: True})
    with pytest.raises(FlowError, match=f"quantization option {option} does not apply to deit_test: "):
        quantize_model(_deit(), torch.zeros(2, 3, 32, 32), qcfg)


def test_efficientvit_takes_every_option():
    model = build_model("efficientvit_b0", resolution=32, quant=QuantScheme.float_reference())
    check_applicable(model, {option: True for option in NOT_FOR_DEIT})


def test_token_bits_is_refused_on_efficientvit():
    """token_bits sets a DeiT's token stream; an EfficientViT has none of those quantizers."""
    model = build_model("efficientvit_b0", resolution=32, quant=QuantScheme.float_reference())
    with pytest.raises(FlowError, match="quantization option token_bits does not apply to efficientvit_b0: "):
        quantize_model(model, torch.zeros(2, 3, 32, 32), make_quant_config({"token_bits": 8}))


def test_block_units_of_a_deit():
    assert block_units(_deit()) == ["patch_embed", "blocks.0", "blocks.1", "head"]


def test_generic_options_quantize_a_deit_that_lowers_exactly(tmp_path):
    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.lower import lower_qonnx
    from flow.reference.compare import check_against_qonnx

    images = load_fashion_mnist("test", 32, count=16)[0]
    qcfg = make_quant_config({"calib_images": 16, "po2_scales": True, "gptq": True, "block_reconstruction": True,
                              "reconstruction_steps": 2, "qat_steps": 2, "mixed_precision": True,
                              "interval_search": True})
    q = quantize_model(_deit(), images, qcfg)
    path = export_clean_qonnx(q, tmp_path)
    result = check_against_qonnx(lower_qonnx(path), path, images[:2].numpy())
    assert result["tensors_exact"] == result["tensors"]


def test_distillation_refreezes_the_integer_softmax_on_the_trained_scales(monkeypatch):
    """Distillation trains the activation scales: the softmax (like the LayerNorms) runs in float while it
    trains (its exp table belongs to the calibrated logits scale: a trained scale moves the codes past the
    table's end) and is frozen again from the final logits scale."""
    from flow.data import load_fashion_mnist
    from flow.models.deit import IntSoftmax

    seen = []
    forward = IntSoftmax.forward
    monkeypatch.setattr(IntSoftmax, "forward", lambda self, x, *rest: seen.append((torch.is_grad_enabled(), self.integer))
                        or forward(self, x, *rest))
    images = load_fashion_mnist("test", 32, count=16)[0]
    qcfg = make_quant_config({"calib_images": 16, "qat_steps": 3, "act_bits": 6})
    q = quantize_model(_deit(), images, qcfg)
    assert {integer for training, integer in seen if training} == {False}
    for m in q.modules():
        if isinstance(m, IntSoftmax):
            assert m.integer and float(m.in_scale) == float(m.logits_quant.act_quant.scale().reshape(()))


def test_interval_search_ranks_a_deits_softmax_map():
    """Liu's ranking-aware search on a DeiT: q, k, v, the logits and the attention output of every block
    searched against the softmax map, and the integer softmax's table refrozen on the chosen logits scale."""
    from flow.data import load_fashion_mnist
    from flow.models.deit import IntSoftmax
    from flow.quantize.interval_search import SOFTMAX_QUANTIZERS, search_attention_intervals

    images = load_fashion_mnist("test", 32, count=8)[0]
    q = quantize_model(_deit(), images, make_quant_config({"calib_images": 8, "act_bits": 6, "weight_bits": 6}))
    chosen = search_attention_intervals(q, _deit(), images, 8)
    assert set(chosen) == {f"blocks.{i}.attn.{n}" for i in range(2) for n in SOFTMAX_QUANTIZERS}
    for m in q.modules():
        if isinstance(m, IntSoftmax):
            assert m.integer and float(m.in_scale) == float(m.logits_quant.act_quant.scale().reshape(()))
