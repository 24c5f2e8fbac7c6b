"""Liu et al.'s ranking-aware interval search (PTQ for ViT, arXiv 2106.14156), for EfficientViT's linear
attention and, in the paper's own form, for a DeiT's softmax attention.

After calibration, every activation quantizer of each attention module (LiteMLA; a DeiT's Attention) gets
its interval (the calibrated
threshold times a factor from FACTORS) chosen to maximise, on the calibration images,

    cosine similarity of the module's output with the float module's output (same input)
    - RANK_WEIGHT x ranking loss of the attention map,

one quantizer after another in forward order, each with those before it already fixed (the paper's
layer-wise search). The attention map of ReLU linear attention is A = q k^T normalised per row (what the
division computes); the ranking loss (the paper's eq. 6) penalises every pair of keys whose order in a
row of the quantized map differs from the float map's: sum of relu(margin - (a_j - a_k) sign(f_j - f_k)),
here over a fixed random sample of RANK_PAIRS key pairs per row. A DeiT's map is its softmax output as
quantized (the paper's target); its searched quantizers are q, k, v, the logits and the attention output
(the softmax output keeps its fixed scale 2^-bits), and the integer softmax's exp table follows the logits'
interval (IntSoftmax.freeze_integer again).

Only thresholds change, so the model stays what the flow exports and lowers (hardware-representable by
construction). A quantizer with power-of-two scales (all of them with po2_scales, num/den/att with the
log2 divisor) tries 1/2, 1 and 2 (a threshold off the power-of-two grid would be rounded back).
"""

import math

import torch
import torch.nn.functional as F

from flow.progress import say

from .calibrate import module_inputs

FACTORS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
PO2_FACTORS = (0.5, 1.0, 2.0)
RANK_WEIGHT = 1.0
RANK_MARGIN = 0.0
RANK_PAIRS = 1024
QUANTIZERS = ("cat_quant", "q_quant", "k_quant", "kv_quant", "ksum_quant", "num_quant", "den_quant", "att_quant")
SOFTMAX_QUANTIZERS = ("q_quant", "k_quant", "v_quant", "logits_quant", "out_quant")  # a DeiT's, in forward order


def _families() -> dict:
    """Attention module class -> (its searched quantizers, the hooked outputs, the attention map from them)."""
    from flow.models.deit import Attention
    from flow.models.efficientvit import LiteMLA

    return {LiteMLA: (QUANTIZERS, ("q_quant", "k_quant"), lambda seen: attention_map(seen["q_quant"], seen["k_quant"])),
            Attention: (SOFTMAX_QUANTIZERS, ("softmax_quant",), lambda seen: seen["softmax_quant"])}


def attention_map(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Row-normalised ReLU-attention map (B, groups, N, N) from ReLU(q), ReLU(k) of shape (B, groups, N, d)."""
    a = q @ k.transpose(-1, -2)
    return a / a.sum(-1, keepdim=True).clamp_min(1e-12)


def ranking_loss(quant: torch.Tensor, ref: torch.Tensor, pairs: torch.Tensor, margin: float = RANK_MARGIN):
    """Mean over rows and sampled key pairs (P x 2 indices) of relu(margin - (a_j - a_k) sign(f_j - f_k))."""
    dq = quant[..., pairs[:, 0]] - quant[..., pairs[:, 1]]
    df = ref[..., pairs[:, 0]] - ref[..., pairs[:, 1]]
    return F.relu(margin - dq * torch.sign(df)).mean()


def _value(x):
    return x.value if hasattr(x, "value") else x


def _run(mla, x):
    """(output, attention map) of an attention module on input x."""
    _, hooked, attention = next(f for cls, f in _families().items() if isinstance(mla, cls))
    seen = {}
    hooks = [getattr(mla, n).register_forward_hook(lambda m, i, o, n=n: seen.__setitem__(n, _value(o)))
             for n in hooked]
    try:
        with torch.no_grad():
            y = _value(mla(x))
    finally:
        for h in hooks:
            h.remove()
    return y, attention(seen)


def _threshold(quantizer):
    return quantizer.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.value


def _is_po2(quantizer) -> bool:
    """Power-of-two scales keep log2 of the threshold (the log2 divisor's num/den/att always do)."""
    impl = quantizer.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl
    return type(impl.restrict_scaling_pre).__name__ == "LogTwo"


def _set_factor(module, qname: str, base: torch.Tensor, factor: float, po2: bool):
    with torch.no_grad():
        _threshold(getattr(module, qname)).copy_(base + math.log2(factor) if po2 else base * factor)
    softmax = getattr(module, "softmax", None)
    if qname == "logits_quant" and getattr(softmax, "integer", False):
        softmax.freeze_integer()  # the integer softmax's table and input scale follow the logits' interval


def search_attention_intervals(model, float_model, images: torch.Tensor, batch_size: int) -> dict:
    """Choose the interval of every attention module's activation quantizers; returns {quantizer name:
    factor}."""
    families = _families()
    gen = torch.Generator().manual_seed(0)
    chosen = {}
    model.eval()
    for name, mla in [(n, m) for n, m in model.named_modules() if isinstance(m, tuple(families))]:
        quantizers = next(f[0] for cls, f in families.items() if isinstance(mla, cls))
        fmla = float_model.get_submodule(name).eval()
        xs = module_inputs(model, model.get_submodule(name), images, batch_size)
        refs = [_run(fmla, _value(x)) for x in xs]
        n_tok = refs[0][1].shape[-1]
        pairs = torch.randint(0, n_tok, (RANK_PAIRS, 2), generator=gen)

        def objective():
            total = 0.0
            for x, (y_f, a_f) in zip(xs, refs):
                y_q, a_q = _run(mla, x)
                cos = F.cosine_similarity(y_q.flatten(1), y_f.flatten(1), dim=1).mean()
                total += float(cos - RANK_WEIGHT * ranking_loss(a_q, a_f, pairs)) * len(x)
            return total / sum(len(x) for x in xs)

        before = objective()
        for qname in quantizers:
            quantizer = getattr(mla, qname)
            po2 = _is_po2(quantizer)
            factors = PO2_FACTORS if po2 else FACTORS
            base = _threshold(quantizer).detach().clone()
            scores = {}
            for f in factors:
                _set_factor(mla, qname, base, f, po2)
                scores[f] = objective()
            best = max(factors, key=lambda f: (scores[f], f == 1.0))
            _set_factor(mla, qname, base, best, po2)
            chosen[f"{name}.{qname}"] = best
        say("quantize", f"interval search (ranking loss) {name}: objective {before:.4f} -> {scores[best]:.4f}")
    return chosen
