"""Build configuration: defaults, a user YAML file, then command-line options, in that order."""

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from flow.errors import FlowError, choose

DEFAULT_MODEL = "efficientvit_b1"
DEFAULT_PART = "xczu9eg"
BACKENDS = ("vitflow", "hls4ml")


@dataclass(frozen=True)
class BuildConfig:
    model: str = DEFAULT_MODEL
    part: str = DEFAULT_PART
    board: str | None = None         # board from constraints/boards/ (default: the part's own board)
    resolution: int = 224
    bits: str | None = None          # wNaM; None: the quantization settings decide (default w8a8)
    weights: str | None = None
    calib_dir: str | None = None
    calib: int | None = None         # number of calibration images (overrides quantization.calib_images)
    out: str | None = None
    quantization: dict | None = None  # overrides of flow/quantize/defaults.yaml
    qonnx: str | None = None         # `flow lower`: the cleaned QONNX file to lower
    program: str | None = None       # `flow estimate`: the program/ folder of `flow lower`
    acc_bits: int = 32               # accumulator width the range analysis must prove sufficient
    clock: float | None = None       # accelerator clock in MHz; None: the estimate weighs the part's clocks_mhz
    backend: str = "vitflow"         # `flow build`: vitflow (our accelerator, weights in DDR) or hls4ml
    block: str | None = None         # `flow build`: one block of the model (e.g. stages.3.blocks.1), not all of it
    calibration: str | None = None   # a lab run's synthesis_report.json (flow report): measured figures for the estimate
    no_cache: bool = False           # `flow build`: run every stage, reuse and store nothing (flow/stage_cache.py)

    def quant_config(self):
        from flow.quantize.config import make_quant_config

        wb, ab = parse_bits(self.bits) if self.bits else (None, None)
        return make_quant_config(self.quantization, weight_bits=wb, act_bits=ab, calib_images=self.calib)

    def output_dir(self) -> Path:
        return Path(self.out) if self.out else Path("flow_out") / f"{self.model}_{self.part}"


_BITS = re.compile(r"^w(\d+)a(\d+)$")


def parse_bits(text: str) -> tuple:
    """'w8a8' -> (8, 8). Weights and activations each 2..16 bits."""
    from flow.models.quant_layers import MAX_BITS, MIN_BITS

    m = _BITS.match(str(text).strip().lower())
    if not m:
        raise FlowError(f"bit widths '{text}' are not of the form wNaM (e.g. w8a8, w4a8)")
    wb, ab = int(m[1]), int(m[2])
    for kind, b in (("weight", wb), ("activation", ab)):
        if not MIN_BITS <= b <= MAX_BITS:
            raise FlowError(f"{kind} bit width {b} in '{text}' is out of range {MIN_BITS}..{MAX_BITS}")
    return wb, ab


def read_yaml(path, what: str):
    """The YAML document at ``path`` (None when empty); ``what`` names the file in the one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise FlowError(f"{what} '{path}' does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise FlowError(f"{what} '{path}' is not valid YAML: {str(exc).splitlines()[0]}") from None


def load_config_file(path) -> dict:
    """Read a YAML build config; unknown keys and wrong types are errors."""
    path = Path(path)
    raw = read_yaml(path, "config file")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FlowError(f"config file '{path}' must be a mapping of option: value")
    known = {f.name: f for f in fields(BuildConfig)}
    out = {}
    for key, val in raw.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise FlowError(f"config file '{path}': unknown key '{key}'; valid keys: {', '.join(known)}")
        if name in ("resolution", "calib", "acc_bits"):
            if not isinstance(val, int) or isinstance(val, bool):
                raise FlowError(f"config file '{path}': {key} must be an integer, got {val!r}")
        elif name == "clock":
            if not isinstance(val, (int, float)) or isinstance(val, bool):
                raise FlowError(f"config file '{path}': clock must be a number of MHz, got {val!r}")
        elif name == "no_cache":
            if not isinstance(val, bool):
                raise FlowError(f"config file '{path}': no_cache must be true or false, got {val!r}")
        elif name == "quantization":
            if not isinstance(val, dict):
                raise FlowError(f"config file '{path}': quantization must be a mapping of setting: value")
        elif val is not None and not isinstance(val, str):
            raise FlowError(f"config file '{path}': {key} must be a string, got {val!r}")
        out[name] = val
    return out


def make_config(config_file=None, **overrides) -> BuildConfig:
    """Defaults <- config file <- explicit (non-None) command-line overrides, then validated."""
    values = load_config_file(config_file) if config_file else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("board") is not None:
        values["part"] = _part_of_board(values["board"], values.get("part"))
    cfg = replace(BuildConfig(), **values)
    validate(cfg)
    return cfg


def _part_of_board(board: str, part: str | None) -> str:
    """The part a board carries; an explicitly given part must be that one."""
    from flow.boards import get_board
    from flow.parts import get_part

    b = get_board(board)
    carried = get_part(b.part)
    if part is not None and get_part(part).part != carried.part:
        raise FlowError(f"board {b.name} carries {carried.name} ({carried.part}), not part '{part}'")
    return carried.name


def validate(cfg: BuildConfig) -> None:
    from flow.models import MODEL_NAMES, check_resolution
    from flow.parts import get_part

    choose("model", cfg.model, MODEL_NAMES)
    part = get_part(cfg.part)
    fastest = max(part.clocks_mhz or (part.default_clock_mhz,))
    if cfg.clock is not None and not 0 < cfg.clock <= fastest:
        raise FlowError(f"clock {cfg.clock:g} MHz is outside (0, {fastest:g}] MHz, the clocks {part.name}'s "
                        f"speed grade allows (clocks_mhz in its part file)")
    choose("backend", cfg.backend, BACKENDS)
    check_resolution(cfg.resolution, cfg.model)
    cfg.quant_config()  # bits, calibration count and quantization settings
    if not 8 <= cfg.acc_bits <= 64:
        raise FlowError(f"acc_bits={cfg.acc_bits} is out of range 8..64")
    if cfg.calibration is not None:
        from flow.estimate.calibration import load_calibration

        load_calibration(cfg.calibration)
    if cfg.qonnx is not None and not Path(cfg.qonnx).is_file():
        raise FlowError(f"QONNX file '{cfg.qonnx}' does not exist or is not a file")
    if cfg.program is not None and not Path(cfg.program).is_dir():
        raise FlowError(f"program folder '{cfg.program}' does not exist")
    if cfg.weights is not None and not Path(cfg.weights).is_file():
        raise FlowError(f"checkpoint '{cfg.weights}' does not exist or is not a file")
    if cfg.calib_dir is not None:
        from flow.data.image_folder import list_image_folder

        list_image_folder(cfg.calib_dir)  # exists, readable, has images
