"""Images for calibration, checks and benchmarks: Debian's Fashion-MNIST or a user's ImageFolder.

Both return (images, labels): float32 tensors N x 3 x R x R, normalized like ImageNet inputs, and int64
labels. Nothing is downloaded: Fashion-MNIST comes from the dataset-fashion-mnist package.
"""

from .fashion_mnist import FASHION_MNIST_DIR, load_fashion_mnist
from .image_folder import load_image_folder
from .transforms import to_model_input

__all__ = ["FASHION_MNIST_DIR", "load_fashion_mnist", "load_image_folder", "to_model_input", "calibration_images"]


def calibration_images(resolution: int, count: int, calib_dir=None, seed: int = 0):
    """``count`` calibration images: from ``calib_dir`` (ImageFolder) or Fashion-MNIST's training split."""
    if calib_dir:
        return load_image_folder(calib_dir, resolution, count=count, seed=seed)
    return load_fashion_mnist("train", resolution, count=count, seed=seed)
