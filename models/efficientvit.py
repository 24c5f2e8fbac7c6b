"""EfficientViT (B0..B3) classification models built from Brevitas quantized layers.

Structure and parameter names follow timm's ``efficientvit_mit.py`` (itself a port of
mit-han-lab/efficientvit), so a timm state dict loads as is and an MIT one after key mapping
(flow.models.checkpoint). What this adds is a quantizer on every tensor that crosses a hardware layer
boundary: the input, every conv/linear output (after BN and activation, and before each Hardswish),
every residual sum, the multi-scale concat, the pooled features, the LayerNorm input and output, and each
tensor of the linear attention (ReLU(q), ReLU(k), k^T v, the ones-column sum of k, q (k^T v), the divisor
q (k^T 1) and the division result). BatchNorm stays a float module here; the quantize stage folds it
into the conv before calibration.

Linear attention is always used (as timm does). MIT's model switches to the mathematically equal
quadratic form when H*W <= head dim; the only difference is where eps enters.
"""

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from brevitas.nn import QuantIdentity

from flow.errors import FlowError

from .quant_layers import QuantScheme, act_quant, conv2d, linear, value
from .specs import ModelSpec, check_resolution
from .two_scale_quant import ChannelTwoScaleQuant, TwoScaleQuant


class HardSwish(nn.Module):
    """x * clip(x / 6 + 1/2, 0, 1): ONNX's HardSwish formula, written out as its float32 steps.

    torch's hardswish rounds differently (x * relu6(x + 3) / 6); on quantized inputs that lands on
    rounding ties of the next quantizer often enough to matter. Written as these steps, PyTorch, the
    exported graph (Mul, Add, Clip, Mul) and the hardware's lookup table all compute the same floats.
    """

    in_place = False  # set by flow.quantize.inference.fast_quant_inference: the same floats, one new tensor

    def forward(self, x):
        if self.in_place and not torch.is_grad_enabled():
            return torch.mul(x, 1.0 / 6.0).add_(0.5).clamp_(0.0, 1.0).mul_(x)
        return x * torch.clamp(x * (1.0 / 6.0) + 0.5, 0.0, 1.0)


