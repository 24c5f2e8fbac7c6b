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


@pytest.mark.parametrize("res", [16, 64, 96, 224, 384])
def test_deit_takes_multiples_of_its_patch(res):
    assert check_resolution(res, "deit_tiny") == res


def test_deit_resolution_error_names_the_patch():
    with pytest.raises(FlowError, match="resolution 100 is not a positive multiple of 16"):
        check_resolution(100, "deit_small")
