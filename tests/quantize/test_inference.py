import pytest
import torch

from flow.data import load_fashion_mnist
from flow.models import QuantScheme, build_model
from flow.models.efficientvit import HardSwish
from flow.quantize import make_quant_config, quantize_model
from flow.quantize.inference import fast_quant_inference, in_place_handlers

RES = 32
QUANTIZERS_B0 = 122  # activation quantization points of B0 (tests/quantize/test_quantize.py)


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    fp = build_model("efficientvit_b0", resolution=RES, num_classes=10, quant=QuantScheme.float_reference()).eval()
    return fp, load_fashion_mnist("test", RES, count=48, seed=0)[0]


@pytest.mark.parametrize("options", [
    {},  # symmetric, per-tensor: the zero point add and subtract are skipped
    {"filter_shift": True, "outlier_two_scale": True},  # per-channel zero points; per-channel scales
    {"value_two_scale": True, "po2_scales": True},  # two-scale quantizers (two Quant proxies each)
], ids=["symmetric", "zero-points", "two-scale"])
def test_same_outputs_as_brevitas(data, options):
    fp, images = data
    q = quantize_model(fp, images[:16], make_quant_config({"calib_images": 16, **options}, weight_bits=6, act_bits=6))
    with torch.no_grad():
        plain = q(images)
        with fast_quant_inference(q):
            q(images[:2])  # the first pass caches scales and zero points and installs the handlers
            fast = q(images)
            handlers = in_place_handlers(q)
            assert len(handlers) >= QUANTIZERS_B0
            swishes = [m for m in q.modules() if isinstance(m, HardSwish)]
            assert swishes and all(m.in_place for m in swishes)
            shifted = [h for h in handlers if not h.zero_free]
        after = q(images)
    assert not any(m.in_place for m in swishes)
    assert torch.equal(fast, plain)  # the same floats, not close ones
    assert torch.equal(after, plain)  # leaving the mode restores Brevitas' own forward
    assert bool(shifted) == ("filter_shift" in options)
