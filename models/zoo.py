"""build_model: any zoo model by name, EfficientViT or DeiT (flow.models.MODEL_NAMES)."""

from flow.errors import FlowError

from .deit import DeiT
from .efficientvit import EfficientViT
from .quant_layers import QuantScheme
from .specs import get_spec


def build_model(name: str, num_classes: int = 1000, resolution: int = 224, quant: QuantScheme = QuantScheme(),
                in_chans: int = 3, attention_eps: float = 1e-5):
    """Build a zoo model by name; ``attention_eps`` is EfficientViT's linear-attention epsilon."""
    return build_from_spec(get_spec(name), num_classes, resolution, quant, in_chans, attention_eps)


def build_from_spec(spec, num_classes: int = 1000, resolution: int = 224, quant: QuantScheme = QuantScheme(),
                    in_chans: int = 3, attention_eps: float = 1e-5):
    """Build the model of a ModelSpec or DeiTSpec (a zoo entry's, or a smaller one for a test)."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise FlowError(f"num_classes must be a positive integer, got {num_classes!r}")
    if spec.family == "deit":
        return DeiT(spec, num_classes=num_classes, resolution=resolution, in_chans=in_chans, scheme=quant)
    return EfficientViT(spec, num_classes=num_classes, resolution=resolution, in_chans=in_chans,
                        scheme=quant, attention_eps=attention_eps)
