"""Q-HyViT's per-layer choice of quantization scheme and granularity, guided by the model's output error.

The choices the hardware can carry, per layer:
- scheme of each post-Hardswish tensor that feeds a pointwise conv (the depthwise convs' outputs):
  symmetric (signed, no zero point) or asymmetric (unsigned with a zero point the lowering folds into
  the pointwise conv's bias);
- granularity of each conv/linear layer's weights: one scale per output channel or one per tensor.
(Activations are per tensor throughout: the engines requantize with one scale per tensor.)

Greedy, in model order: each layer takes the other option if that lowers the mean squared error of the
logits against the float model on the search images (Q-HyViT uses a Hessian-weighted output loss; this is
its plain output-error form). A new activation quantizer is calibrated in place, on the inputs the
already-quantized model gives it. A saved model records the result (``scheme_choices``) and loading
restores it (``apply_scheme_choices``).
"""

import dataclasses

import torch
from brevitas.graph.calibrate import calibration_mode

from flow.progress import say

from .calibrate import batches, module_inputs
from .weight_quant import quant_layers


def post_act_positions(model) -> dict:
    """{name: ConvNormAct} whose output quantizer may be symmetric or asymmetric."""
    return {n: m for n, m in model.named_modules() if getattr(m, "asym_capable", False)}


def is_asymmetric(quant) -> bool:
    """True for the unsigned-with-zero-point quantizer (these positions are signed when symmetric)."""
    return not bool(quant.act_quant.is_signed)


def set_post_act(model, name: str, asymmetric: bool) -> None:
    """Give position ``name`` a fresh (uncalibrated) quantizer of the other scheme."""
    from flow.models.quant_layers import act_quant

    # asymmetric keeps the model's form of it: one zero point, or one per channel (filter_shift)
    scheme = dataclasses.replace(model.scheme, asym_post_act=asymmetric,
                                 filter_shift=asymmetric and model.scheme.filter_shift)
    pos = post_act_positions(model)[name]
    pos.out_quant = act_quant(scheme, signed=True, asymmetric=True, channels=pos.conv.out_channels)


def set_weight_per_tensor(layer, per_tensor: bool) -> None:
    wq = layer.weight_quant
    wq.quant_injector = wq.quant_injector.let(scaling_per_output_channel=not per_tensor)
    wq.init_tensor_quant()
    with torch.no_grad():
        layer.quant_weight()  # a scale parameter (frozen scales) starts from the new statistics


def is_per_tensor(layer) -> bool:
    with torch.no_grad():
        return layer.quant_weight().scale.numel() == 1


def scheme_choices(model) -> dict:
    """The per-layer choices in a form a saved model keeps: the asymmetric post-act positions and the
    layers with per-tensor weights."""
    return {"asymmetric_post_act": sorted(n for n, m in post_act_positions(model).items()
                                          if is_asymmetric(m.out_quant)),
            "per_tensor_weights": sorted(n for n, m in quant_layers(model).items() if is_per_tensor(m))}


def apply_scheme_choices(model, choices: dict) -> None:
    """Give a freshly built model (before its saved state is loaded) the recorded choices."""
    positions, layers = post_act_positions(model), quant_layers(model)
    asym, per_tensor = set(choices.get("asymmetric_post_act", [])), set(choices.get("per_tensor_weights", []))
    unknown = sorted((asym - set(positions)) | (per_tensor - set(layers)))
    if unknown:
        raise ValueError(f"no quantizer position {unknown[0]!r} in the model")
    if "asymmetric_post_act" in choices:  # (files saved before the search recorded nothing: as built)
        for name, pos in positions.items():
            if is_asymmetric(pos.out_quant) != (name in asym):
                set_post_act(model, name, asymmetric=name in asym)
    for name in per_tensor:
        set_weight_per_tensor(layers[name], True)


def _calibrate_in_place(model, quant, images, batch_size) -> None:
    """Calibrate one activation quantizer on the inputs the quantized model gives it."""
    seen = module_inputs(model, quant, images, batch_size)
    with calibration_mode(quant):
        for t in seen:
            quant(t)


@torch.no_grad()
def search_schemes(model, float_model, images: torch.Tensor, batch_size: int = 16) -> dict:
    """Choose scheme and granularity layer by layer in place; returns {"post_act": {name: "asym"|"sym"},
    "weights": {name: "channel"|"tensor"}, "error": (before, after)}."""
    model.eval()
    ref = torch.cat([float_model(x) for x in batches(images, batch_size)])

    def error():
        out = torch.cat([model(x) for x in batches(images, batch_size)])
        return float((out - ref).pow(2).mean())

    start = best = error()
    post, weights = {}, {}
    for name, pos in post_act_positions(model).items():
        old = pos.out_quant
        asym = is_asymmetric(old)
        set_post_act(model, name, asymmetric=not asym)
        _calibrate_in_place(model, pos.out_quant, images, batch_size)
        err = error()
        if err < best:
            best, asym = err, not asym
        else:
            pos.out_quant = old
        post[name] = "asym" if asym else "sym"
    for name, layer in quant_layers(model).items():
        per_tensor = is_per_tensor(layer)
        state = {k: v.clone() for k, v in layer.weight_quant.state_dict().items()}
        set_weight_per_tensor(layer, not per_tensor)
        err = error()
        if err < best:
            best, per_tensor = err, not per_tensor
        else:
            set_weight_per_tensor(layer, per_tensor)
            layer.weight_quant.load_state_dict(state)
        weights[name] = "tensor" if per_tensor else "channel"
    n_sym = sum(v == "sym" for v in post.values())
    n_tensor = sum(v == "tensor" for v in weights.values())
    say("quantize", f"scheme search (output error): post-Hardswish tensors {len(post) - n_sym} asymmetric, "
                    f"{n_sym} symmetric; weights {len(weights) - n_tensor} per channel, {n_tensor} per tensor; "
                    f"logit MSE {start:.4g} -> {best:.4g} on {len(images)} images")
    return {"post_act": post, "weights": weights, "error": (start, best)}
