"""Step: the float model (zoo model, checkpoint loaded); and `--block`: one block of the quantized model."""

import torch

from flow.config import BuildConfig
from flow.errors import FlowError, choose
from flow.progress import say

from .state import EXPORT_CHECK_IMAGES, BuildState


def build_float_model(cfg: BuildConfig):
    """The float EfficientViT for ``cfg``, with ``cfg.weights`` loaded when given."""
    from flow.models import QuantScheme, build_model, load_checkpoint
    from flow.models.checkpoint import read_state_dict, infer_num_classes

    state = read_state_dict(cfg.weights) if cfg.weights else None
    num_classes = infer_num_classes(state) if state is not None else 1000
    torch.manual_seed(0)  # without a checkpoint the weights are a random init: the same one on every run
    model = build_model(cfg.model, num_classes=num_classes, resolution=cfg.resolution,
                        quant=QuantScheme.float_reference())
    if state is not None:
        layout = load_checkpoint(model, state)
        say("model", f"loaded {layout}-layout checkpoint {cfg.weights}")
    else:
        say("model", "no checkpoint (--weights): random weights, seed 0")
    return model.eval()


def step_build_model(st: BuildState) -> None:
    from flow.models import count_complexity

    say("model", f"building {st.cfg.model} at {st.cfg.resolution}x{st.cfg.resolution}")
    model = build_float_model(st.cfg)
    cx = count_complexity(model)
    with torch.no_grad():
        y = model(torch.zeros(1, model.in_chans, st.cfg.resolution, st.cfg.resolution))
    if tuple(y.shape) != (1, model.num_classes) or not torch.isfinite(y).all():
        raise FlowError(f"model check failed: output {tuple(y.shape)} (finite={bool(torch.isfinite(y).all())})")
    say("model", f"{cx.params / 1e6:.2f} M parameters, {cx.macs / 1e9:.3f} GMACs, {model.num_classes} classes")
    if st.cfg.block:
        from flow.models.block import block_names

        choose("block", st.cfg.block, block_names(model))
    st.float_model = model


def step_cut_block(st: BuildState) -> None:
    """`--block NAME`: from here on the model is that block of the quantized model, behind a copy of the
    quantizer of its input; its check data are its real inputs on the first images."""
    from flow.models.block import cut_block

    st.quant_model, st.calib_images = cut_block(st.quant_model, st.cfg.block, st.calib_images[:EXPORT_CHECK_IMAGES])
    n = sum(p.numel() for p in st.quant_model.block.parameters())
    say("block", f"{st.cfg.block}: {type(st.quant_model.block).__name__}, input "
                 f"{'x'.join(map(str, st.calib_images.shape[1:]))}, {n / 1e3:.1f} k parameters; "
                 f"checked on its inputs from {len(st.calib_images)} images")
