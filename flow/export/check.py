"""Check a QONNX file by executing it with qonnx's executor against the Brevitas model it came from.

Two comparisons per image, both at batch 1 (fake quantization computes in float, and another batch
size can change a float rounding enough to flip a quantized value):

- free-running: the graph's output against the model's output, in output LSBs;
- teacher-forced, tensor by tensor: the graph is executed node by node with qonnx's ``execute_node``,
  and after each activation ``Quant`` node its output is compared with the matching Brevitas quantizer's
  output (same order, same shape) and then replaced by it, so each layer is judged on its own.

The graph runs in onnxruntime as one session per comparison (``executor="onnxruntime"``, the default:
flow.reference.ort_qonnx's Quant expansion, graph optimizations off, so each node runs the kernel it
runs under qonnx's executor); teacher forcing there cuts the graph at every quantized tensor, whose
consumers read a graph input fed the Brevitas value, so one run judges every layer on its own.
``executor="qonnx"`` runs it node by node with qonnx's ``execute_node`` instead (seconds per image on
B1); tests/export/test_export.py requires both to give the same figures.

With power-of-two scales every partial sum is exact in float32, so both must agree exactly. With free
scales torch and onnxruntime add float products in different orders, and a value within float error
of a rounding tie may round either way; there each tensor must agree within 1 LSB on at least 99.9%
of its elements over all the images (the free-running output difference is reported, not bounded).
"""

import numpy as np
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_node
from qonnx.util.basic import get_preferred_qonnx_opset

from flow.errors import FlowError
from flow.lower.graph import GraphView
from flow.models.two_scale_quant import activation_quantizers
from flow.progress import progress

TOLERANCE_LSB = 1e-5           # exact-scale (power-of-two) models: output and every tensor
FREE_SCALE_MAX_LSB = 1.0       # free-scale models: per tensor, teacher-forced
FREE_SCALE_MIN_EQUAL = 0.999   # free-scale models: fraction of equal elements per tensor


def output_scale(model) -> float:
    return float(model.output_quantizer().act_quant.scale().detach())


def _uses_po2_scales(model) -> bool:
    return bool(model.scheme.po2_scales)


def _brevitas_tensors(model, x):
    """(output, [(quantizer name, value, scale)]) of one forward pass, quantizers in call order."""
    captured, hooks = [], []
    for name, mod in activation_quantizers(model):
        hooks.append(mod.register_forward_hook(lambda m, i, o, name=name: captured.append(
            (name, o.value.detach().numpy(), o.scale.detach().numpy()))))
    try:
        with torch.no_grad():
            y = model(x).numpy()
    finally:
        for h in hooks:
            h.remove()
    return y, captured


def _quantized_outputs(wrapped) -> set:
    """Names of the nodes whose outputs are quantized tensors: the activation Quants, except the two inside
    a two-scale quantizer, whose Where output counts instead (flow.lower.graph.TwoScaleSpec)."""
    return {node.name for node, _ in GraphView(wrapped.model).quantized_outputs()}


def _execute(wrapped, x, forced=None):
    """Run the graph node by node; with ``forced``, compare and replace the quantized tensors."""
    graph = wrapped.graph
    opsets = wrapped.get_opset_imports()
    points = _quantized_outputs(wrapped) if forced is not None else set()
    ctx = wrapped.make_empty_exec_context()
    ctx[graph.input[0].name] = x
    stats, k = [], 0
    for node in graph.node:
        execute_node(node, ctx, graph, opsets.get(node.domain, get_preferred_qonnx_opset()))
        if node.name in points:
            if k >= len(forced):
                raise FlowError(f"QONNX graph has more activation quantizers than the model ({len(forced)})")
            name, ref, scale = forced[k]
            got = ctx[node.output[0]]
            if got.shape != ref.shape:
                raise FlowError(f"QONNX quantizer {node.name} {got.shape} does not line up with {name} {ref.shape}")
            step = np.broadcast_to(scale, ref.shape)
            lsb = np.abs(np.rint(got / step) - np.rint(ref / step))  # difference of the integer codes
            stats.append((name, float(lsb.max()), int((lsb == 0).sum()), lsb.size))
            ctx[node.output[0]] = ref
            k += 1
    if forced is not None and k != len(forced):
        raise FlowError(f"QONNX graph has {k} activation quantizers, the model {len(forced)}")
    return ctx[graph.output[0].name], stats


