"""DeiT (Touvron et al. 2021) classification models built from Brevitas quantized layers.

Structure and parameter names follow timm's ``VisionTransformer`` as ``deit_tiny_patch16_224`` /
``deit_small_patch16_224`` build it (class token, learned position embedding over the class token and the
patches, pre-norm blocks of softmax multi-head attention and a GELU MLP, LayerNorm eps 1e-6, the class
token's features to the head), so a timm (or facebookresearch/deit) state dict loads as is
(flow.models.checkpoint); at another resolution its position embedding is resampled as timm does
(models/pos_embed.py).

The attention is written out, as timm's with ``fused_attn`` off: q is scaled by head_dim^-1/2 (a power of
two for DeiT's 64-wide heads), q k^T, softmax over the keys, then the weighted sum of v.

What this adds is a quantizer on every tensor an integer engine would hand to the next: the image, the
patch embedding, the position embedding (with the class token folded into its first row, so the class
token and the position embedding are one add of a constant), the token stream after each residual add,
each LayerNorm's input and output, q, k and v, the attention logits, the softmax output (unsigned codes
on the fixed power-of-two scale 2^-bits: the probabilities' own range), the attention output, the
projections, and the GELU's input and output. After calibration the softmax is integer (IntSoftmax), as
the LayerNorms are (QuantLayerNorm). With ``QuantScheme(enabled=False)`` every quantizer is an identity
and the model is timm's float DeiT. The token stream (the embedding after the position add, the residual
sums and the LayerNorms' inputs) takes ``scheme.token_bits`` when that is set: no matmul or linear layer
reads it.
"""

import math

import torch
import torch.nn as nn
import brevitas.nn as qnn
from brevitas.inject.enum import ScalingImplType
from brevitas.quant import Uint8ActPerTensorFixedPoint

from flow.errors import FlowError

from .efficientvit import QuantLayerNorm
from .quant_layers import QuantScheme, act_quant, conv2d, linear, value
from .specs import DeiTSpec, check_multiple
from .two_scale_quant import TwoScaleQuant

LN_EPS = 1e-6  # timm's ViT LayerNorm


# the widest softmax output the accelerator's attn v product reads: an unsigned byte
SOFTMAX_VALUE_BITS = 8


def softmax_quant(scheme: QuantScheme) -> nn.Module:
    """The softmax output's quantizer: unsigned codes on the constant scale 2^-bits (no calibration: a
    probability is in [0, 1], and the largest code reads (2^bits - 1) / 2^bits). With value-aware two
    scales (TSPTQ-ViT's, for the post-softmax tensor: most probabilities are near 0, a few near 1) it is a
    TwoScaleQuant with unsigned fine codes, a power-of-two fine scale (the integer softmax rounds to it)
    and its integers within SOFTMAX_VALUE_BITS, wrapping this one until fit."""
    if not scheme.enabled:
        return nn.Identity()
    bits = scheme.act_bits
    quant = Uint8ActPerTensorFixedPoint.let(scaling_impl_type=ScalingImplType.CONST,
                                            scaling_init=(2 ** bits - 1) / 2 ** bits)
    uniform = qnn.QuantIdentity(act_quant=quant, bit_width=bits, return_quant_tensor=True)
    if scheme.value_two_scale:
        return TwoScaleQuant(uniform, bits, signed_fine=False, po2=True, max_value_bits=SOFTMAX_VALUE_BITS)
    return uniform


