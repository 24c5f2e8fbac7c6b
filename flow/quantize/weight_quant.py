"""Per-layer weight quantizer settings of a Brevitas model: bit widths (mixed precision) and frozen
scales (GPTQ, distillation), set after the model is built and restored when a saved model is loaded."""

import torch
from brevitas.nn import QuantConv2d, QuantLinear


def quant_layers(model) -> dict:
    return {n: m for n, m in model.named_modules()
            if isinstance(m, (QuantConv2d, QuantLinear)) and m.weight_quant.is_quant_enabled}


def set_weight_bits(model, bits: dict) -> None:
    """Give each named layer its weight bit width (re-initialising its Brevitas weight quantizer)."""
    layers = quant_layers(model)
    for name, b in bits.items():
        wq = layers[name].weight_quant
        if int(wq.bit_width()) != b:
            wq.quant_injector = wq.quant_injector.let(bit_width=int(b))
            wq.init_tensor_quant()


def weight_bits_by_layer(model) -> dict:
    return {n: int(m.weight_quant.bit_width()) for n, m in quant_layers(model).items()}


SCALE_KEY = "weight_quant.tensor_quant.scaling_impl.value"


def freeze_weight_scales(model, names=None) -> None:
    """Turn the named layers' (default: all) weight scales from statistics recomputed on every forward
    into parameters initialised from those statistics. GPTQ needs it (it writes weights onto the grid of
    the scale it started with) and distillation then learns the scales (as LSQ/Q-ViT do)."""
    from brevitas.inject.enum import ScalingImplType

    for name, layer in quant_layers(model).items():
        if names is None or name in names:
            wq = layer.weight_quant
            wq.quant_injector = wq.quant_injector.let(scaling_impl_type=ScalingImplType.PARAMETER_FROM_STATS)
            wq.init_tensor_quant()
            with torch.no_grad():
                layer.quant_weight()  # initialise the parameter from the weights' statistics now


def frozen_scale_layers(state_dict) -> set:
    """Layers whose saved state holds a frozen weight scale."""
    return {k[:-len(SCALE_KEY) - 1] for k in state_dict if k.endswith("." + SCALE_KEY)}
