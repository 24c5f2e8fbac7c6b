"""Hand-built QONNX graphs for the lowering tests: each helper appends nodes the way the cleaned
Brevitas export spells them (Quant from qonnx.custom_op.general, opset 18)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

QONNX_DOMAIN = "qonnx.custom_op.general"


class GraphBuilder:
    def __init__(self, in_shape, in_scale, in_bits=8, in_signed=True):
        self.nodes, self.inits, self.n = [], [], 0
        self.in_shape = tuple(in_shape)
        self.x = self.quant("global_in", in_scale, in_bits, in_signed)

    def _name(self, prefix):
        self.n += 1
        return f"{prefix}_{self.n}"

    def const(self, value, dtype=np.float32) -> str:
        name = self._name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, n_out=1, **attrs) -> list:
        outs = [self._name(op_type) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self._name(op_type + "_n"), **attrs))
        return outs

    def quant(self, x, scale, bits=8, signed=True, narrow=False, zeropt=0.0) -> str:
        out = self._name("q")
        ins = [x, self.const(scale), self.const(np.asarray(zeropt, np.float32)), self.const(float(bits))]
        self.nodes.append(helper.make_node("Quant", ins, [out], name=self._name("Quant"), domain=QONNX_DOMAIN,
                                           signed=int(signed), narrow=int(narrow), rounding_mode="ROUND"))
        return out

    def weight(self, codes, scale, bits=8) -> str:
        """A Quant of a float initializer holding codes * scale (so the codes come back exactly)."""
        scale = np.asarray(scale, dtype=np.float32)
        real = (np.asarray(codes, dtype=np.float32) * scale).astype(np.float32)
        return self.quant(self.const(real), scale, bits, signed=True, narrow=True)

    def bias(self, codes, scale) -> str:
        scale = np.asarray(scale, dtype=np.float32)
        return self.quant(self.const(np.asarray(codes, np.float32) * scale), scale, 32, signed=True)

    def model(self, out: str) -> ModelWrapper:
        graph = helper.make_graph(
            self.nodes, "hand_built",
            [helper.make_tensor_value_info("global_in", TensorProto.FLOAT, (1,) + self.in_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], self.inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                        helper.make_opsetid(QONNX_DOMAIN, 1)])
        return ModelWrapper(proto).transform(InferShapes())


def run_qonnx(model: ModelWrapper, x: np.ndarray) -> dict:
    return execute_onnx(model, {"global_in": x[None].astype(np.float32)}, return_full_exec_context=True)


def hardswish(b: GraphBuilder, x: str) -> str:
    gate = b.op("Clip", [b.op("Add", [b.op("Mul", [x, b.const(1 / 6)])[0], b.const(0.5)])[0],
                         b.const(0.0), b.const(1.0)])[0]
    return b.op("Mul", [x, gate])[0]
