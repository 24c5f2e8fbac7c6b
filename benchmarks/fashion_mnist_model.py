"""The benchmark models, trained on Fashion-MNIST on this CPU and cached:

- EfficientViT-B0 at 64x64: two epochs on the 60,000 training images (about 15 minutes on 2 cores);
- DeiT-Tiny at 64x64 (patch 16: the class token and 16 patch tokens): five epochs (about 25 minutes).

The first call for a model trains it and writes benchmarks/.cache/<model>_r64_fmnist.pt in timm layout;
later calls load that file. ``quick=True`` is the CI-sized stand-in: two epochs on 6,000 images (about a
minute), cached apart.

    python3 benchmarks/fashion_mnist_model.py [--model deit_tiny]   # train (or find) and print the path
"""

import argparse
import sys
import time
from pathlib import Path

import torch

MODEL, RESOLUTION = "efficientvit_b0", 64  # the EfficientViT benchmarks' model
# model -> (resolution, epochs, peak learning rate): DeiT trains from scratch at a lower peak rate
RECIPES = {"efficientvit_b0": (64, 2, 2e-3), "deit_tiny": (64, 5, 1e-3)}
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
QUICK_IMAGES, QUICK_EPOCHS = 6000, 2


def cache_path(model: str = MODEL, quick: bool = False) -> Path:
    return CACHE_DIR / f"{model}_r{RECIPES[model][0]}_fmnist{'_quick' if quick else ''}.pt"


def trained_checkpoint(quick: bool = False, model: str = MODEL) -> Path:
    """Path of the cached float checkpoint, training it first if needed."""
    cache = cache_path(model, quick)
    if cache.is_file():
        return cache
    from flow.data import load_fashion_mnist
    from flow.models import QuantScheme, build_model
    from flow.training import evaluate_top1, train_classifier

    resolution, epochs, lr = RECIPES[model]
    torch.manual_seed(0)
    net = build_model(model, num_classes=10, resolution=resolution, quant=QuantScheme.float_reference())
    x, y = load_fashion_mnist("train", resolution, count=QUICK_IMAGES if quick else None, seed=0 if quick else None)
    t0 = time.monotonic()
    train_classifier(net, x, y, epochs=QUICK_EPOCHS if quick else epochs, lr=lr, stage="fmnist-train")
    xt, yt = load_fashion_mnist("test", resolution, count=1000 if quick else None, seed=0 if quick else None)
    top1 = evaluate_top1(net, xt, yt)
    print(f"trained {model} r{resolution} in {time.monotonic() - t0:.0f}s: float top-1 {top1:.2f}%", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    tmp.rename(cache)
    return cache


def trained_model(quick: bool = False, model: str = MODEL):
    """The float benchmark model (eval mode) with the cached trained weights."""
    from flow.models import QuantScheme, build_model, load_checkpoint

    net = build_model(model, num_classes=10, resolution=RECIPES[model][0], quant=QuantScheme.float_reference())
    load_checkpoint(net, str(trained_checkpoint(quick=quick, model=model)))
    return net.eval()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=MODEL, choices=sorted(RECIPES))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print(trained_checkpoint(quick=args.quick, model=args.model))
