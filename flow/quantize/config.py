"""Quantization settings: shipped defaults <- the `quantization:` section of a user config <- CLI."""

from dataclasses import asdict, dataclass, fields
from importlib import resources

import yaml

from flow.errors import FlowError
from flow.models import QuantScheme


@dataclass(frozen=True)
class QuantConfig:
    scheme: QuantScheme
    bias_correction: bool = True
    calib_images: int = 64
    batch_size: int = 16
    mixed_precision: bool = False
    gptq: bool = False
    qat_steps: int = 0
    qat_lr: float = 1e-4
    interval_search: bool = False
    block_reconstruction: bool = False
    bridge_reconstruction: bool = False
    reconstruction_steps: int = 200
    scheme_search: bool = False
    search_images: int = 32

    def as_dict(self) -> dict:
        d = asdict(self.scheme)
        d.pop("enabled")
        d.update({k: getattr(self, k) for k in _PROC_KEYS})
        return d


_SCHEME_KEYS = {f.name for f in fields(QuantScheme)} - {"enabled"}
_PROC_KEYS = ("bias_correction", "calib_images", "batch_size", "mixed_precision", "gptq", "qat_steps", "qat_lr",
              "interval_search", "block_reconstruction", "bridge_reconstruction", "reconstruction_steps",
              "scheme_search", "search_images")
_TYPES = {"weight_bits": int, "act_bits": int, "token_bits": (int, type(None)), "po2_scales": bool, "act_calibrator": str, "percentile": (int, float),
          "weight_calibrator": str, "bias_correction": bool, "calib_images": int, "batch_size": int,
          "mixed_precision": bool, "gptq": bool, "qat_steps": int, "qat_lr": (int, float), "log2_divisor": bool,
          "interval_search": bool, "asym_post_act": bool, "filter_shift": bool, "channel_migration": bool,
          "value_two_scale": bool, "outlier_two_scale": bool, "block_reconstruction": bool,
          "bridge_reconstruction": bool, "reconstruction_steps": int, "scheme_search": bool, "search_images": int}


def defaults() -> dict:
    return yaml.safe_load((resources.files("flow.quantize") / "defaults.yaml").read_text())


def make_quant_config(user: dict | None = None, weight_bits=None, act_bits=None, calib_images=None) -> QuantConfig:
    values = defaults()
    for key, val in (user or {}).items():
        if key not in _TYPES:
            raise FlowError(f"unknown quantization setting '{key}'; valid: {', '.join(_TYPES)}")
        if not isinstance(val, _TYPES[key]) or (isinstance(val, bool) and _TYPES[key] is int):
            raise FlowError(f"quantization setting {key}={val!r} has the wrong type")
        values[key] = val
    for key, val in (("weight_bits", weight_bits), ("act_bits", act_bits), ("calib_images", calib_images)):
        if val is not None:
            values[key] = val
    if values["calib_images"] < 1 or values["batch_size"] < 1:
        raise FlowError(f"calib_images ({values['calib_images']}) and batch_size ({values['batch_size']}) must be >= 1")
    for key in ("reconstruction_steps", "search_images"):
        if values[key] < 1:
            raise FlowError(f"{key} ({values[key]}) must be >= 1")
    if values["qat_steps"] < 0 or not values["qat_lr"] > 0:
        raise FlowError(f"qat_steps ({values['qat_steps']}) must be >= 0 and qat_lr ({values['qat_lr']}) > 0")
    scheme = QuantScheme(enabled=True, **{k: values[k] for k in _SCHEME_KEYS})
    return QuantConfig(scheme=scheme, **{k: values[k] for k in _PROC_KEYS})
