import pytest
import torch
from brevitas.nn import QuantIdentity

from flow.data import load_fashion_mnist
from flow.errors import FlowError
from flow.models import QuantScheme, build_model
from flow.quantize import folded_float_model, make_quant_config, quantize_model
from flow.quantize.report import build_report, write_report
from flow.quantize.saved import load_quantized, save_quantized

RES = 32


@pytest.fixture(scope="module")
def float_model():
    torch.manual_seed(0)
    return build_model("efficientvit_b0", resolution=RES, num_classes=10, quant=QuantScheme.float_reference()).eval()


@pytest.fixture(scope="module")
def images():
    return load_fashion_mnist("train", RES, count=32)[0]


@pytest.fixture(scope="module", params=[False, True], ids=["float-scales", "po2-scales"])
def quantized(request, float_model, images):
    qcfg = make_quant_config({"po2_scales": request.param, "calib_images": 32})
    return quantize_model(float_model, images, qcfg)


def test_every_quantizer_is_calibrated_and_on(quantized):
    from flow.quantize.calibrate import uncalibrated_quantizers

    assert uncalibrated_quantizers(quantized) == []
    quantizers = [m for m in quantized.modules() if isinstance(m, QuantIdentity)]
    assert len(quantizers) == 122  # every quantization point of B0; a change here changes the hardware contract
    assert all(m.act_quant.is_quant_enabled for m in quantizers)
    with torch.no_grad():
        y = quantized(torch.zeros(1, 3, RES, RES))
    assert torch.isfinite(y).all()


def test_uncalibrated_quantizer_is_found(float_model):
    from flow.quantize.calibrate import uncalibrated_quantizers

    fresh = build_model("efficientvit_b0", resolution=RES, num_classes=10, quant=QuantScheme())
    assert len(uncalibrated_quantizers(fresh)) == 122


def test_quantized_tracks_float(float_model, quantized, images):
    with torch.no_grad():
        yf, yq = float_model(images), quantized(images)
    sqnr = 10 * torch.log10((yf ** 2).sum() / ((yf - yq) ** 2).sum())
    assert sqnr > 10  # W8A8 of a random-init B0 stays close to float


def test_save_load_round_trip(tmp_path, quantized, images):
    save_quantized(quantized, tmp_path / "q.pt")
    loaded = load_quantized(tmp_path / "q.pt", expect_model="efficientvit_b0")
    with torch.no_grad():
        assert torch.equal(loaded(images[:4]), quantized(images[:4]))
    with pytest.raises(FlowError, match="is efficientvit_b0, not efficientvit_b1"):
        load_quantized(tmp_path / "q.pt", expect_model="efficientvit_b1")


def test_float_checkpoint_is_not_a_quantized_model(tmp_path, float_model):
    torch.save(float_model.state_dict(), tmp_path / "f.pt")
    with pytest.raises(FlowError, match="is a float checkpoint"):
        load_quantized(tmp_path / "f.pt")


def test_report_covers_attention_and_weights(tmp_path, float_model, quantized, images):
    report = build_report(folded_float_model(float_model), quantized, images[:8], {"x": 1})
    names = {r["tensor"] for r in report["tensors"]}
    for leaf in ("q_quant", "k_quant", "kv_quant", "ksum_quant", "num_quant", "den_quant", "att_quant"):
        assert any(n.endswith(leaf) for n in names), leaf
    assert "stem.in_conv.conv.weight" in names and "input_quant" in names
    assert all(r["bits"] == 8 for r in report["tensors"])
    write_report(report, tmp_path / "r.json", tmp_path / "r.md")
    assert "| input_quant | activation | 8 | s |" in (tmp_path / "r.md").read_text()
