"""Q-HyViT's per-layer scheme/granularity search: on 4-bit activations, where the post-Hardswish tensors'
one-sided range makes the choice matter, the search lowers the output error, its choices are what the
model holds, and a saved model comes back with the same choices and the same outputs."""

import torch

from flow.data import load_fashion_mnist
from flow.models import QuantScheme, build_model
from flow.quantize import folded_float_model, make_quant_config, quantize_model
from flow.quantize.saved import load_quantized, save_quantized
from flow.quantize.scheme_search import (apply_scheme_choices, is_asymmetric, post_act_positions, scheme_choices,
                                         search_schemes)


def _float_b0():
    torch.manual_seed(0)
    return build_model("efficientvit_b0", resolution=32, num_classes=10, quant=QuantScheme.float_reference()).eval()


def test_search_lowers_output_error_and_survives_save_and_load(tmp_path):
    fp = _float_b0()
    images = load_fashion_mnist("test", 32, count=8)[0]
    q = quantize_model(fp, images, make_quant_config({"act_bits": 4, "calib_images": 8, "bias_correction": False,
                                                      "asym_post_act": True}))
    positions = post_act_positions(q)
    assert len(positions) == 11 and all(is_asymmetric(p.out_quant) for p in positions.values())
    result = search_schemes(q, folded_float_model(fp), images, batch_size=8)
    before, after = result["error"]
    assert after < before
    assert set(result["post_act"]) == set(positions) and len(result["weights"]) == 52
    choices = scheme_choices(q)
    assert choices["asymmetric_post_act"] == sorted(n for n, c in result["post_act"].items() if c == "asym")
    assert choices["per_tensor_weights"] == sorted(n for n, c in result["weights"].items() if c == "tensor")
    save_quantized(q, tmp_path / "q.pt")
    back = load_quantized(tmp_path / "q.pt")
    assert scheme_choices(back) == choices
    with torch.no_grad():
        assert torch.equal(back(images), q(images))


def test_choices_apply_to_a_fresh_model():
    m = build_model("efficientvit_b0", resolution=32, num_classes=10, quant=QuantScheme(asym_post_act=True))
    names = sorted(post_act_positions(m))
    apply_scheme_choices(m, {"asymmetric_post_act": names[:2], "per_tensor_weights": ["head.classifier.0"]})
    assert scheme_choices(m) == {"asymmetric_post_act": names[:2], "per_tensor_weights": ["head.classifier.0"]}
    try:
        apply_scheme_choices(m, {"per_tensor_weights": ["nowhere"]})
    except ValueError as exc:
        assert "nowhere" in str(exc)
    else:
        raise AssertionError("an unknown layer was accepted")
