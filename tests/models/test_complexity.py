import pytest

from flow.models import MODEL_NAMES, QuantScheme, build_model, count_complexity, get_spec


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_params_and_macs_match_published(name):
    spec = get_spec(name)
    cx = count_complexity(build_model(name, resolution=224, quant=QuantScheme.float_reference()))
    assert abs(cx.params / 1e6 - spec.published_params_m) / spec.published_params_m <= 0.02
    assert abs(cx.macs / 1e9 - spec.published_gmacs_r224) / spec.published_gmacs_r224 <= 0.02


def test_b1_exact_counts():
    cx = count_complexity(build_model("efficientvit_b1", quant=QuantScheme.float_reference()))
    assert cx.params == 9_102_024  # timm's efficientvit_b1 has the same count
    assert cx.attention_macs > 0 and cx.conv_macs + cx.attention_macs == cx.macs


def test_macs_scale_with_resolution():
    m = build_model("efficientvit_b0", quant=QuantScheme.float_reference())
    small, large = count_complexity(m, 224), count_complexity(m, 448)
    assert 3.5 < large.macs / small.macs < 4.5
