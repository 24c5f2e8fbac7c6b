"""The FPGA part library: one YAML file per part under constraints/parts/ (flow.constraints)."""

from dataclasses import dataclass
from importlib import resources

import yaml

from flow.errors import FlowError

RESOURCE_KINDS = ("lut", "ff", "bram18", "uram", "dsp")


@dataclass(frozen=True)
class Part:
    name: str                 # short name used on the command line, e.g. xczu9eg
    part: str                 # full Vivado part string, e.g. xczu9eg-ffvb1156-2-e
    family: str
    board: str
    resources: dict           # lut, ff, bram18, uram, dsp
    ddr_bandwidth_gbps: float
    default_clock_mhz: float
    clocks_mhz: tuple = ()    # the clocks the design-space exploration weighs, as the speed grade allows

    @property
    def beat_bytes(self) -> int:
        """Bytes per beat of the PS's high-performance AXI slave ports: 128-bit on Zynq UltraScale+
        (S_AXI_HPn_FPD), 64-bit on Zynq-7000 (S_AXI_HPn)."""
        return 16 if self.family == "zynquplus" else 8


def _part_files():
    return sorted((f for f in (resources.files("flow.constraints") / "parts").iterdir() if f.name.endswith(".yaml")),
                  key=lambda f: f.name)


def _parse(text: str, where: str) -> Part:
    try:
        raw = yaml.safe_load(text)
        res = raw["resources"]
        return Part(name=str(raw["name"]), part=str(raw["part"]), family=str(raw["family"]),
                    board=str(raw["board"]), resources={k: int(res[k]) for k in RESOURCE_KINDS},
                    ddr_bandwidth_gbps=float(raw["ddr_bandwidth_gbps"]),
                    default_clock_mhz=float(raw["default_clock_mhz"]),
                    clocks_mhz=tuple(float(c) for c in raw.get("clocks_mhz", [raw["default_clock_mhz"]])))
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise FlowError(f"part file {where} is malformed: {type(exc).__name__}: {exc}")


def list_parts() -> list:
    return [_parse(f.read_text(), f.name) for f in _part_files()]


def get_part(name: str) -> Part:
    """Look a part up by short name (xczu9eg) or full part string (xczu9eg-ffvb1156-2-e)."""
    parts = list_parts()
    for p in parts:
        if name in (p.name, p.part):
            return p
    raise FlowError(f"unknown part '{name}'; valid parts: {', '.join(p.name for p in parts)}")
