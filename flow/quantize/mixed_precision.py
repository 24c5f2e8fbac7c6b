"""Mixed-precision weights by nuclear-norm sensitivity under a model-size budget (Liu et al., 2021).

Each quantized conv/linear layer's sensitivity is the nuclear norm of its float output feature matrix
(pixels x channels) on calibration images. Layers start at ``weight_bits - 2`` bits and, in order of
sensitivity per parameter, are raised to ``weight_bits`` or ``weight_bits + 2`` while the total weight
size stays within that of uniform ``weight_bits``. Weights are stored as int8 on the accelerator, so no
layer goes above 8 bits (at W8 every layer stays at 8).
"""

import torch

from flow.progress import say

from .weight_quant import quant_layers, set_weight_bits

MAX_WEIGHT_BITS = 8   # the accelerator's weight buffers hold int8
MIN_WEIGHT_BITS = 2


@torch.no_grad()
def nuclear_norms(float_model, names, images: torch.Tensor, batch_size: int = 16) -> dict:
    """{layer name: nuclear norm of that layer's output (rows: batch x pixels, columns: channels)} in the
    float model (BN folded, same layer names as the quantized one)."""
    modules = dict(float_model.named_modules())
    layers, outs = {n: modules[n] for n in names}, {}

    def hook(name):
        def fn(_mod, _inp, out):
            y = out.value if hasattr(out, "value") else out
            y = y.detach().float()
            mat = y.movedim(1, -1).reshape(-1, y.shape[1]) if y.dim() == 4 else y.reshape(-1, y.shape[-1])
            outs.setdefault(name, []).append(mat)
        return fn

    handles = [m.register_forward_hook(hook(n)) for n, m in layers.items()]
    float_model.eval()
    try:
        float_model(images[:batch_size])
    finally:
        for h in handles:
            h.remove()
    return {n: float(torch.linalg.matrix_norm(torch.cat(outs[n]), ord="nuc")) for n in layers}


def choose_bits(sensitivity: dict, params: dict, weight_bits: int) -> dict:
    """Per-layer bit widths maximising sum(sensitivity x bits) greedily, within the size of uniform
    ``weight_bits``."""
    top = min(weight_bits + 2, MAX_WEIGHT_BITS)
    low = max(weight_bits - 2, MIN_WEIGHT_BITS)
    bits = {n: min(low, top) for n in params}
    budget = weight_bits * sum(params.values()) - sum(bits[n] * params[n] for n in params)
    for name in sorted(params, key=lambda n: sensitivity[n] / params[n], reverse=True):
        for b in range(top, bits[name], -1):
            extra = (b - bits[name]) * params[name]
            if extra <= budget:
                budget -= extra
                bits[name] = b
                break
    return bits


def apply_mixed_precision(model, float_model, images: torch.Tensor, weight_bits: int, batch_size: int = 16) -> dict:
    """Choose and set per-layer weight bits of ``model`` from the sensitivities measured on ``float_model``."""
    layers = quant_layers(model)
    sens = nuclear_norms(float_model, list(layers), images, batch_size)
    bits = choose_bits(sens, {n: m.weight.numel() for n, m in layers.items()}, weight_bits)
    set_weight_bits(model, bits)
    hist = {b: sum(1 for v in bits.values() if v == b) for b in sorted(set(bits.values()))}
    say("quantize", "mixed precision (nuclear norm): " + ", ".join(f"{k} layers at {b} bits" for b, k in hist.items()))
    return bits

