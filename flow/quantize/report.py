"""Per-layer quantization report: scale, bit width, range and SQNR of every quantized tensor vs float.

Activations: each quantizer's output in the quantized model against the same tensor of the float model
(same module name; there the quantizer is an Identity), accumulated over the given images, so the SQNR
includes the error carried in from earlier layers. Weights: the quantized weight against the float one.
"""

import json
import math

import torch
import torch.nn as nn
from brevitas.nn import QuantConv2d, QuantLinear

from flow.models.quant_layers import value
from flow.models.two_scale_quant import TwoScaleQuant, activation_quantizers


def _sqnr_db(signal_power: float, noise_power: float) -> float:
    if noise_power == 0:
        return math.inf
    return 10.0 * math.log10(max(signal_power, 1e-30) / noise_power)


def _scale_summary(scale: torch.Tensor):
    scale = scale.detach().flatten()
    if scale.numel() == 1:
        return float(scale)
    return [float(scale.min()), float(scale.max())]


def activation_rows(float_model: nn.Module, quant_model: nn.Module, images: torch.Tensor, batch_size=16):
    # a fitted two-scale quantizer is one tensor (fine scale, act_bits codes, coarse scale 2^k x fine)
    quantizers = activation_quantizers(quant_model)
    names = [n for n, _ in quantizers]
    two_scale = {n: m for n, m in quantizers if isinstance(m, TwoScaleQuant)}
    float_modules = dict(float_model.named_modules())
    stats = {n: {"sig": 0.0, "noise": 0.0, "min": math.inf, "max": -math.inf} for n in names}
    captured_f, captured_q, hooks = {}, {}, []
    for n, m in quant_model.named_modules():
        if n in stats:
            hooks.append(m.register_forward_hook(lambda mod, i, o, n=n: captured_q.__setitem__(n, o)))
            hooks.append(float_modules[n].register_forward_hook(
                lambda mod, i, o, n=n: captured_f.__setitem__(n, value(o).detach())))
    meta = {}
    try:
        with torch.no_grad():
            for i in range(0, len(images), batch_size):
                x = images[i:i + batch_size]
                captured_f.clear(), captured_q.clear()
                float_model(x)
                quant_model(x)
                for n in names:
                    f, q = captured_f[n], captured_q[n]
                    s = stats[n]
                    s["min"], s["max"] = min(s["min"], float(f.min())), max(s["max"], float(f.max()))
                    fd = f.double()  # the same sums as (f ** 2).sum() and ((q - f) ** 2).sum() in double,
                    err = value(q).double().sub_(fd)  # with one conversion of f and no temporaries
                    s["sig"] += float(fd.square_().sum())
                    s["noise"] += float(err.square_().sum())
                    bits = two_scale[n].bits if n in two_scale else int(q.bit_width)
                    meta[n] = (_scale_summary(q.scale), bits, bool(q.signed))
    finally:
        for h in hooks:
            h.remove()
    return [{"tensor": n, "kind": "activation", "bits": meta[n][1], "signed": meta[n][2], "scale": meta[n][0],
             "float_min": stats[n]["min"], "float_max": stats[n]["max"],
             "sqnr_db": _sqnr_db(stats[n]["sig"], stats[n]["noise"]),
             **({"coarse_shift": two_scale[n].coarse_shift} if n in two_scale else {})} for n in names]


def weight_rows(quant_model: nn.Module):
    rows = []
    with torch.no_grad():
        for n, m in quant_model.named_modules():
            if isinstance(m, (QuantConv2d, QuantLinear)) and m.weight_quant.is_quant_enabled:
                qw = m.quant_weight()
                w = m.weight.detach()
                rows.append({"tensor": f"{n}.weight", "kind": "weight", "bits": int(qw.bit_width), "signed": True,
                             "scale": _scale_summary(qw.scale), "float_min": float(w.min()), "float_max": float(w.max()),
                             "sqnr_db": _sqnr_db(float((w.double() ** 2).sum()),
                                                 float(((qw.value.double() - w.double()) ** 2).sum()))})
    return rows


def build_report(float_model, quant_model, images, settings: dict, extra: dict | None = None) -> dict:
    rows = weight_rows(quant_model) + activation_rows(float_model, quant_model, images)
    return {"settings": settings, "images": len(images), **(extra or {}), "tensors": rows}


def _fmt_scale(scale):
    return f"{scale:.4g}" if isinstance(scale, float) else f"{scale[0]:.3g}..{scale[1]:.3g}"


def write_report(report: dict, json_path, md_path) -> None:
    json_path.write_text(json.dumps(report, indent=1, allow_nan=True))
    lines = ["# Quantization report", "",
             "Settings: " + ", ".join(f"{k}={v}" for k, v in report["settings"].items()),
             f"Calibration/report images: {report['images']}", ""]
    for key in ("float_top1", "quant_top1", "output_sqnr_db"):
        if key in report:
            lines.append(f"- {key}: {report[key]:.2f}")
    lines += ["", "| tensor | kind | bits | signed | scale | float range | SQNR (dB) |", "|---|---|---|---|---|---|---|"]
    for r in report["tensors"]:
        lines.append(f"| {r['tensor']} | {r['kind']} | {r['bits']} | {'s' if r['signed'] else 'u'} | "
                     f"{_fmt_scale(r['scale'])} | [{r['float_min']:.3g}, {r['float_max']:.3g}] | {r['sqnr_db']:.1f} |")
    md_path.write_text("\n".join(lines) + "\n")
