"""The compiled MSE search makes Brevitas' choices: whole calibrations give bit-identical state."""

import dataclasses

import numpy as np
import pytest
import torch
from brevitas.graph.calibrate import calibration_mode

from flow.data import calibration_images
from flow.models import QuantScheme, build_model
from flow.quantize import mse_kernel
from flow.quantize.bn_fold import fold_batchnorm
from flow.quantize.calibrate import calibrate
from flow.quantize.fast_mse import MARGIN, _choose, fast_mse_search

pytestmark = pytest.mark.skipif(mse_kernel.load() is None, reason="no C compiler to build the MSE kernel")


def _calibrated_state(scheme, images, fast: bool) -> dict:
    torch.manual_seed(0)
    model = build_model("efficientvit_b0", num_classes=10, resolution=64, quant=scheme)
    fold_batchnorm(model)
    model.eval()
    if fast:
        calibrate(model, images, batch_size=8)
    else:  # Brevitas alone
        with torch.no_grad(), calibration_mode(model):
            for i in range(0, len(images), 8):
                model(images[i:i + 8])
    return model.state_dict()


@pytest.mark.parametrize("scheme", [QuantScheme(), QuantScheme(po2_scales=True), QuantScheme(asym_post_act=True),
                                    QuantScheme(weight_bits=4, act_bits=6)],
                         ids=["float", "po2", "asymmetric", "w4a6"])
def test_calibration_state_is_bit_identical_to_brevitas(scheme):
    images, _ = calibration_images(64, 16)
    scheme = dataclasses.replace(scheme, act_calibrator="mse")
    fast, ref = (_calibrated_state(scheme, images, f) for f in (True, False))
    assert fast.keys() == ref.keys()
    differing = [k for k in ref if not torch.equal(fast[k], ref[k])]
    assert not differing, differing[:5]


def _b0_batch_searches() -> dict:
    """fast_mse_search's report on one calibration batch of B0 r64."""
    images, _ = calibration_images(64, 8)
    model = build_model("efficientvit_b0", num_classes=10, resolution=64, quant=QuantScheme(act_calibrator="mse"))
    fold_batchnorm(model)
    model.eval()
    with torch.no_grad(), calibration_mode(model), fast_mse_search(model) as searches:
        model(images)
    return searches


def test_every_search_of_b0_runs_in_the_kernel():
    """The patch is used (not silently skipped): every per-tensor activation search passes its check."""
    searches = _b0_batch_searches()
    assert len(searches) > 50
    assert all(v is True and n == 1 for v, n, _ in searches.values())


def test_kernel_loss_matches_torch_per_candidate():
    torch.manual_seed(1)
    x = torch.randn(100_003) * 3
    lib = mse_kernel.load()
    scales, zps = [0.01, 0.02, 0.05, 0.1], [0.0, 0.0, 3.0, -2.0]
    ours = mse_kernel.mse_losses(lib, x, scales, zps, -128.0, 127.0)
    for s, z, got in zip(scales, zps, ours):
        q = (torch.where(torch.round(x / s + z) > 127, 127., torch.round(x / s + z)).clamp(min=-128) - z) * s
        assert torch.equal(mse_kernel.fake_quantize(lib, x, s, z, -128.0, 127.0), q)
        assert got == pytest.approx(float(torch.sum((x - q) ** 2)), rel=1e-6)


def test_choice_defers_to_brevitas_on_near_ties():
    params = [(0.1, 0.0), (0.2, 0.0), (0.3, 0.0)]
    assert _choose(params, np.array([3.0, 1.0, 2.0])) == 1
    assert _choose(params, np.array([3.0, 1.0, 1.0 + MARGIN / 2])) is None  # float32 sums could decide otherwise
    # equal (scale, zero point), e.g. candidates rounded to one power of two: equal losses, the first one wins
    assert _choose([(0.25, 0.0), (0.25, 0.0), (0.5, 0.0)], np.array([1.0, 1.0, 2.0])) == 0


def test_without_a_compiler_brevitas_searches_alone(monkeypatch):
    monkeypatch.setattr(mse_kernel, "load", lambda: None)
    assert _b0_batch_searches() == {}


@pytest.mark.slow
def test_b1_r224_calibration_batch_is_bit_identical():
    """The full-size model of the default build: one batch of 16 images, every scale identical."""
    images, _ = calibration_images(224, 16)
    states = []
    for fast in (True, False):
        torch.manual_seed(0)
        model = build_model("efficientvit_b1", resolution=224, quant=QuantScheme(act_calibrator="mse"))
        fold_batchnorm(model)
        model.eval()
        with torch.no_grad(), calibration_mode(model):
            if fast:
                with fast_mse_search(model) as searches:
                    model(images)
                assert sum(n - d for _, n, d in searches.values()) >= 180  # nearly all in the kernel
            else:
                model(images)
        states.append(model.state_dict())
    assert [k for k in states[1] if not torch.equal(states[0][k], states[1][k])] == []
