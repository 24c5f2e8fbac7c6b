"""One block of a quantized EfficientViT as a model of its own (``flow build --block NAME``).

A researcher often wants one block through the flow (to study it, or because the whole model does not
fit a target): BlockModel is that block behind a copy of the quantizer that produced its input in the
full model, so the block sees the same integer codes it sees there. cut_block() finds both by running
the full model once, and returns the block's float inputs on the given images: the block's calibration
and check data, the way images are the full model's.
"""

import copy

import torch
import torch.nn as nn
from brevitas.nn import QuantIdentity

from flow.errors import FlowError, choose


class BlockModel(nn.Module):
    """input quantizer -> block; quacks like an EfficientViT where the flow needs it (resolution,
    in_chans, scheme, output_quantizer)."""

    def __init__(self, name, block, input_quant, output_quant, in_shape, scheme):
        super().__init__()
        self.name = name
        self.input_quant = input_quant
        self.block = block
        self.in_chans, self.resolution = in_shape[0], in_shape[1]
        self.scheme = scheme
        self._output_quant = [output_quant]  # a reference into block, not a second child

    def output_quantizer(self):
        return self._output_quant[0]

    def forward(self, x):
        y = self.block(self.input_quant(x))
        return y.value if hasattr(y, "value") else y


def block_names(model) -> list:
    """Names of the model's blocks: the stem's residual blocks and the blocks of every stage."""
    names = [f"stem.{n}" for n, _ in model.stem.named_children() if n.startswith("res")]
    return names + [f"stages.{i}.blocks.{j}" for i, stage in enumerate(model.stages) for j in range(len(stage.blocks))]


def cut_block(model, name: str, images: torch.Tensor):
    """(BlockModel, the block's float inputs on ``images``) for the block ``name`` of quantized ``model``."""
    choose("block", name, block_names(model))
    block = model.get_submodule(name)
    calls, inputs, hooks = [], [], []
    for qname, mod in model.named_modules():
        if isinstance(mod, QuantIdentity):
            hooks.append(mod.register_forward_hook(lambda m, i, o, qname=qname: calls.append((qname, m))))
    start = []
    hooks.append(block.register_forward_pre_hook(lambda m, args: (start.append(len(calls)),
                                                                  inputs.append(args[0]))[0]))
    try:
        with torch.no_grad():
            for i in range(len(images)):
                model(images[i:i + 1])
    finally:
        for h in hooks:
            h.remove()
    first = start[0]
    per_image = len(calls) // len(images)
    if first == 0 or not hasattr(inputs[0], "scale"):
        raise FlowError(f"block '{name}' does not take a quantized tensor as input")
    in_name, in_quant = calls[first - 1]
    inside = [c for c in calls[first:per_image] if c[0].startswith(name + ".")]
    if not inside:
        raise FlowError(f"block '{name}' has no quantizer of its own")
    out_name, out_quant = inside[-1]
    x = torch.cat([t.value if hasattr(t, "value") else t for t in inputs])
    if x.dim() != 4 or x.shape[2] != x.shape[3]:
        raise FlowError(f"block '{name}' input {tuple(x.shape[1:])} is not a square feature map")
    return BlockModel(name, block, copy.deepcopy(in_quant), out_quant, tuple(x.shape[1:3]), model.scheme).eval(), x
