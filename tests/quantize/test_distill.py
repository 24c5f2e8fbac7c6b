"""Distillation fine-tuning (Q-ViT) on a case built to need it: a 3-bit layer far from its float teacher
gets closer by training through Brevitas' straight-through estimators."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from brevitas.nn import QuantLinear
from brevitas.quant import Int8WeightPerChannelFloat

from flow.quantize.distill import distill
from flow.quantize.weight_quant import freeze_weight_scales


def _kl(student, teacher, x):
    with torch.no_grad():
        return F.kl_div(F.log_softmax(student(x), 1), F.log_softmax(teacher(x), 1), log_target=True,
                        reduction="batchmean").item()


def test_distillation_brings_the_quantized_model_towards_the_teacher():
    g = torch.Generator().manual_seed(0)
    teacher = nn.Sequential(nn.Linear(32, 10)).eval()
    with torch.no_grad():
        teacher[0].weight.copy_(3 * torch.randn(10, 32, generator=g))
    student = nn.Sequential(QuantLinear(32, 10, weight_quant=Int8WeightPerChannelFloat, weight_bit_width=3))
    student.load_state_dict(teacher.state_dict(), strict=False)
    freeze_weight_scales(student)
    x = torch.randn(1024, 32, generator=g)
    before = _kl(student, teacher, x)
    distill(student, teacher, x, steps=300, lr=1e-2, batch_size=64)
    after = _kl(student, teacher, x)
    assert after < 0.8 * before, (before, after)  # measured: 0.652 -> 0.482 (seeded)
    assert student[0].quant_weight().int().abs().max() <= 3  # still 3-bit
