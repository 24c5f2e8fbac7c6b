"""Check a QONNX file by executing it with qonnx's executor against the Brevitas model it came from."""

import numpy as np
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from flow.errors import FlowError
from flow.progress import say

# Tolerance, in units of the output quantizer's scale (one output LSB).
TOLERANCE_LSB = 1e-5


def output_scale(model) -> float:
    return float(model.head.out_quant.act_quant.scale())


def check_qonnx(qonnx_path, model, images: torch.Tensor) -> dict:
    """Run both on ``images`` one by one; raise if any output differs by more than TOLERANCE_LSB LSBs.

    The Brevitas model also runs at batch 1, like the exported graph: fake quantization computes in
    float, and a different batch size can change a float rounding enough to flip a quantized value.
    """
    wrapped = ModelWrapper(str(qonnx_path))
    iname, oname = wrapped.graph.input[0].name, wrapped.graph.output[0].name
    scale = output_scale(model)
    worst = 0.0
    for i in range(len(images)):
        x = images[i:i + 1]
        with torch.no_grad():
            expected = model(x).numpy()
        got = execute_onnx(wrapped, {iname: x.numpy()})[oname]
        worst = max(worst, float(np.abs(got - expected).max()))
        say("export", f"checked image {i + 1}/{len(images)}: max |QONNX - Brevitas| = {worst:.3g}")
    result = {"images": len(images), "max_abs_diff": worst, "output_scale": scale, "max_diff_lsb": worst / scale,
              "tolerance_lsb": TOLERANCE_LSB}
    if worst / scale > TOLERANCE_LSB:
        raise FlowError(f"QONNX execution differs from the Brevitas model by {worst:.3g} "
                        f"({worst / scale:.3g} output LSBs > {TOLERANCE_LSB}) on {len(images)} images")
    return result
