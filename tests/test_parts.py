import pytest

from flow.errors import FlowError
from flow.parts import get_part, list_parts


def test_zcu102_part_matches_datasheet():
    p = get_part("xczu9eg")
    assert p.part == "xczu9eg-ffvb1156-2-e" and p.board == "zcu102"
    assert p.resources == {"lut": 274080, "ff": 548160, "bram18": 1824, "uram": 0, "dsp": 2520}
    assert p.default_clock_mhz == 200 and p.ddr_bandwidth_gbps == 19.2


def test_lookup_by_full_part_string():
    assert get_part("xc7z020-clg400-1").name == "xc7z020"


def test_library_has_the_asked_parts():
    assert {p.name for p in list_parts()} >= {"xczu9eg", "xczu7ev", "xck26", "xc7z020", "xczu3eg"}


def test_unknown_part():
    with pytest.raises(FlowError, match="unknown part 'zz'; valid parts: "):
        get_part("zz")


def test_every_part_states_its_clocks():
    for p in list_parts():
        assert p.clocks_mhz and p.default_clock_mhz in p.clocks_mhz and list(p.clocks_mhz) == sorted(p.clocks_mhz)
    assert get_part("xczu9eg").clocks_mhz == (200, 250, 300) and max(get_part("xc7z020").clocks_mhz) == 125
