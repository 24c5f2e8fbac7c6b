"""Parameter and multiply-accumulate (MAC) counts of a model at its resolution.

MACs count every conv and linear layer (k*k*Cin/groups per output element), the two linear-attention
products of each LiteMLA (k^T [v|1] and q (k^T [v|1])) and the two products of each softmax attention
(q k^T and attn v: heads x N x N x head_dim each). Element-wise work (BN, activations, the
division, residual adds, pooling, LayerNorm) is not counted, as in the published figures.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn

from .checkpoint import is_quantizer_key
from .deit import Attention
from .efficientvit import LiteMLA


@dataclass
class Complexity:
    params: int
    macs: int
    conv_macs: int
    attention_macs: int


def count_complexity(model, resolution: int | None = None) -> Complexity:
    resolution = resolution or model.resolution
    counts = {"conv": 0, "att": 0}

    def conv_hook(mod, inp, out):
        out = out.value if hasattr(out, "value") else out
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            counts["conv"] += out[0].numel() * (mod.in_channels // mod.groups) * kh * kw
        else:
            counts["conv"] += out[0].numel() * mod.in_features

    def attention_hook(mod, inp, out):
        _, c, h, w = inp[0].shape
        groups = (c // mod.dim) * (1 + len(mod.aggreg))  # heads, for the qkv branch and each multi-scale one
        n, d = h * w, mod.dim
        counts["att"] += groups * (n * d * (d + 1)) * 2  # k^T [v|1], then q (k^T [v|1])

    def softmax_attention_hook(mod, inp, out):
        _, n, c = inp[0].shape
        counts["att"] += 2 * n * n * c  # q k^T and attn v over all heads (heads x head_dim = c)

    hooks = []
    for mod in model.modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, LiteMLA):
            hooks.append(mod.register_forward_hook(attention_hook))
        elif isinstance(mod, Attention):
            hooks.append(mod.register_forward_hook(softmax_attention_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, model.in_chans, resolution, resolution))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for name, p in model.named_parameters() if not is_quantizer_key(name))
    return Complexity(params, counts["conv"] + counts["att"], counts["conv"], counts["att"])
