"""Load pretrained weights into a zoo model: timm layout as is, MIT layout (EfficientViT) by key mapping.
A DeiT checkpoint (timm's, or facebookresearch/deit's, which uses timm's names) made at another resolution
has its position embedding resampled to the model's patch grid, as timm does (models/pos_embed.py).

Every float parameter and buffer of the model must be matched by exactly one checkpoint entry of the
same shape; anything missing, unexpected or mis-shaped is a FlowError naming it. Quantizer state
(scales learned by calibration) is not part of a float checkpoint and is skipped in that check.
"""

import re
from pathlib import Path

import torch

from flow.errors import FlowError

# MIT (mit-han-lab/efficientvit cls models) <-> timm/vitflow prefixes. Inner names
# (main.depth_conv.conv, context_module.main.qkv, aggreg.0.1, ...) are the same in both layouts.
_MIT_TO_OURS = [
    (re.compile(r"^backbone\.input_stem\.op_list\.0\."), lambda m: "stem.in_conv."),
    (re.compile(r"^backbone\.input_stem\.op_list\.(\d+)\."), lambda m: f"stem.res{int(m[1]) - 1}."),
    (re.compile(r"^backbone\.stages\.(\d+)\.op_list\.(\d+)\."), lambda m: f"stages.{m[1]}.blocks.{m[2]}."),
    (re.compile(r"^head\.op_list\.0\."), lambda m: "head.in_conv."),
    (re.compile(r"^head\.op_list\.2\.linear\."), lambda m: "head.classifier.0."),
    (re.compile(r"^head\.op_list\.2\.norm\."), lambda m: "head.classifier.1."),
    (re.compile(r"^head\.op_list\.3\.linear\."), lambda m: "head.classifier.4."),
]
_OURS_TO_MIT = [
    (re.compile(r"^stem\.in_conv\."), lambda m: "backbone.input_stem.op_list.0."),
    (re.compile(r"^stem\.res(\d+)\."), lambda m: f"backbone.input_stem.op_list.{int(m[1]) + 1}."),
    (re.compile(r"^stages\.(\d+)\.blocks\.(\d+)\."), lambda m: f"backbone.stages.{m[1]}.op_list.{m[2]}."),
    (re.compile(r"^head\.in_conv\."), lambda m: "head.op_list.0."),
    (re.compile(r"^head\.classifier\.0\."), lambda m: "head.op_list.2.linear."),
    (re.compile(r"^head\.classifier\.1\."), lambda m: "head.op_list.2.norm."),
    (re.compile(r"^head\.classifier\.4\."), lambda m: "head.op_list.3.linear."),
]

LAYOUTS = ("auto", "timm", "mit")


def _rename(key, rules, layout):
    for pattern, repl in rules:
        m = pattern.match(key)
        if m:
            return repl(m) + key[m.end():]
    raise FlowError(f"checkpoint key '{key}' is not part of the {layout} EfficientViT layout")


def mit_to_ours(key: str) -> str:
    return _rename(key, _MIT_TO_OURS, "MIT")


def ours_to_mit(key: str) -> str:
    return _rename(key, _OURS_TO_MIT, "vitflow/timm")


def is_quantizer_key(key: str) -> bool:
    """Brevitas quantizer state lives under modules whose name ends in ``_quant``."""
    return any(part.endswith("_quant") for part in key.split("."))


def is_deit_state(state_dict) -> bool:
    return "cls_token" in state_dict and any(k.startswith("blocks.") for k in state_dict)


def detect_layout(state_dict) -> str:
    keys = list(state_dict)
    if any(k.startswith("backbone.") for k in keys):
        return "mit"
    if any(k.startswith(("stem.", "stages.")) for k in keys) or is_deit_state(state_dict):
        return "timm"
    raise FlowError("checkpoint is neither an EfficientViT state dict (no 'backbone.*' (MIT) or 'stem.*' (timm) "
                    "keys) nor a DeiT one (no 'cls_token' and 'blocks.*')")


ZIP_MAGIC = b"PK\x03\x04"


def torch_file_problem(path: Path, exc: Exception) -> str:
    """What is wrong with a file torch.load (safe loading) refused, in words: never the loader's advice to
    turn safe loading off, which for a damaged or untrusted file is the wrong thing to do."""
    with open(path, "rb") as f:
        head = f.read(4)
    text = str(exc)
    if not head:
        return "it is empty"
    if head != ZIP_MAGIC and head[:1] != b"\x80":  # neither a zip archive nor a pickle (protocol 2 or later)
        return "it is not a PyTorch checkpoint (neither a zip archive nor a pickle)"
    if "Unsupported global" in text or ("Weights only load failed" in text and "load key" not in text):
        return "it holds Python objects besides tensors, which safe loading does not run: not a weights file"
    if head == ZIP_MAGIC:
        return "it is truncated or damaged (its zip archive is incomplete)"
    return "it is a damaged legacy pickle"


