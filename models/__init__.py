"""The model zoo (installed as ``flow.models``): EfficientViT B0-B3 and DeiT-Tiny/Small.

build_model(name, ...)  -> a Brevitas-quantized (or, with QuantScheme(enabled=False), float) zoo model
load_checkpoint(model, path_or_state_dict) -> load MIT- or timm-layout weights, checked key by key
count_complexity(model) -> parameters and multiply-accumulates at the model's resolution
"""

from .checkpoint import load_checkpoint
from .complexity import count_complexity
from .deit import DeiT
from .efficientvit import EfficientViT
from .quant_layers import QuantScheme
from .specs import DEIT_NAMES, EFFICIENTVIT_NAMES, MODEL_NAMES, DeiTSpec, ModelSpec, check_resolution, get_spec
from .zoo import build_model

__all__ = [
    "DEIT_NAMES", "DeiT", "DeiTSpec", "EFFICIENTVIT_NAMES", "EfficientViT", "MODEL_NAMES", "ModelSpec",
    "QuantScheme", "build_model", "check_resolution", "count_complexity", "get_spec", "load_checkpoint",
]
