"""Architecture of each zoo model, with its published figures (r224 ImageNet models).

EfficientViT (MIT Han Lab): widths/depths/head dims follow mit-han-lab/efficientvit ``backbone.py`` /
``cls.py`` (and timm's ``efficientvit_mit.py``, which mirrors them).
DeiT (Touvron et al. 2021, arXiv 2012.12877): timm's ``deit_tiny_patch16_224`` and
``deit_small_patch16_224`` (vision_transformer.py); published parameters and MACs are timm's model cards
(deit_tiny_patch16_224.fb_in1k: 5.7 M, 1.3 GMACs; deit_small_patch16_224.fb_in1k: 22.1 M, 4.6 GMACs),
top-1 the DeiT paper's Table 1.
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
    family: str = "efficientvit"

    def summary(self) -> str:
        return f"widths {list(self.widths)}, depths {list(self.depths)}"


@dataclass(frozen=True)
class DeiTSpec:
    """A DeiT (ViT with a class token and learned absolute position embedding): ``depth`` blocks of
    pre-norm multi-head softmax attention and a GELU MLP on ``embed_dim``-wide tokens."""
    name: str
    embed_dim: int
    depth: int
    heads: int
    patch: int = 16
    mlp_ratio: int = 4
    published_params_m: float = 0.0
    published_gmacs_r224: float = 0.0
    published_top1_r224: float = 0.0
    family: str = "deit"

    def summary(self) -> str:
        return f"dim {self.embed_dim}, {self.depth} blocks, {self.heads} heads, patch {self.patch}"


EFFICIENTVIT_ZOO = {
    "efficientvit_b0": ModelSpec("efficientvit_b0", (8, 16, 32, 64, 128), (1, 2, 2, 2, 2), 16, (1024, 1280),
                                 published_params_m=3.4, published_gmacs_r224=0.10, published_top1_r224=71.6),
    "efficientvit_b1": ModelSpec("efficientvit_b1", (16, 32, 64, 128, 256), (1, 2, 3, 3, 4), 16, (1536, 1600),
                                 published_params_m=9.1, published_gmacs_r224=0.52, published_top1_r224=79.39),
    "efficientvit_b2": ModelSpec("efficientvit_b2", (24, 48, 96, 192, 384), (1, 3, 4, 4, 6), 32, (2304, 2560),
                                 published_params_m=24.0, published_gmacs_r224=1.6, published_top1_r224=82.10),
    "efficientvit_b3": ModelSpec("efficientvit_b3", (32, 64, 128, 256, 512), (1, 4, 6, 6, 9), 32, (2304, 2560),
                                 published_params_m=49.0, published_gmacs_r224=4.0, published_top1_r224=83.47),
}
DEIT_ZOO = {
    "deit_tiny": DeiTSpec("deit_tiny", 192, 12, 3, published_params_m=5.7, published_gmacs_r224=1.3,
                          published_top1_r224=72.2),
    "deit_small": DeiTSpec("deit_small", 384, 12, 6, published_params_m=22.1, published_gmacs_r224=4.6,
                           published_top1_r224=79.8),
}
ZOO = {**EFFICIENTVIT_ZOO, **DEIT_ZOO}

EFFICIENTVIT_NAMES = tuple(EFFICIENTVIT_ZOO)
DEIT_NAMES = tuple(DEIT_ZOO)
MODEL_NAMES = tuple(ZOO)


def get_spec(name: str):
    """The ModelSpec (EfficientViT) or DeiTSpec of a zoo model."""
    return ZOO[choose("model", name, MODEL_NAMES)]


def check_resolution(resolution: int, model: str | None = None) -> int:
    """EfficientViT downsamples by 32: any positive multiple of 32 works (224, 256, 288, ...). A DeiT takes
    any positive multiple of its patch size (its position embedding is interpolated to the grid). Without
    ``model``, the EfficientViT rule (the stricter one)."""
    spec = ZOO.get(model) if model else None
    return check_multiple(resolution, spec.patch if isinstance(spec, DeiTSpec) else 32)


def check_multiple(resolution: int, step: int) -> int:
    if not isinstance(resolution, int) or isinstance(resolution, bool) or resolution < step or resolution % step:
        examples = "224, 256, 288" if step == 32 else f"224, {4 * step}, {6 * step}"
        raise FlowError(f"resolution {resolution!r} is not a positive multiple of {step} (e.g. {examples})")
    return resolution
