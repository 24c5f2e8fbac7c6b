"""Quantization-aware fine-tuning with distillation from the float teacher (Q-ViT's recipe, reduced to
what a CPU affords): the calibrated quantized model trains its weights, biases and activation scales
through Brevitas' straight-through estimators to match the float model's soft outputs (KL divergence at
temperature T) on unlabelled images. The integer forms (the LayerNorms, a DeiT's softmax) are thawed to
float while training and frozen again from the final scales, so the result exports like any calibrated
model."""

import time

import torch
import torch.nn.functional as F

from flow.progress import progress, say


def distill(model, teacher, images: torch.Tensor, steps: int, lr: float = 1e-4, batch_size: int = 32,
            temperature: float = 2.0, seed: int = 0) -> float:
    """Fine-tune ``model`` in place for ``steps`` steps; returns the last loss."""
    from flow.models.deit import IntSoftmax
    from flow.models.efficientvit import QuantLayerNorm

    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (QuantLayerNorm, IntSoftmax)):  # their integer tables follow the scales being trained
            m.integer = False
    teacher.eval()
    model.eval()  # quantizers use their calibrated parameters; no statistics are collected
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    t0, loss = time.monotonic(), torch.tensor(0.0)
    for step in progress(range(steps), "quantize", "distillation step"):
        idx = torch.randint(len(images), (batch_size,), generator=gen)
        x = images[idx]
        with torch.no_grad():
            soft = F.log_softmax(teacher(x) / temperature, dim=1)
        out = F.log_softmax(model(x) / temperature, dim=1)
        loss = F.kl_div(out, soft, log_target=True, reduction="batchmean") * temperature ** 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    say("quantize", f"distillation from the float model: {steps} steps on {len(images)} images, "
                    f"final loss {loss.item():.4f} ({time.monotonic() - t0:.0f}s)")
    if hasattr(model, "freeze_integer"):
        model.freeze_integer()
    return float(loss.detach())
