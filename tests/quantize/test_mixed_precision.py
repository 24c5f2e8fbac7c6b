"""Mixed precision by nuclear-norm sensitivity (Liu et al.): the choice, the budget, and the round trip."""

import torch

from flow.data import load_fashion_mnist
from flow.models import QuantScheme, build_model
from flow.quantize import make_quant_config, quantize_model
from flow.quantize.mixed_precision import choose_bits, nuclear_norms
from flow.quantize.weight_quant import weight_bits_by_layer
from flow.quantize.saved import load_quantized, save_quantized


def test_sensitive_layers_get_the_bits_within_the_budget():
    # a: very sensitive per parameter, b: moderately, c: insensitive and as large as a and b together
    sens, params = {"a": 100.0, "b": 10.0, "c": 1.0}, {"a": 10, "b": 10, "c": 20}
    bits = choose_bits(sens, params, weight_bits=6)
    # start 4/4/4 (160 bits), budget 6 x 40 = 240: a to 8 (+40), b to 8 (+40), nothing left for c
    assert bits == {"a": 8, "b": 8, "c": 4}
    assert sum(bits[n] * params[n] for n in params) <= 6 * sum(params.values())


def test_no_layer_above_the_int8_weight_buffer():
    bits = choose_bits({"a": 5.0, "b": 1.0}, {"a": 1, "b": 1000}, weight_bits=8)
    assert max(bits.values()) <= 8 and bits["a"] == 8


def test_nuclear_norm_is_the_sum_of_singular_values():
    lin = torch.nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[2.0, 0, 0], [0, 0, 3.0]]))
    model = torch.nn.Sequential(lin)
    x = torch.eye(3)
    # outputs rows: e_i W^T -> matrix [[2, 0], [0, 0], [0, 3]], singular values 3 and 2
    assert abs(nuclear_norms(model, ["0"], x, batch_size=3)["0"] - 5.0) < 1e-5


def test_mixed_precision_model_saves_and_reloads_bit_for_bit(tmp_path):
    torch.manual_seed(0)
    fp = build_model("efficientvit_b0", resolution=32, num_classes=10, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("train", 32, count=16)[0]
    q = quantize_model(fp, images, make_quant_config({"mixed_precision": True, "calib_images": 16}, weight_bits=6))
    bits = weight_bits_by_layer(q)
    assert set(bits.values()) - {6} and max(bits.values()) <= 8  # mixed
    params = {n: m.weight.numel() for n, m in q.named_modules() if n in bits}
    assert sum(bits[n] * params[n] for n in bits) <= 6 * sum(params.values())
    save_quantized(q, tmp_path / "q.pt")
    again = load_quantized(tmp_path / "q.pt")
    assert weight_bits_by_layer(again) == bits
    with torch.no_grad():
        assert torch.equal(q(images[:4]), again(images[:4]))
