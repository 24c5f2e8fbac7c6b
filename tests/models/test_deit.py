"""DeiT-Tiny and DeiT-Small: our Brevitas models with quantization off equal timm's (fused attention off,
so q k^T -> softmax -> attn v is explicit), timm checkpoints load key by key, the position embedding is
resampled to other resolutions the way timm's checkpoint filter does it, and the quantized model has its
quantizers in the path."""

import pytest
import torch

from flow.errors import FlowError
from flow.models import DEIT_NAMES, QuantScheme, build_model, load_checkpoint
from flow.models.checkpoint import infer_num_classes

TIMM_NAMES = {"deit_tiny": "deit_tiny_patch16_224", "deit_small": "deit_small_patch16_224"}


def _reference(timm, name, seed=0, **kwargs):
    """timm's DeiT with random weights (non-trivial LayerNorm affines), its attention unfused."""
    torch.manual_seed(seed)
    ref = timm.create_model(TIMM_NAMES[name], pretrained=False, **kwargs).eval()
    for mod in ref.modules():
        if hasattr(mod, "fused_attn"):
            mod.fused_attn = False
        if isinstance(mod, torch.nn.LayerNorm):  # timm initialises them to (1, 0): a swap would not show
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.normal_(0, 0.1)
    return ref


def _float(name, **kwargs):
    return build_model(name, quant=QuantScheme.float_reference(), **kwargs).eval()


@pytest.mark.parametrize("name", DEIT_NAMES)
def test_float_model_matches_timm(timm, name):
    ref = _reference(timm, name)
    ours = _float(name)
    assert load_checkpoint(ours, ref.state_dict()) == "timm"
    assert ours.state_dict().keys() == ref.state_dict().keys()  # the same names, key by key
    for k, v in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), k
    torch.manual_seed(1)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected, got = ref(x), ours(x)
    assert expected.abs().max() > 0.1  # a real signal
    assert (got - expected).abs().max().item() <= 1e-4


@pytest.mark.parametrize("res", [64, 96, 320])
def test_position_embedding_resampled_like_timm(timm, res):
    """A 224 checkpoint into a model at ``res``: the same position embedding (bit for bit) and outputs as
    timm's model at that size loading it through its checkpoint filter."""
    from timm.models.vision_transformer import checkpoint_filter_fn

    src = _reference(timm, "deit_tiny")
    ref = _reference(timm, "deit_tiny", seed=5, img_size=res)
    ref.load_state_dict(checkpoint_filter_fn(src.state_dict(), ref))
    ours = _float("deit_tiny", resolution=res)
    load_checkpoint(ours, src.state_dict())
    assert ours.pos_embed.shape == (1, (res // 16) ** 2 + 1, 192)
    assert torch.equal(ours.pos_embed, ref.pos_embed)
    x = torch.randn(2, 3, res, res)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-4


def test_checkpoint_problems_are_named():
    state = _float("deit_tiny", resolution=64, num_classes=10).state_dict()
    assert infer_num_classes(state) == 10
    missing = dict(state)
    del missing["blocks.3.attn.qkv.weight"]
    with pytest.raises(FlowError, match=r"1 missing keys \(blocks\.3\.attn\.qkv\.weight\)"):
        load_checkpoint(_float("deit_tiny", resolution=64, num_classes=10), missing)
    with pytest.raises(FlowError, match=r"2 wrongly-shaped keys \(head\.bias"):
        load_checkpoint(_float("deit_tiny", resolution=64, num_classes=7), state)
    with pytest.raises(FlowError, match="wrongly-shaped keys"):  # a Small checkpoint into a Tiny
        load_checkpoint(_float("deit_tiny", resolution=64), _float("deit_small", resolution=64).state_dict())
    with pytest.raises(FlowError, match="a DeiT takes timm-layout checkpoints, not mit-layout"):
        load_checkpoint(_float("deit_tiny", resolution=64, num_classes=10), state, layout="mit")
    effvit = build_model("efficientvit_b0", resolution=64, quant=QuantScheme.float_reference()).state_dict()
    with pytest.raises(FlowError, match="missing keys"):
        load_checkpoint(_float("deit_tiny", resolution=64), effvit)


@pytest.mark.parametrize("res", [0, 8, 100, 230])
def test_resolution_must_be_a_multiple_of_the_patch(res):
    with pytest.raises(FlowError, match="not a positive multiple of 16"):
        build_model("deit_tiny", resolution=res)


def test_quantized_model_has_its_quantizers_in_the_path():
    torch.manual_seed(0)
    fp = _float("deit_tiny", resolution=32, num_classes=10)
    q = build_model("deit_tiny", resolution=32, num_classes=10, quant=QuantScheme(po2_scales=True)).eval()
    load_checkpoint(q, fp.state_dict())
    names = {n.rsplit(".", 1)[-1] for n, _ in q.named_modules() if n.endswith("_quant")}
    assert {"q_quant", "k_quant", "v_quant", "logits_quant", "softmax_quant", "gelu_in_quant", "gelu_out_quant",
            "in_quant", "out_quant", "pos_quant", "embed_quant"} <= names
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y_fp, y_q = fp(x), q(x)
    assert y_q.shape == (2, 10) and torch.isfinite(y_q).all()
    assert not torch.equal(y_fp, y_q)


def test_softmax_output_codes_are_unsigned_on_scale_two_to_minus_bits():
    from flow.models.deit import softmax_quant

    quant = softmax_quant(QuantScheme(act_bits=6)).eval()
    p = torch.softmax(torch.randn(4, 50) * 3, dim=-1)
    out = quant(p)
    assert float(out.scale) == 2.0 ** -6 and int(out.bit_width) == 6 and not out.signed
    codes = out.value / out.scale
    assert torch.equal(codes, torch.clamp(torch.round(p * 64), 0, 63))


def test_softmax_is_float_when_the_quantizers_are_disabled():
    """Block reconstruction takes its float targets with quantization disabled: the logits then are not
    codes, and the integer softmax (an exp table over code differences) gives way to the float one; with
    the quantizer on, the integer path."""
    from brevitas.graph.calibrate import quantization_status_manager

    from flow.models.deit import IntSoftmax
    from flow.models.quant_layers import act_quant

    quant = act_quant(QuantScheme())
    quant.train()
    quant(torch.randn(64, 10))  # calibrated to about +-3
    quant.eval()
    sm = IntSoftmax(quant, 8)
    sm.freeze_integer()
    logits = torch.randn(4, 10) * 100  # far past the calibrated range: codes past the table
    with quantization_status_manager(quant, disable_act_quant=True, disable_weight_quant=True,
                                     disable_bias_quant=True):
        assert torch.allclose(sm(quant(logits)), logits.softmax(-1))
    y = sm(quant(logits))
    assert torch.equal(y * 256, torch.round(y * 256)) and float(y.max()) <= 255 / 256
