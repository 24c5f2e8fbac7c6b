"""Brevitas layer factories for the model, driven by one QuantScheme.

Every tensor that crosses a hardware layer boundary passes through an activation quantizer, so the
exported QONNX graph is integer-representable end to end. With ``QuantScheme(enabled=False)`` every
quantizer is an identity and the model is the float reference.
"""

from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import brevitas.nn as qnn
from brevitas.inject.enum import StatsOp
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8ActPerTensorFixedPointMSE,
    Int8ActPerTensorFloat,
    Int8ActPerTensorFloatMSE,
    Int8WeightPerChannelFixedPointMSE,
    Int8WeightPerChannelFloat,
    Int8WeightPerChannelFloatMSE,
    ShiftedUint8ActPerTensorFixedPoint,
    ShiftedUint8ActPerTensorFixedPointMSE,
    ShiftedUint8ActPerTensorFloat,
    ShiftedUint8ActPerTensorFloatMSE,
    Uint8ActPerTensorFixedPoint,
    Uint8ActPerTensorFixedPointMSE,
    Uint8ActPerTensorFloat,
    Uint8ActPerTensorFloatMSE,
)
from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint  # not re-exported by brevitas.quant
from brevitas.quant.scaled_int import Int32Bias
from brevitas.core.function_wrapper.shape import OverOutputChannelView
from brevitas.core.zero_point import ParameterFromRuntimeZeroPoint
from brevitas.function.ops_ste import round_ste
from brevitas.quant_tensor import QuantTensor

from flow.errors import FlowError


MIN_BITS, MAX_BITS = 2, 16
ACT_CALIBRATORS = ("minmax", "percentile", "mse")
WEIGHT_CALIBRATORS = ("minmax", "mse")


@dataclass(frozen=True)
class QuantScheme:
    """How the model is quantized.

    enabled:           False builds the float reference (all quantizers are identities).
    weight_bits:       bit width of conv/linear weights (per-output-channel, symmetric).
    act_bits:          bit width of every activation tensor (per-tensor, symmetric; unsigned after ReLU).
    token_bits:        a DeiT's token stream (the embedding after the position add, each residual sum and each
                       LayerNorm's input) at this width instead of act_bits; None: act_bits. No matmul or linear
                       layer reads these tensors (the residual adds and the integer LayerNorm do), so e.g. W6A6 with an 8-bit stream keeps
                       every matmul's operands at 6 bits: the literature's W6A6 (PTQ4ViT, RepQ-ViT), which
                       leaves the stream in float.
    po2_scales:        restrict every scale to a power of two (requantization becomes a pure shift);
                       False leaves scales free (requantized later by an integer multiplier and a shift).
    act_calibrator:    how activation ranges are set from calibration data: 'minmax' (abs max),
                       'percentile' (the ``percentile`` of |x|) or 'mse' (scale minimizing the MSE).
    weight_calibrator: 'minmax' (per-channel abs max) or 'mse'.
    percentile:        for act_calibrator='percentile', in (0, 100].
    log2_divisor:      Trio-ViT's linear-attention divisor: rounded to a power of two in the log domain
                       (a 4-bit exponent), so the attention's division is a shift (no divider).
    asym_post_act:     Q-HyViT's asymmetric scheme for the post-Hardswish tensors that feed a pointwise
                       conv (the depthwise convs' outputs in DSConv/MBConv): unsigned codes with a zero
                       point, which the lowering folds into the pointwise conv's bias.
    filter_shift:      Trio-ViT's filter-wise shift of the same tensors: one zero point per channel (each
                       channel's codes start at its own minimum) under one scale, the largest channel
                       range (min-max statistics, whatever act_calibrator says); the lowering folds
                       sum_c z_c w(o, c) into the pointwise conv's bias.
    channel_migration: Trio-ViT's channel-wise migration for the inputs of depthwise convs (the
                       post-Hardswish tensors of MBConv's expansion): one scale per channel, which the
                       lowering folds into the depthwise conv's per-channel requantization, the same as
                       dividing channel c by m_c and multiplying its depthwise filter by m_c.
    value_two_scale:   TSPTQ-ViT's value-aware two-scale quantizer for the same tensors (instead of the
                       migration): two scales s and 2^k s share act_bits codes, small values keep the fine
                       scale and large ones the coarse (models.two_scale_quant; s and k are fit after
                       calibration by flow.quantize.two_scale).
    outlier_two_scale: TSPTQ-ViT's outlier-aware two scales for the LayerNorm's input: the channels with
                       outliers take a scale 2^k s, the others s (fit by MSE after calibration); the
                       integer LayerNorm reads them at s, shifted left by k.
    """

    enabled: bool = True
    weight_bits: int = 8
    act_bits: int = 8
    po2_scales: bool = False
    act_calibrator: str = "mse"
    weight_calibrator: str = "minmax"
    percentile: float = 99.999
    log2_divisor: bool = False
    asym_post_act: bool = False
    filter_shift: bool = False
    channel_migration: bool = False
    value_two_scale: bool = False
    outlier_two_scale: bool = False
    token_bits: int | None = None

    def __post_init__(self):
        for field in ("weight_bits", "act_bits", "token_bits"):
            bits = getattr(self, field)
            if field == "token_bits" and bits is None:
                continue
            if not isinstance(bits, int) or isinstance(bits, bool) or not MIN_BITS <= bits <= MAX_BITS:
                raise FlowError(f"{field}={bits!r} is out of range; supported bit widths are {MIN_BITS}..{MAX_BITS}")
        if self.act_calibrator not in ACT_CALIBRATORS:
            raise FlowError(f"unknown act_calibrator '{self.act_calibrator}'; valid: {', '.join(ACT_CALIBRATORS)}")
        if self.weight_calibrator not in WEIGHT_CALIBRATORS:
            raise FlowError(f"unknown weight_calibrator '{self.weight_calibrator}'; "
                            f"valid: {', '.join(WEIGHT_CALIBRATORS)}")
        if not 0 < float(self.percentile) <= 100:
            raise FlowError(f"percentile={self.percentile!r} must be in (0, 100]")
        if self.value_two_scale and self.channel_migration:
            raise FlowError("value_two_scale and channel_migration both quantize the depthwise-conv inputs; "
                            "choose one")
        if self.value_two_scale and self.act_bits < 3:
            raise FlowError(f"value_two_scale needs act_bits >= 3 (a flag bit and two per region), "
                            f"got {self.act_bits}")

    def token_stream(self) -> "QuantScheme":
        """The scheme of the token stream's quantizers: act_bits = token_bits when set."""
        return self if self.token_bits is None else replace(self, act_bits=self.token_bits)

    @classmethod
    def float_reference(cls) -> "QuantScheme":
        return cls(enabled=False)