class ConvNormAct(nn.Module):
    """conv -> BN (optional) -> [quantizer -> Hardswish] (optional) -> output quantizer.

    The quantizer before the Hardswish makes the activation a function of an int8 (act_bits) value, which
    the hardware evaluates as a lookup table, bit-exact with the exported graph by construction.
    """

    def __init__(self, scheme, in_ch, out_ch, kernel_size=1, stride=1, groups=1, bias=False, norm=True, act=False,
                 asym_out=False, migrate_out=False):
        super().__init__()
        self.conv = conv2d(scheme, in_ch, out_ch, kernel_size, stride=stride, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(out_ch) if norm else nn.Identity()
        self.pre_act_quant = act_quant(scheme, signed=True) if act else nn.Identity()
        self.act = HardSwish() if act else nn.Identity()
        # asym_out: the output feeds a pointwise conv, so with scheme.asym_post_act (one zero point) or
        # scheme.filter_shift (one per channel) it may carry zero points; migrate_out: it feeds a depthwise
        # conv, so with scheme.channel_migration it has one scale per channel, or with scheme.value_two_scale
        # two scales for small and large values
        self.asym_capable = asym_out
        self.out_quant = act_quant(scheme, signed=True, asymmetric=asym_out, channels=out_ch,
                                   per_channel_scale=migrate_out)
        if migrate_out and scheme.enabled and scheme.value_two_scale:
            self.out_quant = TwoScaleQuant(self.out_quant, scheme.act_bits)

    def forward(self, x):
        x = self.conv(x)
        x = self.norm(value(x))
        x = self.act(value(self.pre_act_quant(x)))
        return self.out_quant(x)


class DSConv(nn.Module):
    """Depthwise 3x3 (+BN, Hardswish) then pointwise 1x1 (+BN)."""

    def __init__(self, scheme, in_ch, out_ch, stride=1, fewer_norm=False):
        super().__init__()
        self.depth_conv = ConvNormAct(scheme, in_ch, in_ch, 3, stride, groups=in_ch,
                                      bias=fewer_norm, norm=not fewer_norm, act=True, asym_out=True)
        self.point_conv = ConvNormAct(scheme, in_ch, out_ch, 1, bias=False, norm=True, act=False)

    def forward(self, x):
        return self.point_conv(self.depth_conv(x))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (Hardswish) -> depthwise 3x3 (Hardswish) -> 1x1 project.

    ``fewer_norm`` (stride-2 blocks of stages 3-4 and the MBConv of EfficientViT blocks): bias instead of
    BN on the first two convs, BN only on the projection.
    """

    def __init__(self, scheme, in_ch, out_ch, stride=1, expand_ratio=4, fewer_norm=False):
        super().__init__()
        mid = round(in_ch * expand_ratio)
        self.inverted_conv = ConvNormAct(scheme, in_ch, mid, 1, bias=fewer_norm, norm=not fewer_norm, act=True,
                                         migrate_out=True)
        self.depth_conv = ConvNormAct(scheme, mid, mid, 3, stride, groups=mid,
                                      bias=fewer_norm, norm=not fewer_norm, act=True, asym_out=True)
        self.point_conv = ConvNormAct(scheme, mid, out_ch, 1, bias=False, norm=True, act=False)

    def forward(self, x):
        return self.point_conv(self.depth_conv(self.inverted_conv(x)))


class MultiScaleAggregation(nn.Module):
    """Depthwise kxk on q|k|v, then a grouped 1x1 (one group per head and per q/k/v).

    Children are named "0" and "1" like the reference's nn.Sequential, so checkpoints load unchanged.
    """

    def __init__(self, scheme, channels, heads, kernel_size):
        super().__init__()
        self.add_module("0", conv2d(scheme, channels, channels, kernel_size, groups=channels))
        self.mid_quant = act_quant(scheme, signed=True)
        self.add_module("1", conv2d(scheme, channels, channels, 1, groups=3 * heads))
        self.out_quant = act_quant(scheme, signed=True)

    def forward(self, x):
        x = self.mid_quant(value(getattr(self, "0")(x)))
        return self.out_quant(value(getattr(self, "1")(x)))


class LiteMLA(nn.Module):
    """Lightweight multi-scale ReLU linear attention.

    out = (ReLU(q) (ReLU(k)^T v)) / (ReLU(q) (ReLU(k)^T 1) + eps), computed with the padded-ones trick
    (k^T [v | 1]); the two columns of that product are quantized separately because their ranges differ
    by orders of magnitude.

    Quantized, eps is half an LSB of the quantized divisor: the divisor (2 d + 1) s / 2 is then exact in
    float and never zero, so the division has one integer meaning. The float model keeps ``eps``.

    With ``scheme.log2_divisor`` (Trio-ViT) the divisor is rounded in the log domain to
    2^e s / 2 with e = round(log2(2 d + 1)), a 4-bit exponent, and the division becomes a shift; num, den
    and att then take power-of-two scales (see __init__).
    log2 of an odd integer is never within 1e-6 of a half-integer for d < 2^16, so float32 rounds e
    the way exact arithmetic does.
    """

    LOG2_EXP_BITS = 4

    def __init__(self, scheme, channels, head_dim, scales=(5,), eps=1e-5):
        super().__init__()
        self.dim = head_dim
        self.eps = eps
        heads = channels // head_dim
        total = heads * head_dim
        self.qkv = ConvNormAct(scheme, channels, 3 * total, 1, bias=False, norm=False, act=False)
        self.aggreg = nn.ModuleList([MultiScaleAggregation(scheme, 3 * total, heads, k) for k in scales])
        self.cat_quant = act_quant(scheme, signed=True)
        self.kernel_func = nn.ReLU()
        self.q_quant = act_quant(scheme, signed=False)
        self.k_quant = act_quant(scheme, signed=False)
        self.kv_quant = act_quant(scheme, signed=True)
        self.ksum_quant = act_quant(scheme, signed=False)
        # With the log2 divisor the quotient num / 2^e lands on exact halves of the att grid; power-of-two
        # scales for num, den and att make those ties exact in float too, so QONNX and the integer
        # program round them alike (a shift-only unit, as in Trio-ViT).
        shift_only = dataclasses.replace(scheme, po2_scales=True) if scheme.log2_divisor else scheme
        self.num_quant = act_quant(shift_only, signed=True)
        self.den_quant = act_quant(shift_only, signed=False)
        self.att_quant = act_quant(shift_only, signed=True)
        self.proj = ConvNormAct(scheme, total * (1 + len(scales)), channels, 1, bias=False, norm=True, act=False)
        self.log2_divisor = scheme.enabled and scheme.log2_divisor
        if self.log2_divisor and round(math.log2(2 ** (scheme.act_bits + 1) - 1)) >= 2 ** self.LOG2_EXP_BITS:
            raise FlowError(f"log2_divisor: a {scheme.act_bits}-bit divisor needs more than a "
                            f"{self.LOG2_EXP_BITS}-bit exponent")

    def _divide(self, num, den):
        half = self._den_half_lsb()
        if half is None:  # float model, or quantization switched off for a float reference pass
            return num / (den + self.eps)
        if not self.log2_divisor:
            return num / (den + half)
        exp = torch.round(torch.log2(den / half + 1))  # den / half + 1 = 2 d + 1, exact
        return num / (torch.pow(2.0, exp) * half)

    def _den_half_lsb(self):
        """Half the divisor's LSB (the quantized model's epsilon), None without a divisor quantizer or
        with it switched off. From the quantizer module, not the tensor type: under export the quantizers
        return plain tensors."""
        if isinstance(self.den_quant, QuantIdentity):
            scale = self.den_quant.act_quant.scale()
            return None if scale is None else scale / 2
        return None

    def forward(self, x):
        B, _, H, W = x.shape
        qkv = self.qkv(x)
        multi_scale = [value(qkv)] + [value(op(qkv)) for op in self.aggreg]
        qkv = value(self.cat_quant(torch.cat(multi_scale, dim=1)))
        qkv = qkv.reshape(B, -1, 3 * self.dim, H * W).transpose(-1, -2)  # (B, groups, N, 3*dim)
        q, k, v = qkv.chunk(3, dim=-1)
        q = value(self.q_quant(self.kernel_func(q)))
        k = value(self.k_quant(self.kernel_func(k)))
        kv_ext = k.transpose(-1, -2) @ F.pad(v, (0, 1), mode="constant", value=1.0)  # (B, G, dim, dim+1)
        kv = value(self.kv_quant(kv_ext[..., :-1]))
        ksum = value(self.ksum_quant(kv_ext[..., -1:]))
        num = value(self.num_quant(q @ kv))
        den = value(self.den_quant(q @ ksum))
        out = self.att_quant(self._divide(num, den))
        # transpose/reshape keep a QuantTensor's scale, so proj sees a quantized input (int32 bias quant)
        return self.proj(out.transpose(-1, -2).reshape(B, -1, H, W))


class ResidualBlock(nn.Module):
    """main(x) (+ x when ``shortcut``), the sum re-quantized."""

    def __init__(self, scheme, main, shortcut=True):
        super().__init__()
        self.main = main
        self.shortcut = shortcut
        self.out_quant = act_quant(scheme, signed=True) if shortcut else nn.Identity()

    def forward(self, x):
        y = self.main(x)
        if not self.shortcut:
            return y
        return self.out_quant(value(y) + value(x))


class EfficientViTBlock(nn.Module):
    """Context module (LiteMLA, residual) then local module (MBConv, residual)."""

    def __init__(self, scheme, channels, head_dim, expand_ratio, eps):
        super().__init__()
        self.context_module = ResidualBlock(scheme, LiteMLA(scheme, channels, head_dim, eps=eps))
        self.local_module = ResidualBlock(
            scheme, MBConv(scheme, channels, channels, 1, expand_ratio, fewer_norm=True))

    def forward(self, x):
        return self.local_module(self.context_module(x))


class Stem(nn.Module):
    def __init__(self, scheme, in_ch, out_ch, depth):
        super().__init__()
        self.in_conv = ConvNormAct(scheme, in_ch, out_ch, 3, stride=2, norm=True, act=True)
        for i in range(depth):
            self.add_module(f"res{i}", ResidualBlock(scheme, DSConv(scheme, out_ch, out_ch)))
        self.depth = depth

    def forward(self, x):
        x = self.in_conv(x)
        for i in range(self.depth):
            x = getattr(self, f"res{i}")(x)
        return x


class Stage(nn.Module):
    """A stride-2 MBConv, then MBConv residual blocks (stages 1-2) or EfficientViT blocks (stages 3-4)."""

    def __init__(self, scheme, in_ch, out_ch, depth, spec: ModelSpec, vit_stage, eps):
        super().__init__()
        blocks = [ResidualBlock(scheme, MBConv(scheme, in_ch, out_ch, 2, spec.expand_ratio, fewer_norm=vit_stage),
                                shortcut=False)]
        if vit_stage:
            blocks += [EfficientViTBlock(scheme, out_ch, spec.head_dim, spec.expand_ratio, eps) for _ in range(depth)]
        else:
            blocks += [ResidualBlock(scheme, MBConv(scheme, out_ch, out_ch, 1, spec.expand_ratio))
                       for _ in range(depth - 1)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        return self.blocks(x)


class QuantLayerNorm(nn.LayerNorm):
    """LayerNorm between an input and an output quantizer (parameter names unchanged).

    Until ``freeze_integer()`` is called (after calibration) it is torch's float LayerNorm, so the output
    quantizer calibrates on the usual distribution. Frozen, it becomes an integer LayerNorm with one exact
    integer meaning, which the exported graph, the integer program and the hardware all compute alike.
    With q the C input codes, all integers:

        S = sum(q),  d = C q - S,  V = sum(d^2),  sigma = max(isqrt(V), 1)
        y = clamp(round_half_even((d a_c + sigma b_c) / (sigma 2^k)), lo, hi)

    d / sigma = (x - mean) / std * C^(-1/2) exactly (without eps), so a_c = round(gamma_c sqrt(C) 2^k / s_out)
    and b_c = round(beta_c 2^k / s_out), with k chosen so |a_c| <= 2^LN_COEF_BITS (equal when the largest
    |gamma_c sqrt(C) / s_out| is a power of two: 17 signed bits). The graph computes this
    in float64, where every step up to the final division is exact (|V| < 2^53 for C <= 2560 at 8 bits;
    checked) and the rounded quotient is the exact one (proof in flow.lower.layernorm).
    """

    LN_COEF_BITS = 15

    def __init__(self, scheme, features, eps=1e-5, in_scheme=None):
        """``in_scheme``: the input quantizer's scheme when not ``scheme`` (a DeiT's token stream)."""
        super().__init__(features, eps=eps)
        in_scheme = in_scheme or scheme
        self.in_quant = act_quant(in_scheme, signed=True)
        if scheme.enabled and scheme.outlier_two_scale:  # TSPTQ's outlier-aware two scales on the channels
            self.in_quant = ChannelTwoScaleQuant(self.in_quant, in_scheme.act_bits, features,
                                                 self.exact_input_shift(in_scheme.act_bits, features))
        self.out_quant = act_quant(scheme, signed=True)
        self.integer = False

    @staticmethod
    def exact_input_shift(bits: int, features: int, limit: int = 8) -> int:
        """The largest left shift of the input codes (outlier-aware two scales) that keeps the worst-case
        variance C^3 2^(2 (bits + k)) inside float64's exact integers (see freeze_integer), at most ``limit``."""
        k = 0
        while k < limit and features ** 3 * 2 ** (2 * (bits + k + 1)) < 2 ** 53:
            k += 1
        return k

    def _input_scale(self) -> tuple:
        """(s_in, k, bits): the input's codes are bits-bit integers at s_in once shifted left by up to k bits
        (the outlier-aware two scales; k = 0 otherwise). Its width is the input quantizer's own, which
        differs from the output's in a DeiT's token stream (QuantScheme.token_bits)."""
        quant = self.in_quant
        if isinstance(quant, ChannelTwoScaleQuant):
            if quant.fitted:
                return quant.fine_scale.detach().double().reshape(()), quant.max_shift, quant.bits
            quant = quant.uniform
        return quant.act_quant.scale().detach().double().reshape(()), 0, int(quant.act_quant.bit_width())

    @torch.no_grad()
    def freeze_integer(self):
        """Switch to the integer LayerNorm, with coefficients from the calibrated scales."""
        if not isinstance(self.out_quant, QuantIdentity):
            return
        quant = self.out_quant.act_quant
        s_in, in_shift, in_bits = self._input_scale()
        s_out = quant.scale().detach().double().reshape(())
        bits, C = int(quant.bit_width()), self.normalized_shape[0]
        a = self.weight.detach().double() * math.sqrt(C) / s_out
        k = self.LN_COEF_BITS - math.ceil(math.log2(max(float(a.abs().max()), 1e-30)))
        a, b = torch.round(a * 2.0 ** k), torch.round(self.bias.detach().double() * 2.0 ** k / s_out)
        d_max = (1 << (in_bits + in_shift)) * C  # |C q - S| <= C (max q - min q) < 2^in_bits C (codes << k)
        v_max = C * d_max ** 2
        n_max = d_max * float(a.abs().max()) + math.isqrt(v_max) * float(b.abs().max())
        if max(v_max, n_max) >= 2 ** 53:
            raise FlowError(f"integer LayerNorm over {C} features at {in_bits} bits leaves float64's exact range "
                            f"(worst-case |V| {v_max:.3g}, |N| {n_max:.3g}, limit 2^53)")
        self.register_buffer("ln_a", a, persistent=False)
        self.register_buffer("ln_b", b, persistent=False)
        self.register_buffer("ln_pow2k", torch.tensor(2.0 ** k, dtype=torch.float64), persistent=False)
        self.register_buffer("ln_s_in", s_in.float(), persistent=False)
        self.register_buffer("ln_s_out", s_out.float(), persistent=False)
        self.ln_range = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        self.integer = True

    def _integer_forward(self, x):
        q = torch.round(x / self.ln_s_in).double()
        C = q.shape[-1]
        d = q * C - q.sum(-1, keepdim=True)
        # sum(d^2) as a (1 x C) (C x 1) product: d * d exports as a Mul with one input twice, which
        # qonnx's tensor renaming breaks (it renames one of the two references)
        v = torch.matmul(d.unsqueeze(-2), d.unsqueeze(-1)).squeeze(-1)
        sigma = torch.clamp(torch.floor(torch.sqrt(v)), min=1.0)
        y = torch.round((d * self.ln_a + sigma * self.ln_b) / (sigma * self.ln_pow2k))
        y = torch.clamp(y, *self.ln_range)
        return y.float() * self.ln_s_out

    def forward(self, x):
        x = value(self.in_quant(value(x)))
        y = self._integer_forward(x) if self.integer else super().forward(x)
        return self.out_quant(y)


