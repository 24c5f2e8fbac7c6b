"""TSPTQ-ViT's two-scale quantizers: value-aware (V-2SF) for post-Hardswish tensors, outlier-aware (O-2SF)
for the LayerNorm's input channels.

Value-aware (TwoScaleQuant).

A post-Hardswish tensor is dense near zero with a long positive tail. One uniform scale either clips the
tail or spends its codes on it. Two scales for the same tensor share act_bits codes: a flag bit picks the
region, the other bits are the region's code.

    fine   (y <  T): f = clamp(round(y / s), -2^(b-2), 2^(b-2) - 1)   value f s        (b - 1 bits, signed)
    coarse (y >= T): c = clamp(round(y / (2^k s)), 0, 2^(b-1) - 1)    value c 2^k s    (b - 1 bits, unsigned)
    T = (2^(b-2) - 1/2) s, where the fine codes run out

(b = act_bits). Small values keep their low bits (the fine code), large values keep their high bits (the
coarse code, k bits further up). Every value is an integer multiple of the fine scale s: f, or c << k.

The downstream layer (a depthwise conv) takes that integer at scale s, so its bias and requantization see
one scale. In the paper the tensor is stored as the b-bit code and decoded by a shift; here the Hardswish
table emits the decoded integer (at most b + k bits), which the accelerator's 16-bit activation arena holds
as it holds every tensor, so the storage saving is not taken.

A tensor that is never negative (the post-softmax probabilities) takes unsigned fine codes instead
(``signed_fine=False``): f = clamp(round(y / s), 0, 2^(b-1) - 1), T = (2^(b-1) - 1/2) s, so the flag's
two regions each have b - 1 bits of magnitude. The post-softmax quantizer also needs its fine scale a
power of two (the integer softmax rounds its probabilities to it by a shift: models.deit.IntSoftmax) and
its integers within 8 bits, the width the accelerator's product unit reads (``po2``, ``max_value_bits``);
the fit (flow.quantize.two_scale) searches only those.

Exported, the quantizer is two QONNX Quant nodes and a select:
Where(Less(y, T), Quant(y, s, 0, b-1, signed), Quant(y, 2^k s, 0, b-1, unsigned)). flow.lower turns it,
together with the Hardswish (or GELU) before it, into one lookup table whose entries are those integers;
after the integer softmax, into the softmax layer's coarse rounding of the codes above the fine range.

Outlier-aware (ChannelTwoScaleQuant). A few LayerNorm input channels hold values many times larger than
the rest; one scale for the tensor rounds the normal channels to a handful of codes. Here the outlier
channels take the coarse scale 2^k s and the others the fine scale s: one QONNX Quant with a scale per
channel, each s or 2^k s. The integer LayerNorm (models.efficientvit.QuantLayerNorm) divides by s, so it
reads channel c's code shifted left by k_c, and the hardware does the same.

Until ``fit`` sets the scales (flow.quantize.two_scale, after calibration) each module is the ordinary
quantizer it wraps, so calibration and everything before it run as without the option.
"""

import math

import torch
import torch.nn as nn
from brevitas.nn import QuantIdentity
from brevitas.export.onnx.qonnx.function import BrevitasQuantOp
from brevitas.function.ops_ste import round_ste
from brevitas.quant_tensor import IntQuantTensor

from flow.errors import FlowError


def code_ranges(bits: int, signed_fine: bool = True) -> tuple:
    """((fine lo, fine hi), coarse hi) of a two-scale quantizer with ``bits`` bits."""
    if bits < 3:
        raise FlowError(f"a two-scale quantizer needs at least 3 bits (a flag and two per region), got {bits}")
    top = (1 << (bits - 1)) - 1
    if not signed_fine:
        return (0, top), top
    half = 1 << (bits - 2)
    return (-half, half - 1), top


