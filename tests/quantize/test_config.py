import pytest

from flow.errors import FlowError
from flow.quantize.config import defaults, make_quant_config


def test_shipped_defaults():
    q = make_quant_config()
    d = defaults()
    assert (q.scheme.weight_bits, q.scheme.act_bits, q.calib_images) == (d["weight_bits"], d["act_bits"], d["calib_images"])


def test_user_file_then_cli():
    q = make_quant_config({"act_calibrator": "mse", "weight_bits": 6}, act_bits=4)
    assert (q.scheme.act_calibrator, q.scheme.weight_bits, q.scheme.act_bits) == ("mse", 6, 4)
    q = make_quant_config({"weight_bits": 6}, weight_bits=8)
    assert q.scheme.weight_bits == 8


@pytest.mark.parametrize("user,message", [
    ({"wieght_bits": 8}, "unknown quantization setting 'wieght_bits'"),
    ({"weight_bits": "8"}, "wrong type"),
    ({"po2_scales": 1}, "wrong type"),
    ({"act_calibrator": "kl"}, "unknown act_calibrator 'kl'"),
    ({"weight_bits": 0}, "out of range"),
    ({"act_bits": 33}, "out of range"),
    ({"token_bits": 1}, "token_bits=1 is out of range"),
    ({"token_bits": True}, "token_bits=True is out of range"),
    ({"token_bits": "8"}, "wrong type"),
    ({"calib_images": 0}, "must be >= 1"),
    ({"reconstruction_steps": 0}, r"reconstruction_steps \(0\) must be >= 1"),
    ({"block_reconstruction": "yes"}, "wrong type"),
])
def test_bad_settings(user, message):
    with pytest.raises(FlowError, match=message):
        make_quant_config(user)
