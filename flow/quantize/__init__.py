"""Post-training quantization: float EfficientViT + calibration images -> calibrated Brevitas model.

quantize_model: build the quantized twin, load the float weights, fold BN, calibrate activation
ranges, then the optional techniques of the seed papers in this order: mixed-precision weights (before
calibration), the two-scale quantizers (value- and outlier-aware), the per-layer scheme search, the attention's interval search, GPTQ, block and bridge reconstruction, bias correction,
distillation fine-tuning; and check the result runs.
"""

import dataclasses

import torch

from flow.errors import FlowError
from flow.models import load_checkpoint
from flow.models.zoo import build_from_spec

from .bn_fold import fold_batchnorm
from .calibrate import calibrate, correct_bias, uncalibrated_quantizers
from .config import QuantConfig, make_quant_config
from .distill import distill
from .applicability import check_applicable
from .gptq import apply_gptq
from .interval_search import search_attention_intervals
from .mixed_precision import apply_mixed_precision
from .reconstruct import block_units, bridge_units, reconstruct
from .scheme_search import search_schemes
from .two_scale import fit_two_scale
from .weight_quant import freeze_weight_scales

__all__ = ["QuantConfig", "make_quant_config", "quantize_model", "folded_float_model"]


def _twin(float_model, scheme):
    model = build_from_spec(float_model.spec, num_classes=float_model.num_classes,
                            resolution=float_model.resolution, quant=scheme, in_chans=float_model.in_chans)
    load_checkpoint(model, float_model.state_dict())
    return model


def folded_float_model(float_model):
    """A copy of the float model with BN folded (the float twin of a quantized model, for reports)."""
    model = _twin(float_model, float_model.scheme)
    fold_batchnorm(model)
    return model.eval()


def quantize_model(float_model, images: torch.Tensor, qcfg: QuantConfig):
    """Return a calibrated quantized copy of ``float_model`` (which is left untouched)."""
    check_applicable(float_model, qcfg.as_dict())
    # the scheme search starts from asymmetric post-Hardswish tensors and turns some symmetric
    scheme = dataclasses.replace(qcfg.scheme, asym_post_act=True) if qcfg.scheme_search else qcfg.scheme
    model = _twin(float_model, scheme)
    fold_batchnorm(model)
    if qcfg.mixed_precision:
        apply_mixed_precision(model, folded_float_model(float_model), images, qcfg.scheme.weight_bits,
                              qcfg.batch_size)
    if qcfg.gptq or qcfg.qat_steps or qcfg.block_reconstruction or qcfg.bridge_reconstruction:
        freeze_weight_scales(model)
    calibrate(model, images, qcfg.batch_size)
    missing = uncalibrated_quantizers(model)
    if missing:
        raise FlowError(f"{len(missing)} activation quantizers saw no calibration data ({', '.join(missing[:3])})")
    if qcfg.scheme.value_two_scale or qcfg.scheme.outlier_two_scale:
        fit_two_scale(model, images, qcfg.batch_size, qcfg.scheme.po2_scales)
    model.freeze_integer()  # integer LayerNorm from here on (on the fitted scales); bias correction sees the final model
    if qcfg.scheme_search:
        search_schemes(model, folded_float_model(float_model), images[:qcfg.search_images], qcfg.batch_size)
    if qcfg.interval_search:
        search_attention_intervals(model, folded_float_model(float_model), images[:qcfg.search_images],
                                   qcfg.batch_size)
    if qcfg.gptq:
        apply_gptq(model, images, qcfg.batch_size)
    if qcfg.block_reconstruction:
        reconstruct(model, images, block_units(model), qcfg.reconstruction_steps, batch_size=qcfg.batch_size)
    if qcfg.bridge_reconstruction:
        reconstruct(model, images, bridge_units(model), qcfg.reconstruction_steps, batch_size=qcfg.batch_size,
                    label="bridge reconstruction")
    if qcfg.bias_correction:
        correct_bias(model, images, qcfg.batch_size)
    if qcfg.qat_steps:
        distill(model, folded_float_model(float_model), images, qcfg.qat_steps, qcfg.qat_lr)
    model.eval()
    with torch.no_grad():
        y = model(images[:2])
    if not torch.isfinite(y).all():
        raise FlowError("quantized model produces non-finite outputs after calibration")
    return model
