"""Architecture of each EfficientViT (MIT Han Lab) classification model, with its published figures.

Widths/depths/head dims follow mit-han-lab/efficientvit ``backbone.py`` / ``cls.py`` (and timm's
``efficientvit_mit.py``, which mirrors them). Published figures are for the r224 ImageNet models.
"""

from dataclasses import dataclass

from flow.errors import FlowError, choose


@dataclass(frozen=True)
class ModelSpec:
    name: str
    widths: tuple          # channels of stem, stage 1, 2, 3, 4
    depths: tuple          # stem DSConv blocks, then blocks per stage
    head_dim: int          # LiteMLA dim per head (heads = C / head_dim)
    head_widths: tuple     # classifier head: 1x1 conv width, hidden Linear width
    expand_ratio: int = 4
    published_params_m: float = 0.0    # millions, r224 ImageNet
    published_gmacs_r224: float = 0.0
    published_top1_r224: float = 0.0


ZOO = {
    "efficientvit_b0": ModelSpec("efficientvit_b0", (8, 16, 32, 64, 128), (1, 2, 2, 2, 2), 16, (1024, 1280),
                                 published_params_m=3.4, published_gmacs_r224=0.10, published_top1_r224=71.6),
    "efficientvit_b1": ModelSpec("efficientvit_b1", (16, 32, 64, 128, 256), (1, 2, 3, 3, 4), 16, (1536, 1600),
                                 published_params_m=9.1, published_gmacs_r224=0.52, published_top1_r224=79.39),
    "efficientvit_b2": ModelSpec("efficientvit_b2", (24, 48, 96, 192, 384), (1, 3, 4, 4, 6), 32, (2304, 2560),
                                 published_params_m=24.0, published_gmacs_r224=1.6, published_top1_r224=82.10),
    "efficientvit_b3": ModelSpec("efficientvit_b3", (32, 64, 128, 256, 512), (1, 4, 6, 6, 9), 32, (2304, 2560),
                                 published_params_m=49.0, published_gmacs_r224=4.0, published_top1_r224=83.47),
}

MODEL_NAMES = tuple(ZOO)


def get_spec(name: str) -> ModelSpec:
    return ZOO[choose("model", name, MODEL_NAMES)]


def check_resolution(resolution: int) -> int:
    """EfficientViT downsamples by 32; any positive multiple of 32 works (224, 256, 288, ...)."""
    if not isinstance(resolution, int) or resolution < 32 or resolution % 32:
        raise FlowError(f"resolution {resolution!r} is not a positive multiple of 32 (e.g. 224, 256, 288)")
    return resolution
