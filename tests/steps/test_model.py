"""The model step: without a checkpoint, the random init is the same on every run (a build is
reproducible); a checkpoint's weights replace it."""

import torch

from flow.config import make_config
from flow.steps.model import build_float_model


def test_random_init_is_the_same_every_run():
    cfg = make_config(model="efficientvit_b0", resolution=32)
    torch.manual_seed(123)  # whatever the caller's generator state
    a = build_float_model(cfg).state_dict()
    torch.rand(5)
    b = build_float_model(cfg).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