# (signed, po2, calibrator) -> Brevitas activation quantizer; 'minmax'/'percentile' are the runtime-stats
# quantizers with their statistic overridden, 'mse' Brevitas' MSE-searched ones.
_ACT_BASE = {(True, False): Int8ActPerTensorFloat, (False, False): Uint8ActPerTensorFloat,
             (True, True): Int8ActPerTensorFixedPoint, (False, True): Uint8ActPerTensorFixedPoint}
_ACT_MSE = {(True, False): Int8ActPerTensorFloatMSE, (False, False): Uint8ActPerTensorFloatMSE,
            (True, True): Int8ActPerTensorFixedPointMSE, (False, True): Uint8ActPerTensorFixedPointMSE}
# asymmetric (unsigned with a zero point, from the min and max): po2 -> calibrator
_ACT_SHIFTED = {(False, "mse"): ShiftedUint8ActPerTensorFloatMSE, (True, "mse"): ShiftedUint8ActPerTensorFixedPointMSE,
                (False, "minmax"): ShiftedUint8ActPerTensorFloat, (True, "minmax"): ShiftedUint8ActPerTensorFixedPoint}
_WEIGHT = {(False, "minmax"): Int8WeightPerChannelFloat, (False, "mse"): Int8WeightPerChannelFloatMSE,
           (True, "minmax"): Int8WeightPerChannelFixedPoint, (True, "mse"): Int8WeightPerChannelFixedPointMSE}


class _LargestChannelRange(nn.Module):
    """Scale statistic of the filter-wise shift, on a (C, N) view: max over channels of (max - min), and
    at least max/2 and -min of every channel. The zero points are kept within +-(2^bits - 1) so that the
    folded bias sum_c z_c w(o, c) stays the size of one more input term (the accumulator grows by one bit,
    not by the channel's offset); these two floors keep every channel inside its codes with such a zero
    point. (Channels far from zero on the positive side get a scale set by max/2 instead of their range.)"""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        lo, hi = x.amin(1), x.amax(1)
        return torch.maximum(torch.maximum(hi - lo, hi / 2), -lo).max()


