import pytest

from flow.config import BuildConfig, make_config, parse_bits
from flow.errors import FlowError


def test_defaults_are_b1_on_zcu102():
    cfg = make_config()
    assert (cfg.model, cfg.part, cfg.resolution) == ("efficientvit_b1", "xczu9eg", 224)
    q = cfg.quant_config()
    assert (q.scheme.weight_bits, q.scheme.act_bits) == (8, 8)


@pytest.mark.parametrize("text,expected", [("w8a8", (8, 8)), ("W4A8", (4, 8)), ("w16a2", (16, 2))])
def test_parse_bits(text, expected):
    assert parse_bits(text) == expected


def test_resolution_type_in_file(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("resolution: '224'\n")
    with pytest.raises(FlowError, match="resolution must be an integer"):
        make_config(f)


def test_empty_config_file_is_defaults(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("")
    assert make_config(f) == BuildConfig()


def test_the_clock_stays_within_the_parts_speed_grade(tmp_path):
    assert make_config(part="xczu9eg", clock=300).clock == 300
    with pytest.raises(FlowError, match=r"clock 300 MHz is outside \(0, 250\] MHz, the clocks xczu3eg's speed grade allows"):
        make_config(part="xczu3eg", clock=300)
    f = tmp_path / "c.yaml"
    f.write_text("clock: fast\n")
    with pytest.raises(FlowError, match="clock must be a number of MHz"):
        make_config(f)
