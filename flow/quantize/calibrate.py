"""Post-training calibration with Brevitas' own machinery."""

import torch
from brevitas.graph.calibrate import bias_correction_mode, calibration_mode

from flow.progress import say


def _batches(images, batch_size):
    for i in range(0, len(images), batch_size):
        yield images[i:i + batch_size]


def calibrate(model, images: torch.Tensor, batch_size: int = 16) -> None:
    """Collect activation statistics (quantization off while collecting) and fix every activation scale."""
    model.eval()
    with torch.no_grad(), calibration_mode(model):
        for i, x in enumerate(_batches(images, batch_size)):
            model(x)
    say("quantize", f"calibrated activation ranges on {len(images)} images")


def correct_bias(model, images: torch.Tensor, batch_size: int = 16) -> None:
    """Brevitas bias correction: shift each layer's bias by the mean error its quantization introduced."""
    model.eval()
    with torch.no_grad(), bias_correction_mode(model):
        for x in _batches(images, batch_size):
            model(x)
    say("quantize", f"bias correction on {len(images)} images")
