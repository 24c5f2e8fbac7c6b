"""QONNX executed as one onnxruntime session, for comparisons over thousands of images.

qonnx's executor runs the graph node by node, a fresh onnxruntime session per node (seconds per image).
Here every Quant node becomes its definition in standard ONNX ops, Mul(Clip(Round(Div(x, s)), lo, hi), s)
(Round is half to even, like QONNX's ROUND; with a zero point z, Mul(Sub(Round(Clip(Div(x, s) + z)), z), s)), every intermediate tensor becomes a graph output, and the
graph runs in one session with graph optimizations off, so each node runs the same onnxruntime kernel
as under qonnx's executor. Equality with qonnx's executor is not assumed: ``verify`` checks it, tensor
for tensor, and the benchmark calls it first.
"""

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from flow.errors import FlowError
from flow.lower.graph import GraphView

from .compare import QonnxRunner, activation_quants


def _replace_quants(model: onnx.ModelProto) -> onnx.ModelProto:
    view = GraphView(model)
    nodes, inits = [], list(model.graph.initializer)
    for node in model.graph.node:
        if node.op_type != "Quant":
            nodes.append(node)
            continue
        spec = view.quant_spec(node)
        lo, hi = spec.range
        names = [f"{node.name}_{k}" for k in ("div", "round", "clip", "lo", "hi", "zp", "shifted", "code")]
        inits += [numpy_helper.from_array(np.float32(lo), names[3]), numpy_helper.from_array(np.float32(hi), names[4])]
        if not np.any(spec.zero_point):
            nodes += [helper.make_node("Div", [node.input[0], node.input[1]], [names[0]]),
                      helper.make_node("Round", [names[0]], [names[1]]),
                      helper.make_node("Clip", [names[1], names[3], names[4]], [names[2]]),
                      helper.make_node("Mul", [names[2], node.input[1]], [node.output[0]])]
            continue
        # with a zero point z, QONNX's order: (Round(Clip(x / s + z)) - z) * s
        inits.append(numpy_helper.from_array(np.float32(spec.zero_point), names[5]))
        nodes += [helper.make_node("Div", [node.input[0], node.input[1]], [names[0]]),
                  helper.make_node("Add", [names[0], names[5]], [names[6]]),
                  helper.make_node("Clip", [names[6], names[3], names[4]], [names[2]]),
                  helper.make_node("Round", [names[2]], [names[1]]),
                  helper.make_node("Sub", [names[1], names[5]], [names[7]]),
                  helper.make_node("Mul", [names[7], node.input[1]], [node.output[0]])]
    graph = helper.make_graph(nodes, model.graph.name, list(model.graph.input), list(model.graph.output), inits,
                              value_info=list(model.graph.value_info))
    opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    return helper.make_model(graph, opset_imports=opsets, ir_version=model.ir_version)


class OrtQonnxRunner(QonnxRunner):
    """Runs a cleaned QONNX file; ``run`` returns {tensor name: value} for ``outputs`` (default: every
    activation Quant output), like QonnxRunner (so compare_with_qonnx takes either)."""

    def __init__(self, path, outputs: list | None = None):
        """``path``: the QONNX file, or its ModelProto (then ``outputs`` must be given)."""
        if isinstance(path, onnx.ModelProto):
            self.path, source = None, path
        else:
            self.path = str(path)
            self.quants = activation_quants(path)
            source = onnx.load(self.path)
        outputs = list(self.quants) if outputs is None else outputs
        model = _replace_quants(source)
        self.input = model.graph.input[0].name
        shapes = {vi.name: vi for vi in list(model.graph.value_info) + list(model.graph.output)}
        model.graph.ClearField("output")
        for name in outputs:
            if name not in shapes:
                raise FlowError(f"tensor {name} is not in the QONNX graph")
            model.graph.output.append(shapes[name])
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3  # not the unused zero-point initializers left by the Quant expansion
        self.outputs = list(outputs)
        self.session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    def run(self, image: np.ndarray, extra: dict | None = None) -> dict:
        """``extra``: more graph inputs by name (the export check's teacher-forced tensors)."""
        values = self.session.run(self.outputs, {self.input: image[None].astype(np.float32), **(extra or {})})
        return dict(zip(self.outputs, values))

    def verify(self, images: np.ndarray) -> int:
        """Compare with qonnx's executor on ``images``; raise unless every requested tensor is identical."""
        wrapped = ModelWrapper(self.path)
        for image in images:
            ctx = execute_onnx(wrapped, {self.input: image[None].astype(np.float32)}, return_full_exec_context=True)
            mine = self.run(image)
            for name in self.outputs:
                if not np.array_equal(ctx[name], mine[name]):
                    raise FlowError(f"one-session execution differs from qonnx's executor at {name}")
        return len(images)
