"""Fit TSPTQ-ViT's two-scale quantizers (models.two_scale_quant) after calibration.

One pass over the calibration images gathers each quantizer's input (a sample of it for the value-aware
ones), with every other quantizer calibrated and on. Then a grid search per tensor minimises the mean
squared quantization error:

- value-aware: the shift k (coarse scale 2^k s) and the fine scale s, the coarse range spanning 10% to
  100% of the largest magnitude;
- outlier-aware: how many of the channels, largest first, are outliers (none, 1 to 7, then steps of
  sqrt(2) up to a quarter of them), the shift k that gives them 2^k s (up to what the integer LayerNorm
  keeps exact: models.efficientvit.QuantLayerNorm.exact_input_shift), and s from the largest normal
  channel's range (60% to 100% of it).

With power-of-two scales, s is rounded to a power of two.
"""

import math

import torch

from flow.models.two_scale_quant import ChannelTwoScaleQuant, TwoScaleQuant, code_ranges, quantize_two_scale
from flow.errors import FlowError
from flow.progress import say

from .calibrate import batches

SHIFTS = (1, 2, 3, 4)
GRID = 48
SAMPLES_PER_BATCH = 32768
OUTLIER_FRACTIONS = torch.linspace(0.6, 1.0, 9).tolist()
MAX_OUTLIER_SHARE = 4  # at most a quarter of the channels are outliers


def _po2(s: float) -> float:
    return 2.0 ** round(math.log2(s))


def search_two_scale(y: torch.Tensor, bits: int, po2: bool, signed_fine: bool = True, allows=None) -> tuple:
    """(fine scale, shift, MSE) minimising the two-scale quantization error of the sample ``y``, among the
    (s, k) that ``allows(s, k)`` accepts (TwoScaleQuant.allows; None: all)."""
    _, hi_c = code_ranges(bits, signed_fine)
    top = float(y.abs().max())
    if top == 0.0:
        top = 1.0
    best = (math.inf, 1.0, 1)
    for k in SHIFTS:
        for frac in torch.linspace(0.1, 1.0, GRID).tolist():
            s = top * frac / (hi_c * (1 << k))
            if po2:
                s = _po2(s)
            if allows is not None and not allows(s, k):
                continue
            err = float(((quantize_two_scale(y, torch.tensor(s), k, bits, signed_fine) - y) ** 2).mean())
            if err < best[0]:
                best = (err, s, k)
    err, s, k = best
    if err == math.inf:
        raise FlowError(f"no two-scale fit of {bits} bits within the quantizer's limits (shifts {SHIFTS})")
    return s, k, err


def search_channel_two_scale(x: torch.Tensor, bits: int, po2: bool, shift_limit: int = 8) -> tuple:
    """(fine scale, shift per channel, MSE) minimising the quantization error of ``x`` (N, C) with scales
    s for the normal channels and 2^k s (k <= ``shift_limit``) for the outliers."""
    hi = (1 << (bits - 1)) - 1
    peak = x.abs().amax(0)
    order = torch.argsort(peak, descending=True)
    best = (math.inf, 1.0, torch.zeros_like(peak, dtype=torch.int64))
    limit = max(1, x.shape[1] // MAX_OUTLIER_SHARE)
    counts = sorted({0, *range(1, 8), *(int(round(2 ** (e / 2))) for e in range(6, 2 * limit.bit_length() + 1))})
    for n_out in [n for n in counts if n <= limit]:
        base = float(peak[order[n_out]]) if n_out < x.shape[1] else 0.0
        if base == 0.0:
            break
        for k in (0,) if n_out == 0 else range(1, shift_limit + 1):
            shifts = torch.zeros_like(peak, dtype=torch.int64)
            shifts[order[:n_out]] = k
            for frac in OUTLIER_FRACTIONS:
                s = base * frac / hi
                if po2:
                    s = _po2(s)
                scale = s * torch.pow(2.0, shifts.to(torch.float32))
                err = float(((torch.clamp(torch.round(x / scale), -hi - 1, hi) * scale - x) ** 2).mean())
                if err < best[0]:
                    best = (err, s, shifts)
    err, s, shifts = best
    return s, shifts, err


def fit_two_scale(model, images: torch.Tensor, batch_size: int, po2: bool, seed: int = 0) -> dict:
    """Set every two-scale quantizer of ``model`` from the calibration images; return {name: (s, k, MSE)}
    (k: the shift, per channel for the outlier-aware ones)."""
    mods = {name: m for name, m in model.named_modules() if isinstance(m, (TwoScaleQuant, ChannelTwoScaleQuant))}
    if not mods:
        return {}
    gen = torch.Generator().manual_seed(seed)
    seen = {name: [] for name in mods}

    def grab(name):
        def hook(_mod, args):
            x = args[0].value if hasattr(args[0], "value") else args[0]
            if isinstance(mods[name], ChannelTwoScaleQuant):  # every value: (N, C)
                seen[name].append(x.detach().reshape(-1, x.shape[-1]))
                return
            x = x.detach().reshape(-1)
            if x.numel() > SAMPLES_PER_BATCH:
                x = x[torch.randint(x.numel(), (SAMPLES_PER_BATCH,), generator=gen)]
            seen[name].append(x)
        return hook

    handles = [m.register_forward_pre_hook(grab(name)) for name, m in mods.items()]
    model.eval()
    try:
        with torch.no_grad():
            for x in batches(images, batch_size):
                model(x)
    finally:
        for h in handles:
            h.remove()
    fits = {}
    for name, m in mods.items():
        if isinstance(m, ChannelTwoScaleQuant):
            s, k, err = search_channel_two_scale(torch.cat(seen[name]), m.bits, po2, m.shift_limit)
        else:
            s, k, err = search_two_scale(torch.cat(seen[name]), m.bits, po2 or m.po2, m.signed_fine, m.allows)
        m.fit(s, k)
        fits[name] = (s, k, err)
    value = {n: k for n, (_, k, _) in fits.items() if isinstance(mods[n], TwoScaleQuant)}
    if value:
        say("quantize", f"value-aware two-scale quantizers: {len(value)} tensors, coarse scale 2^k x fine with "
                        f"k in {sorted(set(value.values()))}")
    for name, (_, k, _) in fits.items():
        if isinstance(mods[name], ChannelTwoScaleQuant):
            say("quantize", f"outlier-aware two scales on {name}: {int((k > 0).sum())} of {k.numel()} channels "
                            f"at 2^{int(k.max())} x the fine scale")
    return fits
