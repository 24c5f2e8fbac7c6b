"""Brevitas' export_qonnx (torch's dynamo exporter), then qonnx's cleanup_model.

The dynamo export avoids the Shape/Gather/Cast clutter that makes qonnx's cleanup take minutes on the
TorchScript export (../shared/docs/background.md).
"""

import contextlib
import io
from pathlib import Path

import torch
from brevitas.export import export_qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.cleanup import cleanup_model

from flow.errors import FlowError
from flow.progress import say

RAW_NAME = "model_qonnx_raw.onnx"
CLEAN_NAME = "model_qonnx.onnx"


def export_clean_qonnx(model, out_dir: Path) -> Path:
    """Export ``model`` (batch 1, its resolution) to ``out_dir``; return the cleaned QONNX file."""
    raw, clean = out_dir / RAW_NAME, out_dir / CLEAN_NAME
    example = torch.zeros(1, model.in_chans, model.resolution, model.resolution)
    say("export", "export_qonnx (dynamo exporter)")
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):  # the exporter's own progress lines
            export_qonnx(model.eval(), example, export_path=str(raw), dynamo=True)
    except Exception as exc:
        raise FlowError(f"QONNX export failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    say("export", "qonnx cleanup")
    wrapped = cleanup_model(ModelWrapper(str(raw)))
    wrapped.save(str(clean))
    ops = sorted({n.op_type for n in wrapped.graph.node})
    say("export", f"{len(wrapped.graph.node)} nodes: {', '.join(ops)}")
    return clean
