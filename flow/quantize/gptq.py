"""GPTQ weight rounding (Brevitas' gptq_mode): each conv/linear layer in turn, its weights are quantized
column by column and the rounding error is compensated on the columns not yet quantized, using the
Hessian of the layer's (quantized) calibration inputs. Only the weights change, so the result is as
hardware-representable as plain rounding."""

import torch
from brevitas.graph.gptq import gptq_mode

from flow.progress import say


def apply_gptq(model, images: torch.Tensor, batch_size: int = 16, act_order: bool = True) -> int:
    """Run GPTQ over every quantized conv/linear layer of ``model`` in place; returns the layer count."""
    model.eval()
    with torch.no_grad(), gptq_mode(model, use_quant_activations=True, act_order=act_order, create_weight_orig=False) as gptq:
        for _ in range(gptq.num_layers):
            for i in range(0, len(images), batch_size):
                gptq.model(images[i:i + batch_size])
            gptq.update()
        layers = gptq.num_layers
    say("quantize", f"GPTQ over {layers} layers on {len(images)} images")
    return layers
