import re

import pytest

from flow.boards import board_for_part, get_board, list_boards
from flow.config import make_config
from flow.errors import FlowError
from flow.parts import get_part, list_parts


def test_every_part_has_its_board_and_every_board_a_known_part():
    for p in list_parts():
        b = board_for_part(p)
        assert b is not None and b.part == p.part, p.name
    parts = {p.part for p in list_parts()}
    assert all(b.part in parts for b in list_boards())


def test_zcu102_pins():
    b = get_board("zcu102")
    assert b.part == "xczu9eg-ffvb1156-2-e" and b.vivado_board_part == "xilinx.com:zcu102:part0"
    # the one port the design uses, on user LED GPIO_LED_0 (UG1182): AG14, 3.3 V bank
    assert re.search(r"PACKAGE_PIN AG14 IOSTANDARD LVCMOS33\b.*\[get_ports status_led\]", b.xdc)
    ports = set(re.findall(r"get_ports (\w+)", b.xdc))
    assert ports == {"status_led"}


def test_boards_without_pl_pins_have_no_xdc():
    assert get_board("kv260").xdc is None and get_board("ultra96v2").status_led is None


def test_board_sets_the_part_and_must_agree_with_an_explicit_one():
    assert make_config(board="pynq-z2").part == "xc7z020"
    assert make_config(board="zcu102", part="xczu9eg-ffvb1156-2-e").part == "xczu9eg"
    with pytest.raises(FlowError, match="board zcu102 carries xczu9eg .*not part 'xc7z020'"):
        make_config(board="zcu102", part="xc7z020")
    with pytest.raises(FlowError, match="unknown board 'zz'; valid boards: kv260, "):
        make_config(board="zz")


def test_part_default_board():
    assert board_for_part(get_part("xczu9eg")).name == "zcu102"
