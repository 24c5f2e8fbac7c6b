"""Fold every BatchNorm into the conv before it (Brevitas' merge_bn), as the hardware computes it."""

import torch.nn as nn
from brevitas.nn.utils import merge_bn

from flow.models.efficientvit import ConvNormAct


def fold_batchnorm(model: nn.Module) -> int:
    """Merge BN scale/shift into conv weights/bias in place; the BN becomes an Identity. Returns the count."""
    count = 0
    for mod in model.modules():
        if isinstance(mod, ConvNormAct) and isinstance(mod.norm, nn.BatchNorm2d):
            merge_bn(mod.conv, mod.norm)
            mod.norm = nn.Identity()
            count += 1
    return count


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
