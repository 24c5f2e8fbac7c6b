import pytest
import torch

from flow.data import load_fashion_mnist
from flow.data.fashion_mnist import load_fashion_mnist_raw
from flow.errors import FlowError


def test_splits_have_the_published_sizes():
    train_x, train_y = load_fashion_mnist_raw("train")
    test_x, test_y = load_fashion_mnist_raw("test")
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert len(train_y) + len(test_y) == 70000
    assert set(test_y.tolist()) == set(range(10))
    assert (test_y == 0).sum() == 1000  # the test split is balanced


def test_model_ready_images_are_deterministic():
    x1, y1 = load_fashion_mnist("test", 64, count=16, seed=3)
    x2, y2 = load_fashion_mnist("test", 64, count=16, seed=3)
    assert x1.shape == (16, 3, 64, 64) and x1.dtype == torch.float32
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    from flow.data.transforms import IMAGENET_MEAN, IMAGENET_STD
    grey = [x1[:, c] * IMAGENET_STD[c] + IMAGENET_MEAN[c] for c in range(3)]
    assert torch.allclose(grey[0], grey[1], atol=1e-6) and torch.allclose(grey[1], grey[2], atol=1e-6)
    x3, _ = load_fashion_mnist("test", 64, count=16, seed=4)
    assert not torch.equal(x1, x3)


def test_bad_requests():
    with pytest.raises(FlowError, match="unknown Fashion-MNIST split"):
        load_fashion_mnist("val", 32)
    with pytest.raises(FlowError, match="the split has 10000"):
        load_fashion_mnist("test", 32, count=10001)