class _OrtGraph:
    """The cleaned QONNX graph in onnxruntime: ``free(x)`` its output; ``forced(x, tensors)`` every
    quantized tensor computed from the Brevitas values of the ones before it, with the same stats as
    ``_execute(..., forced=tensors)``."""

    def __init__(self, wrapped):
        from flow.reference.ort_qonnx import OrtQonnxRunner

        view = GraphView(wrapped.model)
        self.points = [node.output[0] for node, _ in view.quantized_outputs()]
        out = wrapped.graph.output[0].name
        self.free_run = OrtQonnxRunner(wrapped.model, outputs=[out])
        self.out = out
        cut = _cut_at(wrapped.model, self.points)
        self.forced_run = OrtQonnxRunner(cut, outputs=self.points)

    def free(self, x):
        return self.free_run.run(x[0])[self.out]

    def forced(self, x, forced):
        if len(self.points) != len(forced):
            raise FlowError(f"QONNX graph has {len(self.points)} activation quantizers, the model {len(forced)}")
        feeds = {}
        for t, (name, ref, _) in zip(self.points, forced):
            feeds[f"{t}{_FORCED}"] = ref.astype(np.float32)
        got = self.forced_run.run(x[0], extra=feeds)
        stats = []
        for t, (name, ref, scale) in zip(self.points, forced):
            if got[t].shape != ref.shape:
                raise FlowError(f"QONNX quantizer output {t} {got[t].shape} does not line up with {name} {ref.shape}")
            step = np.broadcast_to(scale, ref.shape)
            lsb = np.abs(np.rint(got[t] / step) - np.rint(ref / step))  # difference of the integer codes
            stats.append((name, float(lsb.max()), int((lsb == 0).sum()), lsb.size))
        return stats


_FORCED = "__forced"


def _cut_at(model, tensors: list):
    """A copy of ``model`` whose nodes read each of ``tensors`` from a new graph input '<tensor>__forced'
    (same type and shape) instead of from the node that computes it; that node's output stays."""
    import copy

    from onnx import helper

    cut = copy.deepcopy(model)
    shapes = {vi.name: vi for vi in list(cut.graph.value_info) + list(cut.graph.output)}
    wanted = set(tensors)
    for node in cut.graph.node:
        for i, name in enumerate(node.input):
            if name in wanted:
                node.input[i] = f"{name}{_FORCED}"
    for name in tensors:
        vi = shapes.get(name)
        if vi is None:
            raise FlowError(f"QONNX graph has no shape for quantized tensor {name}")
        cut.graph.input.append(helper.make_value_info(f"{name}{_FORCED}", vi.type))
    return cut


def check_qonnx(qonnx_path, model, images: torch.Tensor, executor: str = "onnxruntime") -> dict:
    """Compare on each image; raise a FlowError naming the first tensor that breaks the criterion."""
    wrapped = ModelWrapper(str(qonnx_path))
    scale = output_scale(model)
    exact = _uses_po2_scales(model)
    worst_out, worst_tensor = 0.0, {}
    ort_graph = _OrtGraph(wrapped) if executor == "onnxruntime" else None
    for i in progress(range(len(images)), "export", "checked image"):
        x = images[i:i + 1]
        y_ref, tensors = _brevitas_tensors(model, x)
        if ort_graph is not None:
            y_free, stats = ort_graph.free(x.numpy()), ort_graph.forced(x.numpy(), tensors)
        else:
            (y_free, _), (_, stats) = _execute(wrapped, x.numpy()), _execute(wrapped, x.numpy(), forced=tensors)
        worst_out = max(worst_out, float(np.abs(np.rint(y_free / scale) - np.rint(y_ref / scale)).max()))
        for name, max_lsb, n_equal, n in stats:
            prev = worst_tensor.get(name, (0.0, 0, 0))
            worst_tensor[name] = (max(prev[0], max_lsb), prev[1] + n_equal, prev[2] + n)
    worst_tensor = {n: (m, eq / total) for n, (m, eq, total) in worst_tensor.items()}  # equal: over all images
    if exact:
        bad = [(n, m) for n, (m, _) in worst_tensor.items() if m > TOLERANCE_LSB]
        if worst_out > TOLERANCE_LSB or bad:
            where = f"; first tensor: {bad[0][0]} ({bad[0][1]:.3g} LSB)" if bad else ""
            raise FlowError(f"QONNX execution differs from the Brevitas model by {worst_out:.3g} output LSBs "
                            f"(power-of-two scales must match exactly){where}")
    else:
        bad = [(n, m, e) for n, (m, e) in worst_tensor.items() if m > FREE_SCALE_MAX_LSB or e < FREE_SCALE_MIN_EQUAL]
        if bad:
            n, m, e = bad[0]
            raise FlowError(f"QONNX execution differs from the Brevitas model at {n}: {m:.3g} LSB max, "
                            f"{100 * e:.3f}% of elements equal (limit {FREE_SCALE_MAX_LSB} LSB, "
                            f"{100 * FREE_SCALE_MIN_EQUAL}%)")
    return {"images": len(images), "scales": "power-of-two" if exact else "free", "executor": executor,
            "output_scale": scale, "max_output_diff_lsb": worst_out,
            "tensors_checked": len(worst_tensor),
            "max_tensor_diff_lsb": max((m for m, _ in worst_tensor.values()), default=0.0),
            "min_tensor_equal_fraction": min((e for _, e in worst_tensor.values()), default=1.0),
            "criterion": ("exact (<= %g LSB) output and tensors" % TOLERANCE_LSB) if exact else
                         ("per tensor, teacher-forced: <= %g LSB and >= %g%% equal"
                          % (FREE_SCALE_MAX_LSB, 100 * FREE_SCALE_MIN_EQUAL))}
