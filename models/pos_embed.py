"""A DeiT position embedding resampled to another patch grid, the way timm does it
(timm.layers.resample_abs_pos_embed, as its checkpoint filter calls it): the class token's row kept, the
grid's rows as a (1, C, h, w) image interpolated bicubically with antialiasing (align_corners off), in
float32."""

import math

import torch
import torch.nn.functional as F

from flow.errors import FlowError


def resample_pos_embed(pos: torch.Tensor, grid: int, prefix_tokens: int = 1) -> torch.Tensor:
    """``pos`` (1, prefix + h*h, C) on a square grid, resampled to (1, prefix + grid*grid, C)."""
    n = pos.shape[1] - prefix_tokens
    old = math.isqrt(n)
    if pos.dim() != 3 or pos.shape[0] != 1 or n < 1 or old * old != n:
        raise FlowError(f"position embedding of shape {tuple(pos.shape)} is not (1, 1 + h*h, C) on a square grid")
    if old == grid:
        return pos
    prefix, rows = pos[:, :prefix_tokens], pos[:, prefix_tokens:]
    dtype, dim = pos.dtype, pos.shape[-1]
    img = rows.float().reshape(1, old, old, dim).permute(0, 3, 1, 2)
    img = F.interpolate(img, size=(grid, grid), mode="bicubic", align_corners=False, antialias=True)
    rows = img.permute(0, 2, 3, 1).reshape(1, grid * grid, dim).to(dtype)
    return torch.cat([prefix, rows], dim=1)