def read_state_dict(path) -> dict:
    """Read a checkpoint file (.pt/.pth/.bin via torch, .safetensors) and unwrap common containers."""
    path = Path(path)
    if not path.is_file():
        raise FlowError(f"checkpoint '{path}' does not exist or is not a file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        try:
            obj = load_file(str(path))
        except Exception as exc:  # a SafetensorError, or an OSError of the file
            raise FlowError(f"checkpoint '{path}' cannot be read: it is not a readable safetensors file "
                            f"({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None
    else:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            raise FlowError(f"checkpoint '{path}' cannot be read: {torch_file_problem(path, exc)}") from None
    return unwrap_state_dict(obj, str(path))


def unwrap_state_dict(obj, where="checkpoint") -> dict:
    if isinstance(obj, dict) and str(obj.get("format", "")).startswith("vitflow-quantized"):
        raise FlowError(f"{where} is a quantized vitflow model, not a float checkpoint (give it to `flow export`)")
    for container in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and container in obj and isinstance(obj[container], dict):
            obj = obj[container]
            break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise FlowError(f"{where} does not hold a state dict of tensors")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


def to_model_layout(state_dict, layout="auto") -> dict:
    if layout not in LAYOUTS:
        raise FlowError(f"unknown checkpoint layout '{layout}'; valid layouts: {', '.join(LAYOUTS)}")
    if layout == "auto":
        layout = detect_layout(state_dict)
    if layout == "timm":
        return dict(state_dict)
    return {mit_to_ours(k): v for k, v in state_dict.items()}


def _summarise(keys, n=3):
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_checkpoint(model, checkpoint, layout: str = "auto"):
    """Load ``checkpoint`` (a path or a state dict) into ``model``; return the layout it was read as."""
    state = read_state_dict(checkpoint) if isinstance(checkpoint, (str, Path)) else unwrap_state_dict(checkpoint)
    detected = detect_layout(state) if layout == "auto" else layout
    family = getattr(getattr(model, "spec", None), "family", "efficientvit")
    if family == "deit" and detected != "timm":
        raise FlowError(f"a DeiT takes timm-layout checkpoints, not {detected}-layout ones")
    state = to_model_layout(state, detected)
    if family == "deit" and "pos_embed" in state and state["pos_embed"].shape != model.pos_embed.shape:
        from .pos_embed import resample_pos_embed

        state["pos_embed"] = resample_pos_embed(state["pos_embed"], model.grid)
    expected = {k: v for k, v in model.state_dict().items() if not is_quantizer_key(k)}
    given = {k: v for k, v in state.items() if not is_quantizer_key(k)}
    name = getattr(getattr(model, "spec", None), "name", "the model")
    missing = expected.keys() - given.keys()
    unexpected = given.keys() - expected.keys()
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({_summarise(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({_summarise(unexpected)})")
    if not problems:
        shapes = [f"{k}: checkpoint {tuple(given[k].shape)} vs model {tuple(v.shape)}"
                  for k, v in expected.items() if tuple(given[k].shape) != tuple(v.shape)]
        if shapes:
            problems.append(f"{len(shapes)} wrongly-shaped keys ({_summarise(shapes, 2)})")
    if problems:
        raise FlowError(f"{detected}-layout checkpoint does not fit {name} "
                        f"({model.num_classes} classes): " + "; ".join(problems))
    state = {k: v for k, v in state.items() if k in expected or is_quantizer_key(k)}
    model.load_state_dict(state, strict=False)
    return detected


def infer_num_classes(state_dict) -> int:
    """Number of classes of a checkpoint, from its last Linear layer (either layout)."""
    state = to_model_layout(unwrap_state_dict(state_dict), "auto")
    key = "head.weight" if is_deit_state(state) else "head.classifier.4.weight"
    weight = state.get(key)
    if weight is None or weight.dim() != 2:
        raise FlowError(f"checkpoint has no classifier weight '{key}'"
                        + ("" if key == "head.weight" else " (MIT: 'head.op_list.3.linear.weight')"))
    return int(weight.shape[0])
