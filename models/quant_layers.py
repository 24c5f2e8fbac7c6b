"""Brevitas layer factories for the model, driven by one QuantScheme.

Every tensor that crosses a hardware layer boundary passes through an activation quantizer, so the
exported QONNX graph is integer-representable end to end. With ``QuantScheme(enabled=False)`` every
quantizer is an identity and the model is the float reference.
"""

from dataclasses import dataclass

import torch.nn as nn
import brevitas.nn as qnn
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8ActPerTensorFloat,
    Int8WeightPerChannelFloat,
    Uint8ActPerTensorFixedPoint,
    Uint8ActPerTensorFloat,
)
from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint  # not re-exported by brevitas.quant
from brevitas.quant_tensor import QuantTensor

from flow.errors import FlowError


@dataclass(frozen=True)
class QuantScheme:
    """How the model is quantized.

    enabled:     False builds the float reference (all quantizers are identities).
    weight_bits: bit width of conv/linear weights (per-output-channel, symmetric).
    act_bits:    bit width of every activation tensor (per-tensor; unsigned after ReLU).
    po2_scales:  restrict every scale to a power of two (requantization becomes a pure shift);
                 False leaves scales free (requantized later by an integer multiplier and a shift).
    """

    enabled: bool = True
    weight_bits: int = 8
    act_bits: int = 8
    po2_scales: bool = False

    def __post_init__(self):
        for field in ("weight_bits", "act_bits"):
            bits = getattr(self, field)
            if not isinstance(bits, int) or not 2 <= bits <= 16:
                raise FlowError(f"{field}={bits!r} is out of range; supported bit widths are 2..16")

    @classmethod
    def float_reference(cls) -> "QuantScheme":
        return cls(enabled=False)


def value(x):
    """The float value of a tensor that may be a Brevitas QuantTensor."""
    return x.value if isinstance(x, QuantTensor) else x


def conv2d(scheme: QuantScheme, in_ch, out_ch, kernel_size, stride=1, groups=1, bias=False):
    weight_quant = None
    if scheme.enabled:
        weight_quant = Int8WeightPerChannelFixedPoint if scheme.po2_scales else Int8WeightPerChannelFloat
    return qnn.QuantConv2d(
        in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=bias,
        weight_quant=weight_quant, weight_bit_width=scheme.weight_bits, bias_quant=None,
    )


def linear(scheme: QuantScheme, in_features, out_features, bias=True):
    weight_quant = None
    if scheme.enabled:
        weight_quant = Int8WeightPerChannelFixedPoint if scheme.po2_scales else Int8WeightPerChannelFloat
    return qnn.QuantLinear(
        in_features, out_features, bias=bias,
        weight_quant=weight_quant, weight_bit_width=scheme.weight_bits, bias_quant=None,
    )


def act_quant(scheme: QuantScheme, signed: bool = True) -> nn.Module:
    """A per-tensor activation quantizer (identity when quantization is off).

    ``signed=False`` is for tensors known to be non-negative (after ReLU): one more bit of resolution.
    """
    if not scheme.enabled:
        return nn.Identity()
    if signed:
        quant = Int8ActPerTensorFixedPoint if scheme.po2_scales else Int8ActPerTensorFloat
    else:
        quant = Uint8ActPerTensorFixedPoint if scheme.po2_scales else Uint8ActPerTensorFloat
    return qnn.QuantIdentity(act_quant=quant, bit_width=scheme.act_bits, return_quant_tensor=True)
