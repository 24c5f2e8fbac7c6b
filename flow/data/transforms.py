"""uint8 images -> model input tensors (resize, 3 channels, ImageNet normalization)."""

import numpy as np
import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_model_input(images: np.ndarray, resolution: int) -> torch.Tensor:
    """N x H x W (grey) or N x H x W x 3 uint8 -> N x 3 x R x R float32, bilinear resize, normalized."""
    x = torch.from_numpy(np.array(images, dtype=np.float32)).div_(255.0)
    if x.dim() == 3:
        x = x.unsqueeze(1).expand(-1, 3, -1, -1)
    else:
        x = x.permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()
