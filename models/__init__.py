"""The EfficientViT model zoo (installed as ``flow.models``).

build_model(name, ...)  -> a Brevitas-quantized (or, with QuantScheme(enabled=False), float) EfficientViT
load_checkpoint(model, path_or_state_dict) -> load MIT- or timm-layout weights, checked key by key
count_complexity(model) -> parameters and multiply-accumulates at the model's resolution
"""

from .checkpoint import load_checkpoint
from .complexity import count_complexity
from .efficientvit import EfficientViT, build_model
from .quant_layers import QuantScheme
from .specs import MODEL_NAMES, ModelSpec, check_resolution, get_spec

__all__ = [
    "EfficientViT", "MODEL_NAMES", "ModelSpec", "QuantScheme", "build_model", "check_resolution",
    "count_complexity", "get_spec", "load_checkpoint",
]
