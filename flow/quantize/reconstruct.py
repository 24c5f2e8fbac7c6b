"""Block reconstruction of the weight rounding (BRECQ/AdaRound style) with Brevitas' learned-round
trainer (brevitas_examples.common.learned_round): for each reconstruction unit in turn, every weight gets
a learned rounding offset in [-0.5, 0.5] (SignRound/AutoRound's parametrisation, Brevitas' "identity"
learned round) trained so that the unit's output on quantized inputs matches its float output.

Two choices of unit:
- ``block_units``: every block of the model (stem, each stage block, head; a DeiT's patch embedding,
  transformer blocks and head), one after the other (Trio-ViT's block reconstruction);
- ``bridge_units``: only the stages where convolution blocks meet attention blocks, each reconstructed
  as one unit so the conv->attention boundary lies inside it (Q-HyViT's bridge-block reconstruction).

Afterwards the learned rounding is baked into the weights (they sit on the quantization grid) and the
quantizers return to plain rounding, so the exported model and the integer program need nothing new.
"""

import contextlib
import io

import torch
from brevitas.core.function_wrapper.learned_round import LearnedRoundSte
from brevitas.inject.enum import FloatToIntImplType
from brevitas.quant_tensor import IntQuantTensor, QuantTensor

from flow.progress import say, ticker

from .weight_quant import quant_layers


def block_units(model) -> list:
    """Names of every block: the stem, each stage's blocks, the head; a DeiT's patch embedding, its
    transformer blocks and its head."""
    if getattr(model.spec, "family", "") == "deit":
        return ["patch_embed"] + [f"blocks.{i}" for i in range(len(model.blocks))] + ["head"]
    return ["stem"] + [f"stages.{i}.blocks.{j}" for i, st in enumerate(model.stages)
                       for j in range(len(st.blocks))] + ["head"]


def bridge_units(model) -> list:
    """Names of the stages that hold both convolution and attention blocks."""
    from flow.models.efficientvit import EfficientViTBlock

    units = []
    for i, st in enumerate(model.stages):
        kinds = {isinstance(b, EfficientViTBlock) for b in st.blocks}
        if kinds == {True, False}:
            units.append(f"stages.{i}")
    return units


def _trainer_config(iters: int, lr: float, batch_size: int):
    from brevitas_examples.common.learned_round.learned_round_args import (HandlerSpec, LossArgs, OptimizerArgs,
                                                                          TrainerConfig, TrainingArgs)
    from brevitas_examples.common.learned_round.learned_round_method import LearnedRoundArgs

    training = TrainingArgs(
        optimizers_args=[OptimizerArgs(target_params="learned_round", optimizer_cls="Adam", lr=lr,
                                       optimizer_kwargs={}, lr_scheduler_args=None)],
        batch_size=batch_size, iters=iters, losses_args=[LossArgs(cls="mse")], loss_scaling_factor=1.0,
        use_best_model=False, use_amp=False, amp_dtype="float32", fast_update=False)
    return TrainerConfig(training_args=training, training_handlers=[
        HandlerSpec[LearnedRoundArgs](name="learned_round",
                                      config=LearnedRoundArgs(learned_round_param="identity"))])


class _BlockLog(io.StringIO):
    """The trainer's printed log, ticking our progress at each block it reports done."""

    def __init__(self, tick):
        super().__init__()
        self.tick = tick

    def write(self, s):
        if s.startswith("Quantized block"):
            self.tick()
        return super().write(s)


def reconstruct(model, images: torch.Tensor, units: list, iters: int = 200, lr: float = 5e-3,
                batch_size: int = 16, label: str = "block reconstruction") -> dict:
    """Learn the weight rounding of each named unit of ``model`` in place (weight scales must be frozen
    first: the rounding is learned on a fixed grid). Returns {unit: (MSE of the first, of the last
    mini-batch)}, as Brevitas' trainer reports them: noisy, one batch each."""
    from brevitas_examples.common.learned_round.learned_round_trainer import LearnedRoundTrainer
    from brevitas_examples.imagenet_classification.ptq.learned_round_utils import (CacheVision,
                                                                                   vision_block_forward,
                                                                                   vision_forward)

    modules = dict(model.named_modules())
    missing = [u for u in units if u not in modules]
    if missing:
        raise ValueError(f"no reconstruction unit named {missing[0]!r} in the model")
    wanted = [modules[u] for u in units]
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, torch.zeros(len(images))),
                                         batch_size=batch_size)
    trainer = LearnedRoundTrainer(config=_trainer_config(iters, lr, batch_size))

    class QuantInputCache(CacheVision):
        """Brevitas' vision cache keeps a block's input values only; a block whose first layer quantizes its
        bias from the input scale also needs that scale, so the cache remembers it and the block's forward
        gets its input back as a quantized tensor."""

        meta = None

        def store_inputs(self, args, kwargs):
            if isinstance(args[0], QuantTensor):
                x = args[0]
                self.meta = (x.scale, x.zero_point, x.bit_width, x.signed)
            super().store_inputs(args, kwargs)

        def reset_cache(self):
            super().reset_cache()
            self.meta = None

    cache = QuantInputCache()

    def block_forward(block, x):
        if cache.meta is not None:
            x = IntQuantTensor(x, *cache.meta, training=False)
        return vision_block_forward(block, x)

    model.eval()
    with ticker("quantize", "reconstructed block", len(wanted)) as tick:
        log = _BlockLog(tick)  # the trainer prints "Quantized block ..." as it finishes each
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(io.StringIO()):  # its prints, its bars
            trainer.train(model=model, model_forward=vision_forward, block_forward=block_forward,
                          data_loader=loader, cache=cache, get_blocks_fn=lambda _m: wanted, keep_gpu=False)
    losses = {}
    for unit, line in zip(units, [ln for ln in log.getvalue().splitlines() if ln.startswith("Quantized block")]):
        init, best = line.split("initial loss: ")[1].split(", best loss: ")
        losses[unit] = (float(init), float(best.split(",")[0]))
    bake_learned_rounding(model)
    total = sum(v[0] for v in losses.values()), sum(v[1] for v in losses.values())
    say("quantize", f"{label}: {len(units)} units, {iters} steps each on {len(images)} images, "
                    f"output MSE summed over units, first -> last batch {total[0]:.4g} -> {total[1]:.4g}")
    return losses


def bake_learned_rounding(model) -> int:
    """Write each learned-round layer's quantized weights into its float weights and give it back plain
    rounding: the same integers, with no learned-round state left to export or save."""
    count = 0
    for layer in quant_layers(model).values():
        if not any(isinstance(m, LearnedRoundSte) for m in layer.weight_quant.modules()):
            continue
        wq = layer.weight_quant
        with torch.no_grad():
            layer.weight.data = layer.quant_weight().value.detach().clone()
        state = {k: v for k, v in wq.state_dict().items() if "float_to_int_impl" not in k}
        wq.quant_injector = wq.quant_injector.let(float_to_int_impl_type=FloatToIntImplType.ROUND)
        wq.init_tensor_quant()
        wq.load_state_dict(state)
        count += 1
    return count
