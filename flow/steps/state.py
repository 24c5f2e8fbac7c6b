"""The state one `flow build` carries from step to step."""

from dataclasses import dataclass
from pathlib import Path

import torch

from flow.config import BuildConfig

EXPORT_CHECK_IMAGES = 8

@dataclass
class BuildState:
    cfg: BuildConfig
    staging: Path
    float_model: torch.nn.Module | None = None
    quant_model: torch.nn.Module | None = None
    calib_images: torch.Tensor | None = None
    qonnx_path: Path | None = None
    program: object = None
    hw_config: object = None
    clock_mhz: float | None = None  # the accelerator's clock: the estimate's choice, or --clock
    hls_plan: object = None     # the memory plan of the HLS project
    hls_program: object = None  # the program the accelerator runs (flow/hls/input_patches.py)
    cache_note: str | None = None  # what the stage cache did (flow/steps/cached.py), for report.html
