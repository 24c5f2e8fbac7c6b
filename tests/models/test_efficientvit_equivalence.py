"""Our Brevitas EfficientViT with quantization off equals timm's efficientvit_bN on the same weights."""

import pytest
import torch

from flow.models import EFFICIENTVIT_NAMES, QuantScheme, build_model, load_checkpoint
from flow.models.checkpoint import ours_to_mit


def _reference(timm, name, seed=0):
    torch.manual_seed(seed)
    ref = timm.create_model(name, pretrained=False).eval()
    # Non-trivial BN statistics, so a BN loaded into the wrong place cannot go unnoticed.
    for mod in ref.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.normal_(0, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
    return ref


@pytest.mark.parametrize("name", EFFICIENTVIT_NAMES)
def test_float_model_matches_timm(timm, name):
    ref = _reference(timm, name)
    ours = build_model(name, quant=QuantScheme.float_reference()).eval()
    assert load_checkpoint(ours, ref.state_dict()) == "timm"
    mit_model = build_model(name, quant=QuantScheme.float_reference()).eval()
    mit_state = {ours_to_mit(k): v for k, v in ref.state_dict().items()}
    assert load_checkpoint(mit_model, {"state_dict": mit_state}) == "mit"
    torch.manual_seed(1)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = ref(x)
        got, got_mit = ours(x), mit_model(x)
    assert expected.abs().max() > 0.1  # a real signal, not all zeros
    assert (got - expected).abs().max().item() <= 1e-4
    assert (got_mit - expected).abs().max().item() <= 1e-4


def test_float_model_matches_timm_at_other_resolution(timm):
    ref = _reference(timm, "efficientvit_b0")
    ours = build_model("efficientvit_b0", resolution=288, quant=QuantScheme.float_reference()).eval()
    load_checkpoint(ours, ref.state_dict())
    x = torch.randn(1, 3, 288, 288)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-4


@pytest.mark.parametrize("po2", [False, True])
def test_quantized_model_runs_and_differs_from_float(po2):
    torch.manual_seed(0)
    fp = build_model("efficientvit_b0", resolution=64, num_classes=10, quant=QuantScheme.float_reference()).eval()
    q = build_model("efficientvit_b0", resolution=64, num_classes=10, quant=QuantScheme(po2_scales=po2)).eval()
    load_checkpoint(q, fp.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y_fp, y_q = fp(x), q(x)
    assert y_q.shape == (2, 10) and torch.isfinite(y_q).all()
    assert not torch.equal(y_fp, y_q)  # quantizers are really in the path


def test_every_attention_tensor_is_quantized():
    from flow.models.efficientvit import LiteMLA

    model = build_model("efficientvit_b0", resolution=64, quant=QuantScheme())
    mla = next(m for m in model.modules() if isinstance(m, LiteMLA))
    for name in ("q_quant", "k_quant", "kv_quant", "ksum_quant", "num_quant", "den_quant", "att_quant", "cat_quant"):
        assert type(getattr(mla, name)).__name__ == "QuantIdentity", name
    fp = build_model("efficientvit_b0", resolution=64, quant=QuantScheme.float_reference())
    mla_fp = next(m for m in fp.modules() if isinstance(m, LiteMLA))
    assert isinstance(mla_fp.q_quant, torch.nn.Identity)
