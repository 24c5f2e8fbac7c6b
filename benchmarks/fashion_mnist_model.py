"""The benchmark model: EfficientViT-B0 at 64x64 trained on Fashion-MNIST on this CPU, cached.

The first call trains it (two epochs on the 60,000 training images, about 15 minutes on 2 cores) and
writes benchmarks/.cache/efficientvit_b0_r64_fmnist.pt in timm layout; later calls load that file.
``quick=True`` is the CI-sized stand-in: two epochs on 6,000 images (about a minute), cached apart.
"""

import sys
import time
from pathlib import Path

import torch

MODEL, RESOLUTION, EPOCHS = "efficientvit_b0", 64, 2
CACHE = Path(__file__).resolve().parent / ".cache" / f"{MODEL}_r{RESOLUTION}_fmnist.pt"
QUICK_IMAGES, QUICK_EPOCHS = 6000, 2


def trained_checkpoint(quick: bool = False) -> Path:
    """Path of the cached float checkpoint, training it first if needed."""
    cache = CACHE.with_name(CACHE.stem + "_quick.pt") if quick else CACHE
    if cache.is_file():
        return cache
    from flow.data import load_fashion_mnist
    from flow.models import QuantScheme, build_model
    from flow.training import evaluate_top1, train_classifier

    torch.manual_seed(0)
    model = build_model(MODEL, num_classes=10, resolution=RESOLUTION, quant=QuantScheme.float_reference())
    x, y = load_fashion_mnist("train", RESOLUTION, count=QUICK_IMAGES if quick else None, seed=0 if quick else None)
    t0 = time.monotonic()
    train_classifier(model, x, y, epochs=QUICK_EPOCHS if quick else EPOCHS, stage="fmnist-train")
    xt, yt = load_fashion_mnist("test", RESOLUTION, count=1000 if quick else None, seed=0 if quick else None)
    top1 = evaluate_top1(model, xt, yt)
    print(f"trained {MODEL} r{RESOLUTION} in {time.monotonic() - t0:.0f}s: float top-1 {top1:.2f}%", file=sys.stderr)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.rename(cache)
    return cache


def trained_model(quick: bool = False):
    """The float benchmark model (eval mode) with the cached trained weights."""
    from flow.models import QuantScheme, build_model, load_checkpoint

    model = build_model(MODEL, num_classes=10, resolution=RESOLUTION, quant=QuantScheme.float_reference())
    load_checkpoint(model, str(trained_checkpoint(quick=quick)))
    return model.eval()


if __name__ == "__main__":
    print(trained_checkpoint())
