"""Which side is right where the integer program and QONNX's float32 execution differ.

A quantized tensor's exact value is what its QONNX graph means: the graph's arithmetic on its codes and
float32 scales (values code x scale), carried out without rounding. With free scales it can lie closer to
a rounding tie (k + 1/2 codes) than a float32 execution resolves: onnxruntime rounds each dequantized
value code x scale to float32, then sums and divides in float32, and so may round the element to either
side; the integer program, whose requantization error is about 2^-31 of the value, rounds it to the exact
side.

To judge one quantized tensor, the nodes that compute it from the quantized tensors before it are cut out
of the graph and run in float64 in ONNX's reference evaluator (onnx.reference), on the same codes: inputs
and constant Quants (weights, biases; codes as QONNX computes them, QuantSpec.codes) enter as code x scale,
exact in float64. Float64 rounds 2^29 times finer than float32, so its code is the exact one wherever the
value is not within ``UNDECIDED`` codes of a tie."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from flow.errors import FlowError
from flow.lower.graph import GraphView

UNDECIDED = 1e-9  # codes: float64's error on these graphs is ~1e-13 codes; closer to a tie, no verdict
VERDICTS = ("integer", "qonnx", "neither", "undecided", "not_judged")


def _bcast(v, ndim: int) -> np.ndarray:
    """A scale or zero point in float64, broadcasting against an ndim tensor with a batch axis: as the graph
    stores it, or one value per channel (a list or 1-D array) on axis 1."""
    v = np.asarray(v, dtype=np.float64)
    return v.reshape((1, -1) + (1,) * (ndim - 2)) if v.ndim == 1 and v.size > 1 else v


def _float64_graph(view: GraphView, nodes: list, inputs: list, output: str, consts: dict):
    """A model of ``nodes`` (in graph order) in float64: float32 constants widened, Casts to float32 made
    Casts to float64; integer constants (shapes, axes) kept."""
    inits = [numpy_helper.from_array(v.astype(np.float64) if v.dtype == np.float32 else v, name)
             for name, v in consts.items()]
    body = []
    for n in nodes:
        n2 = helper.make_node(n.op_type, list(n.input), list(n.output), name=n.name, domain=n.domain)
        for a in n.attribute:
            a2 = n2.attribute.add()
            a2.CopyFrom(a)
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a2.i = TensorProto.DOUBLE
        body.append(n2)
    graph = helper.make_graph(body, "arbiter", [helper.make_tensor_value_info(i, TensorProto.DOUBLE, None)
                                                for i in inputs],
                              [helper.make_tensor_value_info(output, TensorProto.DOUBLE, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


class Arbiter:
    """Float64 evaluations of the quantized tensors of one cleaned QONNX file."""

    def __init__(self, model):
        """``model``: an onnx ModelProto (the file the program was lowered from)."""
        self.view = GraphView(model)
        self.quantized = {node.output[0]: (node, spec) for node, spec in self.view.quantized_outputs()}
        self._cut = {}

    def _subgraph(self, tensor: str):
        if tensor not in self._cut:
            if tensor not in self.quantized:
                raise FlowError(f"tensor {tensor} is not a quantized activation of the QONNX graph")
            node, spec = self.quantized[tensor]
            if node.op_type != "Quant":
                raise FlowError(f"tensor {tensor} comes from {node.op_type} {node.name}: only a Quant's output "
                                f"can be judged")
            view, order = self.view, {id(n): i for i, n in enumerate(self.view.nodes)}
            nodes, inputs, consts, todo, seen = [], [], {}, [node.input[0]], set()
            while todo:
                t = todo.pop()
                if not t or t in seen:
                    continue
                seen.add(t)
                src = view.src(t)
                if t in self.quantized or t in view.inputs:
                    inputs.append(t)
                elif view.is_const(t):
                    consts[t] = view.const(t)
                elif src is None:
                    raise FlowError(f"tensor {t} has no producer in the QONNX graph")
                elif src.op_type == "Quant" and view.is_const(src.input[0]):
                    codes, w_spec, _ = view.quantized_const(t)
                    consts[t] = (codes - w_spec.zero_point) * w_spec.scale.astype(np.float64)  # exact
                else:
                    nodes.append(src)
                    todo.extend(src.input)
            nodes.sort(key=lambda n: order[id(n)])
            model = _float64_graph(view, nodes, sorted(inputs), node.input[0], consts)
            self._cut[tensor] = (ReferenceEvaluator(model), sorted(inputs), node.input[0], spec)
        return self._cut[tensor]

    def inputs_of(self, tensor: str) -> list:
        """The quantized tensors (and graph inputs) the cut computing ``tensor`` reads."""
        return list(self._subgraph(tensor)[1])

    def _exact(self, tensor: str, value) -> np.ndarray:
        """code x scale in float64 (exact) of a quantized tensor's values (float32 as QONNX computes them, or
        exact); a graph input as given."""
        if tensor not in self.quantized:
            return np.asarray(value, dtype=np.float32).astype(np.float64)
        value = np.asarray(value, dtype=np.float64)
        spec = self.quantized[tensor][1]
        scale, zero_point = _bcast(spec.scale, value.ndim), _bcast(spec.zero_point, value.ndim)
        return (np.rint(value / scale + zero_point) - zero_point) * scale

    def values(self, tensor: str, context: dict) -> np.ndarray:
        """x / scale + zero point of ``tensor`` before rounding, in float64 (batch dropped), from the float32
        values of its inputs in ``context`` (e.g. a QONNX run's outputs)."""
        evaluator, inputs, pre, spec = self._subgraph(tensor)
        missing = [t for t in inputs if t not in context]
        if missing:
            raise FlowError(f"judging {tensor} needs {', '.join(missing)}, not in the given tensors")
        feed = {t: self._exact(t, context[t]) for t in inputs}
        x = evaluator.run([pre], feed)[0]
        return (x / _bcast(spec.scale, x.ndim) + _bcast(spec.zero_point, x.ndim))[0]

    def run(self, image: np.ndarray) -> dict:
        """The graph executed exactly (free-running): every quantized tensor's codes (batch dropped), each
        computed in float64 from the exact values of the ones before it, the graph input first."""
        context = {self.view.inputs[0]: np.asarray(image, dtype=np.float32)[None]}
        result = {}
        for tensor, (node, spec) in self.quantized.items():  # graph order: every input comes first
            codes = self.codes(tensor, context)[0]
            result[tensor] = codes
            n = codes.ndim + 1
            context[tensor] = (codes[None] - _bcast(spec.zero_point, n)) * _bcast(spec.scale, n)
        return result

    def codes(self, tensor: str, context: dict) -> tuple:
        """(codes, decided, values): the float64 codes of ``tensor`` (round half to even, clipped to its range),
        where they are decided (not within UNDECIDED of a tie), and the values before rounding."""
        v = self.values(tensor, context)
        lo, hi = self.quantized[tensor][1].range
        decided = np.abs(np.abs(v - np.floor(v)) - 0.5) >= UNDECIDED
        return np.clip(np.rint(v), lo, hi).astype(np.int64), decided, v

    def judge(self, tensor: str, context: dict, integer: np.ndarray, qonnx: np.ndarray, everywhere=False) -> dict:
        """Where the integer program's codes and QONNX's differ, whose the exact codes are: counts of the
        elements the exact code sides with ("integer", "qonnx", "neither") or does not decide ("undecided"),
        and the first differing element (index, both codes, exact value). Only a Quant's output is judged; a
        two-scale quantizer's (a Where) counts its differing elements as "not_judged". ``everywhere``: also
        count, over all elements, "integer_off": decided exact codes the integer program's differ from,
        "off_as_qonnx": how many of those QONNX's float32 code equals the integer program's (e.g. a table the
        lowering filled the way QONNX rounds, flow.lower.lut), and "elements": the elements judged."""
        diff = np.asarray(integer) != np.asarray(qonnx)
        counts = dict.fromkeys(VERDICTS, 0)
        if not diff.any() and not everywhere:
            return {**counts, "first": None}
        first = None
        if diff.any():
            idx = tuple(int(i) for i in np.argwhere(diff)[0])
            first = {"index": idx, "integer": int(integer[idx]), "qonnx": int(qonnx[idx])}
        if self.quantized[tensor][0].op_type != "Quant":
            return {**counts, "not_judged": int(diff.sum()), "first": first}
        exact, decided, values = self.codes(tensor, context)
        if everywhere:
            off = decided & (exact != integer)
            counts.update(integer_off=int(off.sum()), off_as_qonnx=int((off & ~diff).sum()), elements=int(diff.size))
        d = diff & decided
        counts.update(integer=int((d & (exact == integer)).sum()), qonnx=int((d & (exact == qonnx)).sum()),
                      undecided=int((diff & ~decided).sum()))
        counts["neither"] = int(d.sum()) - counts["integer"] - counts["qonnx"]
        return {**counts, "first": first and {**first, "exact_value": float(values[first["index"]])}}
