"""Save and load a quantized model: architecture, settings and calibrated state in one file."""

from dataclasses import asdict
from pathlib import Path

import torch

from flow.errors import FlowError
from flow.models import QuantScheme, build_model
from flow.models.checkpoint import read_state_dict, torch_file_problem

from .bn_fold import fold_batchnorm
from .scheme_search import apply_scheme_choices, scheme_choices
from .weight_quant import freeze_weight_scales, frozen_scale_layers, set_weight_bits, weight_bits_by_layer

FORMAT = "vitflow-quantized-v1"


def save_quantized(model, path: Path) -> None:
    torch.save({"format": FORMAT, "model": model.spec.name, "resolution": model.resolution,
                "num_classes": model.num_classes, "scheme": asdict(model.scheme),
                "weight_bits": weight_bits_by_layer(model), "scheme_choices": scheme_choices(model),
                "state_dict": model.state_dict()}, path)


def load_quantized(path, expect_model: str | None = None):
    """Rebuild the quantized model saved at ``path`` (BN already folded, scales calibrated)."""
    path = Path(path)
    if not path.is_file():
        raise FlowError(f"quantized model '{path}' does not exist or is not a file")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise FlowError(f"quantized model '{path}' cannot be read: {torch_file_problem(path, exc)}") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        read_state_dict(path)  # a readable float checkpoint gets the more useful message below
        raise FlowError(f"'{path}' is a float checkpoint, not a quantized model; run `flow quantize` on it first")
    if expect_model and obj["model"] != expect_model:
        raise FlowError(f"quantized model '{path}' is {obj['model']}, not {expect_model}")
    model = build_model(obj["model"], num_classes=obj["num_classes"], resolution=obj["resolution"],
                        quant=QuantScheme(**obj["scheme"]))
    fold_batchnorm(model)  # same structure as when it was saved (BN merged into conv biases)
    bits = obj.get("weight_bits") or {}
    unknown = sorted(set(bits) - set(weight_bits_by_layer(model))) if isinstance(bits, dict) else ["not a mapping"]
    if unknown or not all(isinstance(b, int) and 2 <= b <= 16 for b in bits.values()):
        raise FlowError(f"quantized model '{path}' has malformed per-layer weight bits ({', '.join(unknown[:3])})")
    set_weight_bits(model, bits)  # mixed precision
    choices = obj.get("scheme_choices") or {}
    try:
        apply_scheme_choices(model, choices)  # the scheme search's per-layer choices
    except (ValueError, TypeError, AttributeError) as exc:
        raise FlowError(f"quantized model '{path}' has malformed per-layer scheme choices ({exc})")
    freeze_weight_scales(model, frozen_scale_layers(obj["state_dict"]))  # GPTQ / distillation
    _add_missing_biases(model, obj["state_dict"])  # bias correction gives bias-free layers a bias
    try:
        model.load_state_dict(obj["state_dict"], strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split("\n")[1:2]).strip()
        raise FlowError(f"quantized model '{path}' does not match its architecture: {detail[:300]}")
    model.freeze_integer()
    return model.eval()


def _add_missing_biases(model, state_dict) -> None:
    modules = dict(model.named_modules())
    for key, tensor in state_dict.items():
        owner, _, leaf = key.rpartition(".")
        mod = modules.get(owner)
        if leaf == "bias" and mod is not None and getattr(mod, "bias", 0) is None:
            mod.bias = torch.nn.Parameter(torch.zeros_like(tensor))
