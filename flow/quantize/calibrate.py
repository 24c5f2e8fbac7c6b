"""Post-training calibration with Brevitas' own machinery."""

import torch
from brevitas.graph.calibrate import bias_correction_mode, calibration_mode
from brevitas.nn import QuantIdentity

from flow.progress import progress, say

from .fast_mse import fast_mse_search


def batches(images, batch_size):
    for i in range(0, len(images), batch_size):
        yield images[i:i + batch_size]


class _Reached(Exception):
    pass


def module_inputs(model, module, images: torch.Tensor, batch_size: int) -> list:
    """The input ``module`` receives when ``model`` runs on ``images``, batch by batch (each forward stops
    there: nothing downstream is needed)."""
    seen = []

    def grab(_mod, args):
        seen.append(args[0])
        raise _Reached

    handle = module.register_forward_pre_hook(grab)
    try:
        with torch.no_grad():
            for x in batches(images, batch_size):
                try:
                    model(x)
                except _Reached:
                    pass
    finally:
        handle.remove()
    return seen


def calibrate(model, images: torch.Tensor, batch_size: int = 16) -> None:
    """Collect activation statistics (quantization off while collecting) and fix every activation scale.
    Brevitas' MSE searches evaluate their candidates with the compiled kernel (flow.quantize.fast_mse:
    the same choices)."""
    model.eval()
    with torch.no_grad(), calibration_mode(model), fast_mse_search(model) as searches:
        for x in progress(batches(images, batch_size), "quantize", "calibration batch", -(-len(images) // batch_size)):
            model(x)
    say("quantize", f"calibrated activation ranges on {len(images)} images" + _search_note(searches))


def _search_note(searches: dict) -> str:
    if not searches:
        return ""
    ran = sum(n for _, n, _ in searches.values())
    kernel = ran - sum(d for _, _, d in searches.values())
    refused = sum(1 for v, _, _ in searches.values() if v is False)
    return (f" (MSE searches: {kernel} of {ran} by the compiled loss kernel, the rest by Brevitas"
            + (f"; {refused} quantizers failed its check and kept Brevitas'" if refused else "") + ")")


def correct_bias(model, images: torch.Tensor, batch_size: int = 16) -> None:
    """Brevitas bias correction: shift each layer's bias by the mean error its quantization introduced."""
    model.eval()
    with torch.no_grad(), bias_correction_mode(model):
        for x in progress(batches(images, batch_size), "quantize", "bias-correction batch",
                          -(-len(images) // batch_size)):
            model(x)
    say("quantize", f"bias correction on {len(images)} images")


def constant_scale(quant: QuantIdentity) -> bool:
    """A quantizer whose scale is a constant of the model (a DeiT's softmax output, 2^-bits): nothing to
    calibrate."""
    from brevitas.core.scaling import ConstScaling

    tensor_quant = getattr(getattr(quant.act_quant, "fused_activation_quant_proxy", None), "tensor_quant", None)
    return isinstance(getattr(tensor_quant, "scaling_impl", None), ConstScaling)


def uncalibrated_quantizers(model) -> list:
    """Activation quantizers whose scale was never set from data (Brevitas keeps a runtime-stats scale
    out of the state dict until statistics were collected); constant-scale ones need none."""
    keys = list(model.state_dict())
    return [name for name, mod in model.named_modules()
            if isinstance(mod, QuantIdentity) and mod.act_quant.is_quant_enabled and not constant_scale(mod)
            and not any(k.startswith(f"{name}.act_quant.") and k.endswith(".value") for k in keys)]
