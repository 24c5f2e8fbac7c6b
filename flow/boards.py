"""The board library: one YAML file per board under constraints/boards/ (flow.constraints), each naming
its part, Vivado's board part and, where the design uses package pins, an XDC file beside it."""

from dataclasses import dataclass
from importlib import resources

import yaml

from flow.errors import FlowError


@dataclass(frozen=True)
class Board:
    name: str                  # short name, e.g. zcu102
    part: str                  # full Vivado part string; must be in the part library
    vivado_board_part: str     # vendor:board:part0, without version (any installed version is used)
    xdc: str | None            # text of the pin/clock constraints, None when the design uses no package pins
    status_led: str | None     # which user LED shows the accelerator's done interrupt


def _board_dir():
    return resources.files("flow.constraints") / "boards"


def _parse(name: str, text: str) -> Board:
    try:
        raw = yaml.safe_load(text)
        xdc_name = raw["xdc"]
        xdc = None
        if xdc_name is not None:
            f = _board_dir() / str(xdc_name)
            if not f.is_file():
                raise FlowError(f"board file {name} names XDC '{xdc_name}', which is not in constraints/boards/")
            xdc = f.read_text()
        return Board(name=str(raw["name"]), part=str(raw["part"]), vivado_board_part=str(raw["vivado_board_part"]),
                     xdc=xdc, status_led=None if raw["status_led"] is None else str(raw["status_led"]))
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise FlowError(f"board file {name} is malformed: {type(exc).__name__}: {exc}")


def list_boards() -> list:
    files = sorted((f for f in _board_dir().iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return [_parse(f.name, f.read_text()) for f in files]


def get_board(name: str) -> Board:
    boards = list_boards()
    for b in boards:
        if b.name == name:
            return b
    raise FlowError(f"unknown board '{name}'; valid boards: {', '.join(b.name for b in boards)}")


def board_for_part(part) -> Board | None:
    """The part's default board (the `board:` of its part file), or None if the library has no such board."""
    for b in list_boards():
        if b.name == part.board and b.part == part.part:
            return b
    return None
