"""A read-only view of a cleaned QONNX graph for pattern matching: producers, consumers, constants,
and the parameters of Quant nodes. Every helper fails with a FlowError naming the node it could not read."""

from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

from flow.errors import FlowError


@dataclass(frozen=True)
class QuantSpec:
    """A QONNX Quant node's parameters: code = round_half_even(clip(x / scale + zero_point, lo, hi)) in
    float32 (QONNX's order: with an odd zero point a tie rounds differently than round(x / scale) + zp),
    value = (code - zero_point) * scale."""
    scale: np.ndarray   # float32, broadcastable to the tensor
    bits: int
    signed: bool
    narrow: bool
    zero_point: int | np.ndarray = 0  # activations only (asymmetric quantizers): per tensor, or per channel
                                      # in the graph's broadcast shape (filter-wise shift)

    @property
    def range(self) -> tuple:
        if self.signed:
            return -(1 << (self.bits - 1)) + int(self.narrow), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1 - int(self.narrow)

    def codes(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self.range
        y = np.asarray(x, dtype=np.float32) / self.scale + np.float32(self.zero_point)
        return np.round(np.clip(y, lo, hi)).astype(np.int64)

    @property
    def scalar_scale(self) -> float:
        if self.scale.size != 1:
            raise FlowError(f"expected a per-tensor scale, got shape {self.scale.shape}")
        return float(self.scale.reshape(()))


@dataclass(frozen=True)
class TwoScaleSpec:
    """TSPTQ's value-aware two-scale quantizer (models.two_scale_quant), exported as
    Where(Less(y, threshold), Quant_fine(y), Quant_coarse(y)) with coarse scale = 2^shift x fine scale.
    Its values are integers at the fine scale: the fine code below the threshold, the coarse code << shift
    from it on."""
    fine: QuantSpec
    coarse: QuantSpec
    threshold: np.float32
    shift: int

    def values(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float32)
        return np.where(y < self.threshold, self.fine.codes(y), self.coarse.codes(y) << self.shift)

    @property
    def range(self) -> tuple:
        (lo_f, hi_f), (lo_c, hi_c) = self.fine.range, self.coarse.range
        return min(lo_f, lo_c << self.shift), max(hi_f, hi_c << self.shift)


class GraphView:
    def __init__(self, model):
        """``model``: an onnx ModelProto (shapes inferred, as qonnx's cleanup leaves it)."""
        self.graph = model.graph
        self.opsets = {o.domain: o.version for o in model.opset_import}
        self.nodes = list(self.graph.node)
        self.inits = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers = {}
        for n in self.nodes:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.shapes = {}
        for vi in list(self.graph.value_info) + list(self.graph.input) + list(self.graph.output):
            dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
            self.shapes[vi.name] = tuple(dims)
        self.inputs = [i.name for i in self.graph.input if i.name not in self.inits]
        self.outputs = [o.name for o in self.graph.output]

    # -- structure -----------------------------------------------------------------------------------
    def src(self, tensor: str):
        """The node producing ``tensor`` (None for a graph input or a constant)."""
        return self.producer.get(tensor)

    def users(self, tensor: str) -> list:
        return self.consumers.get(tensor, [])

    def only_user(self, tensor: str, op_type: str | None = None):
        users = self.users(tensor)
        if len(users) != 1 or (op_type and users[0].op_type != op_type):
            found = ", ".join(f"{u.op_type} {u.name}" for u in users) or "none"
            raise FlowError(f"cannot lower: tensor {tensor} should feed exactly one "
                            f"{op_type or 'node'}, it feeds {found}")
        return users[0]

    def expect(self, tensor: str, *op_types: str):
        node = self.src(tensor)
        if node is None or node.op_type not in op_types:
            got = "a graph input or constant" if node is None else f"{node.op_type} {node.name}"
            raise FlowError(f"cannot lower: tensor {tensor} should come from {'/'.join(op_types)}, "
                            f"it comes from {got}")
        return node

    def shape(self, tensor: str) -> tuple:
        if tensor not in self.shapes:
            raise FlowError(f"cannot lower: tensor {tensor} has no inferred shape (run qonnx cleanup first)")
        return self.shapes[tensor]

    # -- constants -----------------------------------------------------------------------------------
    def is_const(self, tensor: str) -> bool:
        return tensor in self.inits

    def const(self, tensor: str) -> np.ndarray:
        if tensor not in self.inits:
            raise FlowError(f"cannot lower: {tensor} should be a constant (initializer)")
        return self.inits[tensor]

    def scalar(self, tensor: str) -> float:
        arr = self.const(tensor)
        if arr.size != 1:
            raise FlowError(f"cannot lower: constant {tensor} should be a scalar, has shape {arr.shape}")
        return float(arr.reshape(()))

    @staticmethod
    def attr(node, name: str, default=None):
        for a in node.attribute:
            if a.name == name:
                v = helper.get_attribute_value(a)
                return v.decode() if isinstance(v, bytes) else v
        return default

    # -- quantizers ----------------------------------------------------------------------------------
    def is_act_quant(self, node) -> bool:
        return node.op_type == "Quant" and not self.is_const(node.input[0])

    def quant_spec(self, node) -> QuantSpec:
        if node.op_type != "Quant":
            raise FlowError(f"cannot lower: {node.name} is {node.op_type}, not Quant")
        scale = self.const(node.input[1]).astype(np.float32)
        zeropt = self.const(node.input[2])
        bits = self.scalar(node.input[3])
        if np.any(zeropt != 0) and (np.any(zeropt != np.round(zeropt)) or self.is_const(node.input[0])
                                    or (zeropt.size > 1 and zeropt.size != max(zeropt.shape))):
            raise FlowError(f"cannot lower {node.name}: zero points must be integers, one per activation tensor "
                            f"or one per channel (weights are symmetric)")
        if bits != int(bits):
            raise FlowError(f"cannot lower {node.name}: fractional bit width {bits}")
        if self.attr(node, "rounding_mode", "ROUND") != "ROUND":
            raise FlowError(f"cannot lower {node.name}: rounding mode {self.attr(node, 'rounding_mode')} (need ROUND)")
        if np.any(scale <= 0):
            raise FlowError(f"cannot lower {node.name}: non-positive scale")
        if zeropt.size > 1 and np.any(zeropt != 0):
            zp = zeropt.astype(np.int64)  # per channel, in the graph's broadcast shape
        else:
            zp = int(zeropt.reshape(-1)[0]) if zeropt.size else 0
        return QuantSpec(scale, int(bits), bool(self.attr(node, "signed", 1)), bool(self.attr(node, "narrow", 0)), zp)

    def two_scale_of(self, tensor: str):
        """(TwoScaleSpec, [Quant fine, Quant coarse, Less, Where]) when ``tensor`` feeds a two-scale quantizer
        and nothing else, None when it feeds no Less; anything in between is an error naming it."""
        users = self.users(tensor)
        less = [u for u in users if u.op_type == "Less"]
        if not less:
            return None
        where = self.only_user(less[0].output[0], "Where")
        cond, fine_t, coarse_t = where.input
        quants = [self.src(t) for t in (fine_t, coarse_t)]
        if len(users) != 3 or less[0].input[0] != tensor or any(
                q is None or q.op_type != "Quant" or q.input[0] != tensor or self.users(q.output[0]) != [where]
                for q in quants):
            raise FlowError(f"cannot lower {where.name}: expected Where(Less(y, T), Quant(y), Quant(y)) as the "
                            f"only users of {tensor} (a two-scale quantizer)")
        fine, coarse = (self.quant_spec(q) for q in quants)
        ratio = coarse.scalar_scale / fine.scalar_scale
        shift = int(round(np.log2(ratio)))
        if shift < 1 or np.float32(fine.scalar_scale) * np.float32(2.0 ** shift) != np.float32(coarse.scalar_scale) \
                or np.any(fine.zero_point) or np.any(coarse.zero_point):
            raise FlowError(f"cannot lower {where.name}: a two-scale quantizer needs symmetric scales in a ratio 2^k, "
                            f"k >= 1 (got {coarse.scalar_scale} / {fine.scalar_scale})")
        spec = TwoScaleSpec(fine, coarse, np.float32(self.scalar(less[0].input[1])), shift)
        return spec, [*quants, less[0], where]

    def quantized_outputs(self) -> list:
        """[(node, QuantSpec)] of the nodes whose outputs are quantized activation tensors: each activation
        Quant, except the two inside a two-scale quantizer, whose Where counts instead with the fine spec."""
        found = {}
        for node in self.nodes:
            if self.is_act_quant(node):
                two_scale = self.two_scale_of(node.input[0])
                if two_scale is None:
                    found[node.name] = (node, self.quant_spec(node))
                else:
                    where = two_scale[1][-1]
                    found[where.name] = (where, two_scale[0].fine)
        return list(found.values())

    def quantized_const(self, tensor: str) -> tuple:
        """(integer codes, QuantSpec) of a Quant node applied to a constant (a weight or a bias)."""
        node = self.expect(tensor, "Quant")
        spec = self.quant_spec(node)
        return spec.codes(self.const(node.input[0])), spec, node
