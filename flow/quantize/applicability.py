"""Which `quantization:` options apply to a model family. On EfficientViT every option but token_bits
(a DeiT's token stream) works; on a DeiT the ones below would find nothing to act on (EfficientViT's
linear attention, Hardswish, depthwise convs or conv/attention boundary), or are not built for its token
tensors yet, so asking for one is an error that says why, instead of a build that silently ignores it."""

from flow.errors import FlowError

NOT_FOR_DEIT = {
    "bridge_reconstruction": "it reconstructs the stages where EfficientViT's convolution blocks meet its attention "
                             "blocks, and a DeiT has no such boundary (block_reconstruction reconstructs its blocks)",
    "scheme_search": "Q-HyViT's search chooses the scheme of EfficientViT's post-Hardswish tensors; a DeiT has no "
                     "Hardswish",
    "log2_divisor": "Trio-ViT's log2 divisor replaces linear attention's per-output division; a DeiT's softmax "
                    "takes one reciprocal per row already",
    "asym_post_act": "it makes EfficientViT's post-Hardswish tensors asymmetric; a DeiT has no Hardswish",
    "filter_shift": "Trio-ViT's filter-wise shift acts on EfficientViT's post-Hardswish tensors; a DeiT has no "
                    "Hardswish",
    "channel_migration": "Trio-ViT's channel-wise migration acts on the inputs of depthwise convs; a DeiT has none",
    "outlier_two_scale": "TSPTQ's outlier-aware two scales on a token LayerNorm's input quantize and export, but the "
                         "lowering does not take a token tensor with a scale per channel yet",
}


NOT_FOR_EFFICIENTVIT = {
    "token_bits": "it sets the width of a DeiT's token stream (embedding, residual sums, LayerNorm inputs); "
                  "EfficientViT's residual sums take act_bits",
}


def check_applicable(model, options: dict) -> None:
    """A FlowError naming the first option in ``options`` (setting -> value, as QuantConfig.as_dict gives
    them) that is switched on and does not apply to ``model``'s family."""
    spec = getattr(model, "spec", None)
    family = getattr(spec, "family", "efficientvit")
    for key, why in (NOT_FOR_DEIT if family == "deit" else NOT_FOR_EFFICIENTVIT).items():
        if options.get(key):
            raise FlowError(f"quantization option {key} does not apply to {getattr(spec, 'name', family)}: {why}")