def threshold(fine_scale: torch.Tensor, bits: int, signed_fine: bool = True) -> torch.Tensor:
    """T: values below it take the fine scale (float32, as exported)."""
    (_, hi_f), _ = code_ranges(bits, signed_fine)
    return (fine_scale * (hi_f + 0.5)).to(torch.float32)


def quantize_two_scale(y: torch.Tensor, fine_scale: torch.Tensor, shift: int, bits: int,
                       signed_fine: bool = True) -> torch.Tensor:
    """The quantized values (float), with QONNX Quant's steps (divide, round half to even, clamp, multiply)
    and Brevitas' straight-through rounding for training."""
    (lo_f, hi_f), hi_c = code_ranges(bits, signed_fine)
    coarse_scale = fine_scale * float(1 << shift)
    fine = torch.clamp(round_ste(y / fine_scale), lo_f, hi_f) * fine_scale
    coarse = torch.clamp(round_ste(y / coarse_scale), 0, hi_c) * coarse_scale
    return torch.where(y < threshold(fine_scale, bits, signed_fine), fine, coarse)


def _export_quant(x, scale, bits: int, signed: bool):
    """A QONNX Quant node (symmetric, round half to even) through Brevitas' own export op."""
    zero = torch.zeros((), dtype=x.dtype)
    return BrevitasQuantOp.dynamo.apply(x, scale, zero, torch.tensor(float(bits)), False, signed, "ROUND")


class TwoScaleQuant(nn.Module):
    """Value-aware two-scale quantizer around an ordinary act quantizer (``uniform``), which it is until fit.
    ``signed_fine``: False for a tensor that is never negative; ``po2``: the fine scale must be a power of
    two; ``max_value_bits``: the widest integer (at the fine scale) the consumer takes, None for any."""

    def __init__(self, uniform: nn.Module, bits: int, signed_fine: bool = True, po2: bool = False,
                 max_value_bits: int | None = None):
        super().__init__()
        code_ranges(bits)
        self.uniform = uniform
        self.bits = bits
        self.signed_fine, self.po2, self.max_value_bits = signed_fine, po2, max_value_bits
        self.register_buffer("fine_scale", torch.tensor(0.0))
        self.register_buffer("shift", torch.tensor(0, dtype=torch.int64))
        self._k = 0  # the shift as a Python int (export cannot branch on a buffer's value)
        self._s = 0.0  # the fine scale as a Python float, likewise

    @property
    def fitted(self) -> bool:
        return self._k > 0

    @property
    def coarse_shift(self) -> int:
        """k: the coarse scale is 2^k times the fine one (0 until fit)."""
        return self._k

    @property
    def value_bits(self) -> int:
        """Bits of the integers at the fine scale, whose largest is (2^(b-1) - 1) << k: signed (b + k) or,
        with unsigned fine codes, unsigned (b - 1 + k)."""
        return self.bits + self._k - (0 if self.signed_fine else 1)

    def allows(self, fine_scale: float, shift: int) -> bool:
        """Whether (fine scale, shift) is one this quantizer may take (po2, max_value_bits)."""
        if self.po2 and fine_scale != 2.0 ** round(math.log2(fine_scale)):
            return False
        bits = self.bits + shift - (0 if self.signed_fine else 1)
        return self.max_value_bits is None or bits <= self.max_value_bits

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._k = int(self.shift)
        self._s = float(self.fine_scale)

    @property
    def fine_scale_value(self) -> float:
        """The fine scale (0.0 until fit), readable while the model is traced for export."""
        return self._s

    @torch.no_grad()
    def fit(self, fine_scale: float, shift: int) -> None:
        if not shift >= 1 or not fine_scale > 0 or not self.allows(fine_scale, shift):
            raise FlowError(f"two-scale quantizer needs a positive fine scale and a shift >= 1 within its limits "
                            f"(po2={self.po2}, max_value_bits={self.max_value_bits}), got {fine_scale} and {shift}")
        self.fine_scale.fill_(float(fine_scale))
        self.shift.fill_(int(shift))
        self._k = int(shift)
        self._s = float(self.fine_scale)

    def forward(self, y):
        if not self.fitted:
            return self.uniform(y)
        y = y.value if isinstance(y, IntQuantTensor) else y
        s, k = self.fine_scale, self._k
        if torch.onnx.is_in_onnx_export():
            fine = _export_quant(y, s, self.bits - 1, self.signed_fine)
            coarse = _export_quant(y, s * float(1 << k), self.bits - 1, False)
            out = torch.where(y < threshold(s, self.bits, self.signed_fine), fine, coarse)
        else:
            out = quantize_two_scale(y, s, k, self.bits, self.signed_fine)
        return IntQuantTensor(out, s, torch.zeros_like(s), torch.tensor(float(self.value_bits)),
                              signed=self.signed_fine, training=self.training)