class ClassifierHead(nn.Module):
    """1x1 conv (BN, Hardswish) -> global average pool -> Linear -> LayerNorm -> Hardswish -> Linear.

    ``classifier`` children are numbered like timm's (0 Linear, 1 LayerNorm, 2 Hardswish, 3 its output
    quantizer where timm has Dropout, 4 Linear) so checkpoints load unchanged.
    """

    def __init__(self, scheme, in_ch, widths, num_classes):
        super().__init__()
        self.in_conv = ConvNormAct(scheme, in_ch, widths[0], 1, norm=True, act=True)
        self.global_pool = nn.AdaptiveAvgPool2d(1)
        self.pool_quant = act_quant(scheme, signed=True)
        self.classifier = nn.Sequential(
            linear(scheme, widths[0], widths[1], bias=False),
            QuantLayerNorm(scheme, widths[1]),
            HardSwish(),
            act_quant(scheme, signed=True),
            linear(scheme, widths[1], num_classes, bias=True),
        )
        self.out_quant = act_quant(scheme, signed=True)

    def forward(self, x):
        x = self.in_conv(x)
        x = self.pool_quant(torch.flatten(self.global_pool(value(x)), 1))
        x = self.classifier[1](value(self.classifier[0](x)))
        x = self.classifier[3](self.classifier[2](value(x)))
        return self.out_quant(value(self.classifier[4](x)))


