"""Brevitas' export_qonnx (torch's dynamo exporter), then qonnx's cleanup_model's transformations.

The dynamo export avoids the Shape/Gather/Cast clutter that makes qonnx's cleanup take minutes on the
TorchScript export (../shared/docs/background.md).
"""

import contextlib
import io
from pathlib import Path

import torch
from brevitas.export import export_qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import (GiveReadableTensorNames, GiveUniqueNodeNames, GiveUniqueParameterTensors,
                                          RemoveStaticGraphInputs, RemoveUnusedTensors)
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit

from flow.errors import FlowError
from flow.progress import say

RAW_NAME = "model_qonnx_raw.onnx"
CLEAN_NAME = "model_qonnx.onnx"


_QUANT_OPS = ["Quant", "BipolarQuant", "QuantizeLinear", "DequantizeLinear"]


def clean_qonnx(model: ModelWrapper) -> ModelWrapper:
    """qonnx's ``cleanup_model`` (its defaults: quantizers kept), the same transformations in the same order,
    with ModelWrapper's own cleanup pass (five transformations: unused tensors, static inputs, sorting, ...)
    run after InferShapes, GiveUniqueNodeNames and GiveReadableTensorNames only, not after each of the five
    between them, which it repeats (B1: 25 s instead of 34). tests/export/test_qonnx_clean.py requires the file
    byte-identical to ``cleanup_model``'s (B0 in the default suite, B1 r224 in the slow one)."""
    for node in model.graph.node:
        if node.op_type in ("Quant", "Trunc", "BipolarQuant"):  # cleanup_model's domain fix
            node.domain = "qonnx.custom_op.general"
    imports = [(op.domain, op.version) for op in model.model.opset_import]
    _default_opset_first(model.model)
    steps = [(InferShapes(), True), (GiveUniqueParameterTensors(), False),
             (FoldConstants(exclude_op_types=_QUANT_OPS), False), (FoldTransposeIntoQuantInit(), False),
             (RemoveUnusedTensors(), False), (RemoveStaticGraphInputs(), False), (GiveUniqueNodeNames(), True),
             (GiveReadableTensorNames(), True)]
    for transformation, then_cleanup in steps:
        model = model.transform(transformation, cleanup=then_cleanup)
    _set_opsets(model.model, imports)  # the exporter's order again: the same file as cleanup_model's
    return model


def _default_opset_first(model) -> None:
    """Put the standard ONNX domain first among the opset imports. qonnx's FoldConstants runs each constant
    node in onnxruntime at the version of ``opset_import[0]``, whatever its domain: when the exporter lists
    qonnx's custom domain (version 2) first, a folded Concat runs as Concat-1, which onnxruntime has no kernel
    for (DeiT at its native resolution: the class token's row of the position constant)."""
    imports = [(op.domain, op.version) for op in model.opset_import]
    first = next((i for i, (domain, _) in enumerate(imports) if domain in ("", "ai.onnx")), 0)
    if first:
        _set_opsets(model, [imports[first]] + imports[:first] + imports[first + 1:])


def _set_opsets(model, imports: list) -> None:
    """The model's opset imports, as (domain, version) pairs in this order."""
    del model.opset_import[:]
    for domain, version in imports:
        model.opset_import.add(domain=domain, version=version)


def export_clean_qonnx(model, out_dir: Path) -> Path:
    """Export ``model`` (batch 1, its resolution) to ``out_dir``; return the cleaned QONNX file."""
    raw, clean = out_dir / RAW_NAME, out_dir / CLEAN_NAME
    out_dir.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, model.in_chans, model.resolution, model.resolution)
    say("export", "export_qonnx (dynamo exporter)")
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):  # the exporter's own progress lines
            export_qonnx(model.eval(), example, export_path=str(raw), dynamo=True)
    except Exception as exc:
        raise FlowError(f"QONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    say("export", "qonnx cleanup")
    wrapped = clean_qonnx(ModelWrapper(str(raw)))
    wrapped.save(str(clean))
    ops = sorted({n.op_type for n in wrapped.graph.node})
    say("export", f"{len(wrapped.graph.node)} nodes: {', '.join(ops)}")
    return clean
