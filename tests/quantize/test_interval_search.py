"""Liu et al.'s ranking-aware interval search: the ranking loss worked out by hand, and a case built to
need the search: 4-bit attention activations, one of whose intervals an outlier has made twice too wide
(at 8 bits min-max intervals are close enough that the search changes the objective by ~1e-4)."""

import torch

from flow.data import load_fashion_mnist
from flow.models import QuantScheme, build_model
from flow.quantize import folded_float_model, make_quant_config, quantize_model
from flow.quantize.interval_search import (_run, _threshold, attention_map, ranking_loss,
                                           search_attention_intervals)


def test_ranking_loss_by_hand():
    pairs = torch.tensor([[0, 1], [1, 2]])
    ref = torch.tensor([[0.5, 0.3, 0.2]])
    assert ranking_loss(ref.clone(), ref, pairs).item() == 0.0  # same order: no loss
    quant = torch.tensor([[0.3, 0.5, 0.2]])  # keys 0 and 1 swapped: pair (0,1) costs 0.2, pair (1,2) is kept
    assert abs(ranking_loss(quant, ref, pairs).item() - 0.2 / 2) < 1e-7
    assert abs(ranking_loss(ref.clone(), ref, pairs, margin=0.1).item() - (0.0 + 0.0) / 2) < 1e-7


def test_attention_map_rows_sum_to_one():
    q, k = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 5, 4)
    a = attention_map(q, k)
    assert a.shape == (2, 3, 5, 5) and torch.allclose(a.sum(-1), torch.ones(2, 3, 5))


def test_search_narrows_an_interval_an_outlier_widened():
    torch.manual_seed(0)
    fp = build_model("efficientvit_b0", num_classes=10, resolution=64, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("train", 64, count=16)[0]
    model = quantize_model(fp, images, make_quant_config({"calib_images": 16, "bias_correction": False, "act_calibrator": "minmax", "act_bits": 4}))
    name = "stages.3.blocks.1.context_module.main"
    mla, fmla = model.get_submodule(name), folded_float_model(fp).get_submodule(name)
    with torch.no_grad():
        _threshold(mla.att_quant).mul_(2.0)  # as if one outlier had doubled the calibrated range
    x = []
    hook = mla.register_forward_pre_hook(lambda m, a: x.append(a[0]))
    with torch.no_grad():
        model(images)
    hook.remove()
    y_f, _ = _run(fmla, x[0].value)

    def cos():
        y_q, _ = _run(mla, x[0])
        return torch.nn.functional.cosine_similarity(y_q.flatten(1), y_f.flatten(1)).mean().item()

    before = cos()
    chosen = search_attention_intervals(model, folded_float_model(fp), images, 16)
    assert chosen[f"{name}.att_quant"] <= 0.6  # the doubled interval is brought back (x 0.5..0.6)
    assert cos() > before
    assert len(chosen) == 8 * 4  # every quantizer of the 4 LiteMLA modules of B0


def test_power_of_two_quantizers_are_searched_on_their_grid():
    from flow.quantize.interval_search import _is_po2, _set_factor

    m = build_model("efficientvit_b0", num_classes=10, resolution=32,
                    quant=QuantScheme(enabled=True, log2_divisor=True))
    mla = m.get_submodule("stages.2.blocks.1.context_module.main")
    assert not _is_po2(mla.q_quant) and _is_po2(mla.att_quant)  # the log2 divisor's quantizers are po2
    base = _threshold(mla.att_quant).detach().clone()
    _set_factor(mla, "att_quant", base, 0.5, True)
    assert torch.allclose(_threshold(mla.att_quant), base - 1)  # log2 of the threshold, one octave down
