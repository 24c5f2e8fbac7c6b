"""Images in ImageFolder layout: root/<class name>/<image file>, classes in sorted order."""

from pathlib import Path

import numpy as np
import torch

from flow.errors import FlowError

from .transforms import to_model_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}


def list_image_folder(root):
    """[(path, class index)], classes = sorted sub-folder names."""
    root = Path(root)
    if not root.is_dir():
        raise FlowError(f"image folder '{root}' does not exist or is not a folder")
    try:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    except OSError as exc:
        raise FlowError(f"image folder '{root}' cannot be read: {exc.strerror}")
    if not classes:
        raise FlowError(f"image folder '{root}' has no class sub-folders (ImageFolder layout: root/<class>/<image>)")
    items = [(p, ci) for ci, c in enumerate(classes) for p in sorted((root / c).iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise FlowError(f"image folder '{root}' has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return items, classes


def load_image_folder(root, resolution: int, count: int | None = None, seed: int = 0):
    """Model-ready (images, labels) from an ImageFolder tree; ``count`` images by a fixed permutation."""
    from PIL import Image, UnidentifiedImageError

    items, _ = list_image_folder(root)
    if count is not None:
        if count < 1:
            raise FlowError(f"asked for {count} images; need at least 1")
        order = np.random.default_rng(seed).permutation(len(items))[:count]
        items = [items[i] for i in sorted(order)]
    arrays, labels = [], []
    for path, label in items:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB").resize((resolution, resolution), Image.BILINEAR)
                arrays.append(np.asarray(im, dtype=np.uint8))
        except (OSError, UnidentifiedImageError) as exc:
            raise FlowError(f"image '{path}' cannot be read: {exc}")
        labels.append(label)
    return to_model_input(np.stack(arrays), resolution), torch.tensor(labels, dtype=torch.int64)