class _NegativeMin(nn.Module):
    """Zero-point statistic of the filter-wise shift: -min per channel, on a (C, N) view (not clamped at 0:
    a channel of only positive values gets a negative zero point, its codes still start at its minimum)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return -x.amin(1)


class _ChannelZeroPoint(ParameterFromRuntimeZeroPoint):
    """Brevitas' runtime zero point, one per channel, rounded and kept within +-(2^bits - 1) instead of
    being made non-negative and clamped to the codes: a channel whose values are all positive gets a
    negative zero point (an integer the conv bias absorbs all the same), so its codes still start at its
    minimum instead of being clipped."""

    def forward(self, x, scale, bit_width):
        if self.training:
            stat = self.training_forward(x)
        else:
            stat = self.buffer if self.counter <= self.collect_stats_steps else self.value
        limit = 2.0 ** bit_width - 1
        return torch.clamp(round_ste(stat / scale), -limit, limit)


def _per_channel_view(channels: int) -> dict:
    return {"per_channel_broadcastable_shape": (1, channels, 1, 1), "scaling_stats_permute_dims": (1, 0, 2, 3)}


def _act_quantizer(scheme: QuantScheme, signed: bool, asymmetric: bool = False, channels: int | None = None,
                   per_channel_scale: bool = False):
    if asymmetric and scheme.filter_shift and channels:
        base = _ACT_SHIFTED[(scheme.po2_scales, "minmax")]
        return base.let(scaling_stats_impl=_LargestChannelRange, scaling_stats_input_view_shape_impl=OverOutputChannelView,
                        permute_dims=(1, 0, 2, 3), zero_point_shape=(1, channels, 1, 1), zero_point_stats_impl=_NegativeMin,
                        zero_point_impl=_ChannelZeroPoint)
    if per_channel_scale and scheme.channel_migration and channels:
        return _act_quantizer(scheme, signed).let(scaling_per_output_channel=True, **_per_channel_view(channels))
    if asymmetric:  # percentile calibration has no asymmetric form here: min-max
        return _ACT_SHIFTED[(scheme.po2_scales, "mse" if scheme.act_calibrator == "mse" else "minmax")]
    key = (signed, scheme.po2_scales)
    if scheme.act_calibrator == "mse":
        return _ACT_MSE[key]
    if scheme.act_calibrator == "minmax":
        return _ACT_BASE[key].let(scaling_stats_op=StatsOp.MAX)
    return _ACT_BASE[key].let(scaling_stats_op=StatsOp.PERCENTILE, high_percentile_q=float(scheme.percentile))


def _weight_quantizer(scheme: QuantScheme):
    return _WEIGHT[(scheme.po2_scales, scheme.weight_calibrator)] if scheme.enabled else None


def value(x):
    """The float value of a tensor that may be a Brevitas QuantTensor."""
    return x.value if isinstance(x, QuantTensor) else x


def conv2d(scheme: QuantScheme, in_ch, out_ch, kernel_size, stride=1, groups=1, bias=False, padding=None):
    """A quantized conv; ``padding`` defaults to "same" for odd kernels (kernel_size // 2)."""
    return qnn.QuantConv2d(
        in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2 if padding is None else padding,
        groups=groups, bias=bias,
        weight_quant=_weight_quantizer(scheme), weight_bit_width=scheme.weight_bits,
        bias_quant=Int32Bias if scheme.enabled else None,
    )


def linear(scheme: QuantScheme, in_features, out_features, bias=True):
    return qnn.QuantLinear(
        in_features, out_features, bias=bias,
        weight_quant=_weight_quantizer(scheme), weight_bit_width=scheme.weight_bits,
        bias_quant=Int32Bias if scheme.enabled else None,
    )


def act_quant(scheme: QuantScheme, signed: bool = True, asymmetric: bool = False, channels: int | None = None,
              per_channel_scale: bool = False) -> nn.Module:
    """An activation quantizer (identity when quantization is off), per tensor unless stated.

    ``signed=False`` is for tensors known to be non-negative (after ReLU): one more bit of resolution.
    ``asymmetric=True`` (honoured when ``scheme.asym_post_act`` or ``scheme.filter_shift``): unsigned codes
    with a zero point; with ``filter_shift`` and ``channels`` one zero point per channel.
    ``per_channel_scale=True`` (honoured when ``scheme.channel_migration``, needs ``channels``): one scale per
    channel (the input of a depthwise conv).
    """
    if not scheme.enabled:
        return nn.Identity()
    asymmetric = asymmetric and (scheme.asym_post_act or scheme.filter_shift)
    return qnn.QuantIdentity(act_quant=_act_quantizer(scheme, signed, asymmetric, channels, per_channel_scale),
                             bit_width=scheme.act_bits, return_quant_tensor=True)
