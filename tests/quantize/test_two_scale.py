"""Fitting TSPTQ-ViT's two-scale quantizers after calibration: the searches, on tensors built to need them."""

import torch
from brevitas.graph.calibrate import calibration_mode

from flow.data import load_fashion_mnist
from flow.models import QuantScheme, build_model
from flow.models.quant_layers import act_quant
from flow.models.two_scale_quant import ChannelTwoScaleQuant, TwoScaleQuant, quantize_two_scale
from flow.quantize import make_quant_config, quantize_model
from flow.quantize.saved import load_quantized, save_quantized
from flow.quantize.two_scale import search_channel_two_scale, search_two_scale

from ..models.two_scale_cases import ln_input, long_tail


def test_two_scales_beat_brevitas_mse_calibration_on_along_tail():
    """At 6 bits the fitted two scales quarter the MSE of Brevitas' MSE-calibrated uniform quantizer, and on
    the dense values (|y| < 1) they cut it tenfold: the tail costs the fine codes nothing."""
    y = long_tail()
    uniform = act_quant(QuantScheme(act_bits=6, act_calibrator="mse"))
    with torch.no_grad(), calibration_mode(uniform):
        uniform(y)
    uniform.eval()
    s, k, _ = search_two_scale(y.reshape(-1), 6, po2=False)
    with torch.no_grad():
        err_u = (uniform(y).value - y) ** 2
    err_2 = (quantize_two_scale(y, torch.tensor(s), k, 6) - y) ** 2
    dense = y.abs() < 1
    assert float(err_2.mean()) < 0.25 * float(err_u.mean())
    assert float(err_2[dense].mean()) < 0.1 * float(err_u[dense].mean())


def test_power_of_two_search_gives_power_of_two_scales():
    s, k, _ = search_two_scale(long_tail().reshape(-1)[:20000], 8, po2=True)
    assert s == 2.0 ** round(torch.log2(torch.tensor(s)).item()) and k >= 1



def test_outlier_search_finds_the_outlier_channels():
    """The 4 outlier channels, and only they, get the coarse scale; the normal channels' error falls well
    below that of one MSE-calibrated scale for the whole tensor."""
    x = ln_input()
    s, shifts, _ = search_channel_two_scale(x, 8, po2=False)
    assert sorted(torch.nonzero(shifts).reshape(-1).tolist()) == [3, 17, 40, 41] and int(shifts.max()) >= 4
    uniform = act_quant(QuantScheme(act_bits=8, act_calibrator="mse"))
    with torch.no_grad(), calibration_mode(uniform):
        uniform(x)
    uniform.eval()
    scale = s * torch.pow(2.0, shifts.float())
    normal = shifts == 0
    with torch.no_grad():
        err_u = ((uniform(x).value - x) ** 2)[:, normal].mean()
    err_2 = ((torch.clamp(torch.round(x / scale), -128, 127) * scale - x) ** 2)[:, normal].mean()
    assert float(err_2) < 0.1 * float(err_u)


def test_outlier_shift_stays_within_the_limit():
    s, shifts, _ = search_channel_two_scale(ln_input(), 8, po2=True, shift_limit=2)
    assert int(shifts.max()) <= 2 and s == 2.0 ** round(torch.log2(torch.tensor(s)).item())


def test_quantize_fits_both_forms_and_the_fit_survives_save_and_load(tmp_path):
    torch.manual_seed(0)
    float_model = build_model("efficientvit_b0", resolution=32, num_classes=10, quant=QuantScheme.float_reference())
    images = load_fashion_mnist("train", 32, count=16)[0]
    qcfg = make_quant_config({"value_two_scale": True, "outlier_two_scale": True, "calib_images": 16,
                              "act_bits": 6})
    model = quantize_model(float_model.eval(), images, qcfg)
    fitted = [m for m in model.modules() if isinstance(m, (TwoScaleQuant, ChannelTwoScaleQuant)) and m.fitted]
    assert len(fitted) == 11  # MBConv's 10 depthwise inputs and the head LayerNorm's input
    ln = model.head.classifier[1]
    assert ln.integer and float(ln.ln_s_in) == float(ln.in_quant.fine_scale)
    save_quantized(model, tmp_path / "q.pt")
    loaded = load_quantized(tmp_path / "q.pt")
    with torch.no_grad():
        assert torch.equal(loaded(images[:4]), model(images[:4]))
