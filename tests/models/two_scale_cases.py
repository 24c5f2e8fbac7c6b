"""Tensors built to need TSPTQ-ViT's two-scale quantizers (shared by the model and the fitting tests)."""

import torch


def long_tail(seed=0):
    """Post-Hardswish values: a dense bulk from N(0, 1) and 1% of the values from a distribution 8x wider."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 8, 16, 16, generator=g)
    x = torch.where(torch.rand(x.shape, generator=g) < 0.01, x.abs() * 8, x)
    return x * torch.clamp(x / 6 + 0.5, 0, 1)


def ln_input(seed=0):
    """LayerNorm input with 4 outlier channels of 64, 40x the others (TSPTQ's example)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(256, 64, generator=g)
    x[:, [3, 17, 40, 41]] *= 40
    return x
