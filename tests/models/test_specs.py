import pytest

from flow.errors import FlowError
from flow.models import QuantScheme, build_model, check_resolution


@pytest.mark.parametrize("res", [224, 256, 288, 32, 512])
def test_valid_resolutions(res):
    assert check_resolution(res) == res


@pytest.mark.parametrize("res", [0, 100, 225, -32, 16])
def test_invalid_resolutions(res):
    with pytest.raises(FlowError, match="multiple of 32"):
        check_resolution(res)


def test_unknown_model_lists_valid_names():
    with pytest.raises(FlowError, match="unknown model 'b9'; valid models: efficientvit_b0, efficientvit_b1"):
        build_model("b9")


@pytest.mark.parametrize("bits", [0, 1, 33])
def test_bad_bit_widths(bits):
    with pytest.raises(FlowError, match="out of range"):
        QuantScheme(weight_bits=bits)
