"""State shared by the lowering rules while they turn a QONNX graph into a Program."""

import numpy as np

from flow.errors import FlowError

from .graph import GraphView, QuantSpec
from .program import Layer, TensorInfo, storage_dtype
from .ranges import signed_bits
from .requant import MULT_BITS, requant_params


class Lowering:
    def __init__(self, graph: GraphView, mult_bits: int = MULT_BITS):
        self.g = graph
        self.mult_bits = mult_bits
        self.tensors: dict = {}        # program tensor name -> TensorInfo
        self.alias: dict = {}          # QONNX tensor name -> program tensor name (layout ops absorbed by a layer)
        self.layers: list = []
        self.claimed: set = set()      # names of QONNX nodes some layer accounts for
        self.inputs: list = []
        self._count: dict = {}

    # -- tensors -------------------------------------------------------------------------------------
    def add_tensor(self, name: str, spec: QuantSpec, shape: tuple, source: str | None = None) -> str:
        scale = spec.scale.reshape(-1)
        zp = spec.zero_point if np.isscalar(spec.zero_point) else [int(v) for v in spec.zero_point.reshape(-1)]
        for what, n in (("scales", scale.size), ("zero points", 1 if np.isscalar(zp) else len(zp))):
            if n != 1 and (len(shape) < 1 or n != shape[0]):
                raise FlowError(f"cannot lower: tensor {name} of shape {tuple(shape)} has {n} {what}, "
                                "neither one nor one per channel")
        self.tensors[name] = TensorInfo(tuple(int(d) for d in shape), spec.bits, spec.signed,
                                        float(scale[0]) if scale.size == 1 else [float(v) for v in scale],
                                        source or name, zp)
        return name

    def add_quant_output(self, qnode) -> str:
        """Declare the output of an activation Quant node as a program tensor (batch dimension dropped)."""
        shape = self.g.shape(qnode.output[0])
        if not shape or shape[0] != 1:
            raise FlowError(f"cannot lower {qnode.name}: expected batch 1, tensor shape {shape}")
        return self.add_tensor(qnode.output[0], self.g.quant_spec(qnode), shape[1:])

    def add_two_scale_output(self, spec, where) -> str:
        """Declare the output of a two-scale quantizer (its Where node): integers at the fine scale, unsigned
        when no value is negative."""
        shape = self.g.shape(where.output[0])
        if not shape or shape[0] != 1:
            raise FlowError(f"cannot lower {where.name}: expected batch 1, tensor shape {shape}")
        lo, hi = spec.range
        if lo >= 0:  # unsigned fine codes (a softmax output's): unsigned integers, as wide as the largest
            values = QuantSpec(spec.fine.scale, max(int(hi).bit_length(), 1), False, False)
        else:
            values = QuantSpec(spec.fine.scale, signed_bits(lo, hi), True, False)
        return self.add_tensor(where.output[0], values, shape[1:])

    def tensor_of(self, qonnx_name: str, zero_point_ok: bool = False) -> str:
        """The program tensor a QONNX tensor stands for; it must be quantized by an earlier layer, and
        symmetric unless the caller folds a zero point (``zero_point_ok``)."""
        name = self.alias.get(qonnx_name, qonnx_name)
        if name not in self.tensors:
            src = self.g.src(qonnx_name)
            what = f"{src.op_type} {src.name}" if src is not None else "a graph input"
            raise FlowError(f"cannot lower: tensor {qonnx_name} (from {what}) is not a quantized tensor; "
                            "every layer input must come out of an activation Quant")
        if np.any(self.tensors[name].zero_point) and not zero_point_ok:
            users = ", ".join(f"{u.op_type} {u.name}" for u in self.g.users(qonnx_name))
            raise FlowError(f"cannot lower: tensor {qonnx_name} has zero point {self.tensors[name].zero_point}; only "
                            f"an unpadded pointwise conv or a linear layer can fold it, it feeds {users}")
        return name

    def scale(self, name: str) -> float:
        s = self.tensors[name].scale
        if isinstance(s, list):
            src = self.tensors[name].source
            users = ", ".join(f"{u.op_type} {u.name}" for u in self.g.users(src)) or "nothing"
            raise FlowError(f"cannot lower: tensor {src} has one scale per channel, which only a depthwise conv "
                            f"or a lookup table can take; it feeds {users}")
        return s

    def channel_scales(self, name: str) -> np.ndarray:
        """The tensor's scale per channel (a per-tensor scale repeated)."""
        s = self.tensors[name].scale
        return np.asarray(s, dtype=np.float64) if isinstance(s, list) else np.full(self.tensors[name].shape[0], s)

    def channel_zero_points(self, name: str) -> np.ndarray:
        z = self.tensors[name].zero_point
        return np.asarray(z, dtype=np.int64) if isinstance(z, list) else np.full(self.tensors[name].shape[0], z)

    # -- layers --------------------------------------------------------------------------------------
    def add_layer(self, kind: str, inputs, outputs, nodes, attrs=None, blobs=None, dumps=None) -> Layer:
        n = self._count.get(kind, 0)
        self._count[kind] = n + 1
        layer = Layer(f"{kind}{n}", kind, list(inputs), list(outputs), attrs or {}, blobs or {},
                      source=[x.name for x in nodes], dumps=dumps or {})
        for node in nodes:
            # a quantizer of constants (the exporter shares one between layers whose biases are equal,
            # e.g. all zero) may serve several layers; any other node belongs to one layer
            shared_const = node.op_type == "Quant" and all(self.g.is_const(i) for i in node.input)
            if node.name in self.claimed and not shared_const:
                raise FlowError(f"cannot lower: node {node.name} matched by two layers")
            self.claimed.add(node.name)
        self.layers.append(layer)
        return layer

    def requant(self, ratios) -> tuple:
        """Per-channel (multiplier, shift) arrays for real ratios (see flow.lower.requant)."""
        params = [requant_params(float(r), self.mult_bits) for r in np.atleast_1d(ratios)]
        return (np.array([m for m, _ in params], dtype=np.int64),
                np.array([s for _, s in params], dtype=np.int32))


def int_blob(codes: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """Integer codes in their smallest storage type."""
    return np.asarray(codes).astype(storage_dtype(bits, signed))


def fit_blob(values: np.ndarray) -> np.ndarray:
    """Integers in the smallest signed storage type that holds them."""
    values = np.asarray(values, dtype=np.int64)
    peak = int(np.abs(values).max()) if values.size else 0
    return values.astype(storage_dtype(max(peak.bit_length() + 1, 2), True))
