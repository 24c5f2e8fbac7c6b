import pytest

from flow.models import DEIT_NAMES, EFFICIENTVIT_NAMES, QuantScheme, build_model, count_complexity, get_spec


@pytest.mark.parametrize("name", EFFICIENTVIT_NAMES + DEIT_NAMES)
def test_params_and_macs_match_published(name):
    spec = get_spec(name)
    cx = count_complexity(build_model(name, resolution=224, quant=QuantScheme.float_reference()))
    assert abs(cx.params / 1e6 - spec.published_params_m) / spec.published_params_m <= 0.02
    # within 2%; timm's DeiT cards give GMACs to one decimal (1.3, 4.6), and 2% of 1.3 is below that
    # figure's rounding, so a DeiT count may also differ by half its last digit (0.05 G)
    allowed = max(0.02 * spec.published_gmacs_r224, 0.05 if name in DEIT_NAMES else 0.0)
    assert abs(cx.macs / 1e9 - spec.published_gmacs_r224) <= allowed


def test_deit_tiny_exact_counts():
    """timm's parameter count, and every product: the 16x16 patch conv, per block qkv, q k^T, attn v,
    the projection and the MLP's two linears on 197 tokens, and the head."""
    cx = count_complexity(build_model("deit_tiny", quant=QuantScheme.float_reference()))
    assert cx.params == 5_717_416
    n, c = 197, 192
    block = n * c * 3 * c + 2 * n * n * c + n * c * c + 2 * n * c * 4 * c
    assert cx.macs == 3 * 16 * 16 * c * 196 + 12 * block + c * 1000
    assert cx.attention_macs == 12 * 2 * n * n * c


def test_b1_exact_counts():
    cx = count_complexity(build_model("efficientvit_b1", quant=QuantScheme.float_reference()))
    assert cx.params == 9_102_024  # timm's efficientvit_b1 has the same count
    assert cx.attention_macs > 0 and cx.conv_macs + cx.attention_macs == cx.macs


def test_macs_scale_with_resolution():
    m = build_model("efficientvit_b0", quant=QuantScheme.float_reference())
    small, large = count_complexity(m, 224), count_complexity(m, 448)
    assert 3.5 < large.macs / small.macs < 4.5