class IntSoftmax(nn.Module):
    """Softmax over the last axis, float until ``freeze_integer`` (after calibration), then integer on the
    logits' codes (so the exported graph, the integer program and the hardware compute it alike):

        l = the row's logit codes (scale s_l),  t_j = max(l) - l_j  (0 .. 2^bits - 1)
        e_j = E[t_j],  E[t] = round(2^EXP_BITS exp(-t s_l))     (a table of 2^bits entries)
        S = sum_j e_j,  r = floor(2^RECIP_BITS / S)              (one reciprocal per row)
        code_j = min(floor((e_j r + 2^(k-1)) / 2^k), 2^b - 1),   k = RECIP_BITS - b

    the probability e_j / S in b-bit unsigned codes on the scale 2^-b (the softmax output quantizer's).
    With EXP_BITS = 16 and RECIP_BITS = 40: E[0] = 2^16, S < 2^16 N (< 2^24 for N < 256 tokens), r < 2^24,
    e_j r < 2^41: every step is an integer below 2^53 (exact in float64, where the graph computes it);
    r's truncation moves e_j r by less than e_j <= 2^16, under 2^-(k - 16) = 2^-16 of a code at b = 8."""

    EXP_BITS, RECIP_BITS = 16, 40

    def __init__(self, logits_quant, out_bits):
        super().__init__()
        self.logits_quant, self.out_bits = logits_quant, out_bits
        self.integer = False

    @torch.no_grad()
    def freeze_integer(self):
        if not isinstance(self.logits_quant, qnn.QuantIdentity):
            return
        quant = self.logits_quant.act_quant
        s_l = float(quant.scale().detach().reshape(()))
        bits = int(quant.bit_width())
        t = torch.arange(2 ** bits, dtype=torch.float64)
        self.register_buffer("exp_table", torch.round(2.0 ** self.EXP_BITS * torch.exp(-t * s_l)).long(),
                             persistent=False)
        self.register_buffer("in_scale", torch.tensor(s_l, dtype=torch.float32), persistent=False)
        self.integer = True

    def forward(self, x, out_bits: int | None = None):
        """``x``: the logits quantizer's output. With that quantizer disabled (as block reconstruction does
        for its float targets) the values are not codes, and the float softmax runs. ``out_bits``: the
        output's precision (scale 2^-out_bits) when not ``self.out_bits`` (a two-scale output quantizer's
        fine scale: Attention.softmax_bits)."""
        x = value(x)
        out_bits = self.out_bits if out_bits is None else out_bits
        if not self.integer or not self.logits_quant.act_quant.is_quant_enabled:
            return x.softmax(dim=-1)
        codes = torch.round(x / self.in_scale).long()
        t = codes.amax(dim=-1, keepdim=True) - codes
        e = self.exp_table[t].double()
        # float64 from here: every value is an integer below 2^53, so each step is exact, and the floor
        # of the correctly rounded 2^40 / S is the integer floor (q is at least 1/S from any integer it
        # is not, and float64's error on q < 2^40 is below 2^-13 <= 1/S); torch would export an int64
        # floor division as a float32 one
        r = torch.floor(2.0 ** self.RECIP_BITS / e.sum(dim=-1, keepdim=True))
        k = self.RECIP_BITS - out_bits
        y = torch.clamp(torch.floor((e * r + 2.0 ** (k - 1)) * 2.0 ** -k), max=2.0 ** out_bits - 1)
        return y.float() * 2.0 ** -out_bits


class PatchEmbed(nn.Module):
    """A patch x patch conv with stride patch, flattened to tokens (B, N, C)."""

    def __init__(self, scheme, in_chans, dim, patch):
        super().__init__()
        self.proj = conv2d(scheme, in_chans, dim, patch, stride=patch, bias=True, padding=0)
        self.out_quant = act_quant(scheme, signed=True)

    def forward(self, x):
        x = value(self.proj(x))  # x: the image's quantized tensor (the conv's bias is on its scale)
        return self.out_quant(x.flatten(2).transpose(1, 2))


class Attention(nn.Module):
    """Multi-head softmax self-attention (timm's Attention, fused attention off)."""

    def __init__(self, scheme, dim, heads):
        super().__init__()
        if dim % heads:
            raise FlowError(f"attention width {dim} is not a multiple of its {heads} heads")
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = linear(scheme, dim, 3 * dim, bias=True)
        self.q_quant = act_quant(scheme, signed=True)
        self.k_quant = act_quant(scheme, signed=True)
        self.v_quant = act_quant(scheme, signed=True)
        self.logits_quant = act_quant(scheme, signed=True)
        self.softmax = IntSoftmax(self.logits_quant, scheme.act_bits)
        self.softmax_quant = softmax_quant(scheme)
        self.out_quant = act_quant(scheme, signed=True)
        self.proj = linear(scheme, dim, dim, bias=True)
        self.proj_quant = act_quant(scheme, signed=True)

    @property
    def softmax_bits(self) -> int:
        """The integer softmax's output precision: its quantizer's scale 2^-bits, or a fitted two-scale
        quantizer's fine scale (its values are integers at that scale), or 16 bits while one awaits its fit
        (which then sees the probabilities, not bits-bit codes; its uniform quantizer rounds them as before)."""
        q = self.softmax_quant
        if isinstance(q, TwoScaleQuant):
            return round(-math.log2(q.fine_scale_value)) if q.fitted else 16
        return self.softmax.out_bits

    def forward(self, x):
        B, N, C = value(x).shape
        qkv = value(self.qkv(x)).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k, v = value(self.q_quant(q)), value(self.k_quant(k)), value(self.v_quant(v))
        attn = self.softmax(self.logits_quant((q * self.scale) @ k.transpose(-2, -1)), self.softmax_bits)
        attn = value(self.softmax_quant(attn))
        x = self.out_quant((attn @ v).transpose(1, 2).reshape(B, N, C))  # per tensor: the heads' order is free
        return value(self.proj_quant(value(self.proj(x))))