class ChannelTwoScaleQuant(nn.Module):
    """Outlier-aware two scales on the channels (last axis) of a (N, C) tensor: s, or 2^k s for the outlier
    channels; around an ordinary act quantizer (``uniform``), which it is until fit."""

    def __init__(self, uniform: nn.Module, bits: int, channels: int, shift_limit: int = 8):
        super().__init__()
        self.uniform = uniform
        self.bits = bits
        self.shift_limit = shift_limit  # what the consumer can take (the integer LayerNorm's exact range)
        self.register_buffer("fine_scale", torch.tensor(0.0))
        self.register_buffer("channel_shift", torch.zeros(channels, dtype=torch.int64))
        self._fitted = False

    @property
    def fitted(self) -> bool:
        return self._fitted

    @property
    def max_shift(self) -> int:
        return int(self.channel_shift.max())

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._fitted = float(self.fine_scale) > 0

    @torch.no_grad()
    def fit(self, fine_scale: float, shifts: torch.Tensor) -> None:
        shifts = torch.as_tensor(shifts, dtype=torch.int64)
        if not fine_scale > 0 or shifts.shape != self.channel_shift.shape or bool((shifts < 0).any()) \
                or bool((shifts > self.shift_limit).any()):
            raise FlowError(f"outlier-aware two scales need a positive fine scale and {self.channel_shift.numel()} "
                            f"shifts in 0..{self.shift_limit}, got {fine_scale} and {shifts.tolist()[:8]}...")
        self.fine_scale.fill_(float(fine_scale))
        self.channel_shift.copy_(shifts)
        self._fitted = True

    def scales(self) -> torch.Tensor:
        """Per channel: s 2^k_c (exact in float32)."""
        return self.fine_scale * torch.pow(2.0, self.channel_shift.to(torch.float32))

    def forward(self, x):
        if not self._fitted:
            return self.uniform(x)
        x = x.value if isinstance(x, IntQuantTensor) else x
        scale = self.scales()
        lo, hi = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        if torch.onnx.is_in_onnx_export():
            out = _export_quant(x, scale, self.bits, True)
        else:
            out = torch.clamp(round_ste(x / scale), lo, hi) * scale
        return IntQuantTensor(out, scale, torch.zeros_like(scale), torch.tensor(float(self.bits)),
                              signed=True, training=self.training)


def activation_quantizers(model: nn.Module) -> list:
    """[(name, module)] of the activation quantizers whose outputs are the model's quantized tensors: every
    QuantIdentity, except one wrapped by a fitted two-scale quantizer, which stands in its place, and one
    that quantizes a constant of the model (``quantizes_constant``: a DeiT's position embedding), which
    the exported graph holds as a quantized constant, like a weight."""
    fitted = [n for n, m in model.named_modules()
              if isinstance(m, (TwoScaleQuant, ChannelTwoScaleQuant)) and m.fitted]
    return [(n, m) for n, m in model.named_modules()
            if (isinstance(m, QuantIdentity) and not any(n.startswith(f + ".") for f in fitted)
                and not getattr(m, "quantizes_constant", False)) or n in fitted]