class EfficientViT(nn.Module):
    """An EfficientViT classifier. ``scheme`` decides whether (and how) it is quantized."""

    def __init__(self, spec: ModelSpec, num_classes=1000, resolution=224, in_chans=3,
                 scheme: QuantScheme = QuantScheme(), attention_eps=1e-5):
        super().__init__()
        self.spec = spec
        self.num_classes = num_classes
        self.resolution = check_resolution(resolution)
        self.in_chans = in_chans
        self.scheme = scheme
        w, d = spec.widths, spec.depths
        self.input_quant = act_quant(scheme, signed=True)
        self.stem = Stem(scheme, in_chans, w[0], d[0])
        self.stages = nn.Sequential(*[
            Stage(scheme, w[i], w[i + 1], d[i + 1], spec, vit_stage=i >= 2, eps=attention_eps) for i in range(4)])
        self.head = ClassifierHead(scheme, w[-1], spec.head_widths, num_classes)

    def freeze_integer(self):
        """After calibration: switch the modules that have an integer form to it (the head's LayerNorm)."""
        for mod in self.modules():
            if isinstance(mod, QuantLayerNorm):
                mod.freeze_integer()

    def output_quantizer(self):
        """The quantizer of the model's output (the logits)."""
        return self.head.out_quant

    def forward(self, x):
        x = self.input_quant(x)
        x = self.stages(self.stem(x))
        return value(self.head(x))
