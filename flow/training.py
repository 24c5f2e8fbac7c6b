"""A plain supervised training loop (float models for benchmarks; QAT fine-tuning builds on it)."""

import math
import time

import torch
import torch.nn.functional as F

from flow.progress import say


def evaluate_top1(model, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            correct += (model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum().item()
    return 100.0 * correct / len(images)


def train_classifier(model, images, labels, epochs=2, batch_size=128, lr=2e-3, weight_decay=0.05, seed=0,
                     augment_flip=True, stage="train"):
    """AdamW with one-cycle cosine learning rate and label smoothing; returns the model (trained in place)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(images) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    t0, step = time.monotonic(), 0
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(images), generator=gen)
        for i in range(0, len(images), batch_size):
            idx = order[i:i + batch_size]
            x, y = images[idx], labels[idx]
            if augment_flip:
                flip = torch.rand(len(x), generator=gen) < 0.5
                x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                say(stage, f"epoch {epoch + 1}/{epochs} step {step}/{steps} loss {loss.item():.3f} "
                           f"({time.monotonic() - t0:.0f}s)")
    model.eval()
    return model
