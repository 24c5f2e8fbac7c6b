"""Fashion-MNIST (70,000 labelled 28x28 images) from Debian's dataset-fashion-mnist package."""

import gzip
from pathlib import Path

import numpy as np
import torch

from flow.errors import FlowError

from .transforms import to_model_input

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST container: magic, dims, then uint8 data)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise FlowError(f"{path} is not an uint8 IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist_raw(split: str):
    """(uint8 images N x 28 x 28, int64 labels N) of the 'train' (60,000) or 'test' (10,000) split."""
    if split not in _FILES:
        raise FlowError(f"unknown Fashion-MNIST split '{split}'; valid splits: train, test")
    paths = [FASHION_MNIST_DIR / name for name in _FILES[split]]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FlowError(f"Fashion-MNIST not found ({missing[0]}); install Debian's dataset-fashion-mnist "
                        "(scripts/setup.sh does)")
    return _read_idx(paths[0]), _read_idx(paths[1]).astype(np.int64)


def load_fashion_mnist(split: str, resolution: int, count: int | None = None, seed: int | None = 0):
    """Model-ready (images, labels). ``count`` images drawn by a fixed permutation (``seed``), or all in
    file order when ``seed`` is None."""
    images, labels = load_fashion_mnist_raw(split)
    if count is not None:
        if not 1 <= count <= len(images):
            raise FlowError(f"asked for {count} Fashion-MNIST {split} images; the split has {len(images)}")
        order = np.arange(len(images)) if seed is None else np.random.default_rng(seed).permutation(len(images))
        index = np.sort(order[:count])
        images, labels = images[index], labels[index]
    return to_model_input(images, resolution), torch.from_numpy(labels)