class Mlp(nn.Module):
    """fc1 -> GELU (erf) -> fc2, with the GELU's input and output quantized (a table on the input codes)."""

    def __init__(self, scheme, dim, hidden):
        super().__init__()
        self.fc1 = linear(scheme, dim, hidden, bias=True)
        self.gelu_in_quant = act_quant(scheme, signed=True)
        self.act = nn.GELU()
        self.gelu_out_quant = act_quant(scheme, signed=True)
        if scheme.enabled and scheme.value_two_scale:  # TSPTQ's value-aware two scales: GELU's long positive tail
            self.gelu_out_quant = TwoScaleQuant(self.gelu_out_quant, scheme.act_bits)
        self.fc2 = linear(scheme, hidden, dim, bias=True)
        self.out_quant = act_quant(scheme, signed=True)

    def forward(self, x):
        x = self.gelu_out_quant(self.act(value(self.gelu_in_quant(value(self.fc1(x))))))
        return value(self.out_quant(value(self.fc2(x))))


class Block(nn.Module):
    """x + attn(norm1(x)), then + mlp(norm2(.)), each sum quantized (the token stream)."""

    def __init__(self, scheme, dim, heads, mlp_ratio):
        super().__init__()
        stream = scheme.token_stream()  # the residual sums and the LayerNorms' inputs (token_bits)
        self.norm1 = QuantLayerNorm(scheme, dim, eps=LN_EPS, in_scheme=stream)
        self.attn = Attention(scheme, dim, heads)
        self.add1_quant = act_quant(stream, signed=True)
        self.norm2 = QuantLayerNorm(scheme, dim, eps=LN_EPS, in_scheme=stream)
        self.mlp = Mlp(scheme, dim, dim * mlp_ratio)
        self.add2_quant = act_quant(stream, signed=True)

    def forward(self, x):
        x = value(self.add1_quant(x + self.attn(self.norm1(x))))
        return value(self.add2_quant(x + self.mlp(self.norm2(x))))


class DeiT(nn.Module):
    """A DeiT classifier. ``scheme`` decides whether (and how) it is quantized."""

    def __init__(self, spec: DeiTSpec, num_classes=1000, resolution=224, in_chans=3,
                 scheme: QuantScheme = QuantScheme()):
        super().__init__()
        self.spec = spec
        self.num_classes = num_classes
        self.resolution = check_multiple(resolution, spec.patch)
        self.in_chans = in_chans
        self.scheme = scheme
        dim = spec.embed_dim
        self.grid = resolution // spec.patch
        self.input_quant = act_quant(scheme, signed=True)
        self.patch_embed = PatchEmbed(scheme, in_chans, dim, spec.patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid ** 2 + 1, dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        self.pos_quant = act_quant(scheme, signed=True)
        self.pos_quant.quantizes_constant = True  # a constant in the graph (flow.models.two_scale_quant)
        self.embed_quant = act_quant(scheme.token_stream(), signed=True)  # the token stream's first tensor
        self.blocks = nn.Sequential(*[Block(scheme, dim, spec.heads, spec.mlp_ratio) for _ in range(spec.depth)])
        self.norm = QuantLayerNorm(scheme, dim, eps=LN_EPS, in_scheme=scheme.token_stream())
        self.head = linear(scheme, dim, num_classes, bias=True)
        self.out_quant = act_quant(scheme, signed=True)
        for mod in self.modules():  # timm's init for a from-scratch model: truncated normal, zero bias
            if isinstance(mod, nn.Linear):
                nn.init.trunc_normal_(mod.weight, std=0.02)
                nn.init.zeros_(mod.bias)

    def position_constant(self):
        """The constant added to [0 | patch tokens]: the position embedding with the class token in its
        first row (the class token and the position embedding as one add)."""
        cls = torch.cat([self.cls_token, torch.zeros_like(self.pos_embed[:, 1:])], dim=1)
        return value(self.pos_quant(cls + self.pos_embed))

    def freeze_integer(self):
        """After calibration: the LayerNorms and the softmaxes switch to their integer forms."""
        for mod in self.modules():
            if isinstance(mod, (QuantLayerNorm, IntSoftmax)):
                mod.freeze_integer()

    def output_quantizer(self):
        return self.out_quant

    def forward(self, x):
        x = value(self.patch_embed(self.input_quant(x)))
        x = torch.cat([torch.zeros_like(x[:, :1]), x], dim=1) + self.position_constant()
        x = self.blocks(value(self.embed_quant(x)))
        x = self.norm(x[:, 0])  # LayerNorm is per token: only the class token's reaches the head
        return value(self.out_quant(value(self.head(x))))
