"""The integer program: what the lowering writes and the reference executor and the HLS stage read.

A program is a list of layers over named integer tensors. Each layer has a ``kind`` (see KINDS), input
and output tensor names, integer attributes, and integer arrays ("blobs": weights, biases, requantization
multipliers and shifts, lookup tables). Tensors carry their shape (batch dropped), bit width and
signedness; their real-valued ``scale`` is metadata for the host (quantizing the input image, reading the
logits) and is never used to compute.

On disk (``save``/``load``): ``program.json``, readable, with every blob referenced by (offset, dtype,
shape) into ``weights.bin``, the packed blobs, each aligned to BLOB_ALIGN bytes for AXI bursts.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow.errors import FlowError

FORMAT = "vitflow-program-v1"
PROGRAM_FILE = "program.json"
BLOB_FILE = "weights.bin"
BLOB_ALIGN = 64

# kind -> what it computes (the executor in flow.lower.reference implements each; see its docstrings)
KINDS = {
    "conv": "k x k convolution, any stride, groups (pointwise and grouped included), bias, per-channel requant",
    "dwconv": "depthwise k x k convolution (groups == channels), bias, per-channel requant",
    "linear": "fully connected layer on a vector or on each token, bias, per-channel requant; split: q, k, v by heads",
    "hardswish": "lookup table of 2^bits entries on the input code (one row per channel for an output with a scale or zero point per channel)",
    "relu": "lookup table of the requantized max(x, 0) on the input code",
    "add": "residual sum of two tensors, each with its multiplier, one shared shift",
    "concat": "channel concatenation, each input requantized to the output scale by a lookup table",
    "gap": "global average pool: sum over H x W, requant with exact division by H*W",
    "layernorm": "integer LayerNorm: integer mean/variance, isqrt, exact rounded division",
    "linear_attention": "ReLU linear attention of EfficientViT's LiteMLA, integer division by the divisor",
    "matmul": "product of two activations per head (q k^T, or attn v merged back into tokens), requant",
    "softmax": "integer softmax per row: exp table on max - code, one reciprocal per row, rounded multiplies",
    "gelu": "lookup table of 2^bits entries on the input code",
    "requant": "lookup table from one quantizer's code to the next (of one token: token)",
    "add_const": "tokens (after zero rows) plus a constant, each with its multiplier, one shared shift",
}
INTEGER_DTYPES = ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64")


@dataclass
class TensorInfo:
    shape: tuple
    bits: int
    signed: bool
    scale: float | list  # metadata only (per-tensor float, or per-channel list)
    source: str = ""     # the QONNX tensor this is (for comparisons)
    zero_point: int = 0  # the code of 0.0 (asymmetric tensors; folded into their consumers' biases)

    @property
    def range(self) -> tuple:
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    @property
    def dtype(self) -> np.dtype:
        return storage_dtype(self.bits, self.signed)


def storage_dtype(bits: int, signed: bool) -> np.dtype:
    for width in (8, 16, 32, 64):
        if bits <= width:
            return np.dtype(f"{'' if signed else 'u'}int{width}")
    raise FlowError(f"no integer storage type for {bits} bits")


@dataclass
class Layer:
    name: str
    kind: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    blobs: dict = field(default_factory=dict)      # name -> integer numpy array
    ranges: dict = field(default_factory=dict)     # accumulator name -> {"min", "max", "bits"} (range analysis)
    source: list = field(default_factory=list)     # QONNX node names this layer was lowered from
    dumps: dict = field(default_factory=dict)      # internal tensor role -> QONNX tensor name (for comparison)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise FlowError(f"layer {self.name}: unknown kind '{self.kind}'")
        for key, arr in self.blobs.items():
            if arr.dtype.name not in INTEGER_DTYPES:
                raise FlowError(f"layer {self.name}: blob '{key}' is {arr.dtype}, not an integer type")


@dataclass
class Program:
    model: str
    inputs: list
    outputs: list
    tensors: dict            # name -> TensorInfo
    layers: list             # [Layer], in execution order
    meta: dict = field(default_factory=dict)

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise FlowError(f"program has no layer '{name}'")

    def check(self) -> None:
        """Structural check: every tensor defined once before it is used, every blob integer, kinds known."""
        defined = set(self.inputs)
        for layer in self.layers:
            for t in layer.inputs:
                if t not in defined:
                    raise FlowError(f"layer {layer.name} reads tensor '{t}' before any layer writes it")
            for t in layer.outputs:
                if t in defined:
                    raise FlowError(f"tensor '{t}' is written twice (again by {layer.name})")
                if t not in self.tensors:
                    raise FlowError(f"layer {layer.name} writes undeclared tensor '{t}'")
                defined.add(t)
        missing = [t for t in self.outputs if t not in defined]
        if missing:
            raise FlowError(f"program outputs {missing} are never written")


def save(program: Program, folder: Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    blob = bytearray()

    def put(arr: np.ndarray) -> dict:
        pad = (-len(blob)) % BLOB_ALIGN
        blob.extend(b"\0" * pad)
        ref = {"offset": len(blob), "dtype": arr.dtype.name, "shape": list(arr.shape)}
        blob.extend(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes())
        return ref

    doc = {
        "format": FORMAT, "model": program.model, "inputs": program.inputs, "outputs": program.outputs,
        "meta": program.meta,
        "tensors": {n: {"shape": list(t.shape), "bits": t.bits, "signed": t.signed, "scale": t.scale,
                        "source": t.source, "zero_point": t.zero_point} for n, t in program.tensors.items()},
        "layers": [{"name": l.name, "kind": l.kind, "inputs": l.inputs, "outputs": l.outputs, "attrs": l.attrs,
                    "ranges": l.ranges, "source": l.source, "dumps": l.dumps,
                    "blobs": {k: put(v) for k, v in l.blobs.items()}} for l in program.layers],
    }
    (folder / BLOB_FILE).write_bytes(bytes(blob))
    (folder / PROGRAM_FILE).write_text(json.dumps(doc, indent=1))


def load(folder: Path) -> Program:
    folder = Path(folder)
    for name in (PROGRAM_FILE, BLOB_FILE):
        if not (folder / name).is_file():
            raise FlowError(f"integer program '{folder}' has no {name} (a program/ folder `flow lower` writes holds "
                            f"{PROGRAM_FILE} and {BLOB_FILE})")
    try:
        doc = json.loads((folder / PROGRAM_FILE).read_text())
        raw = (folder / BLOB_FILE).read_bytes()
    except OSError as exc:
        raise FlowError(f"cannot read integer program in '{folder}': {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FlowError(f"'{folder / PROGRAM_FILE}' is damaged: it is not JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise FlowError(f"'{folder / PROGRAM_FILE}' is not a {FORMAT} file")

    try:  # the end of the furthest blob: a short weights.bin is named with the size it needs
        max_end = max((r["offset"] + int(np.prod(r["shape"], dtype=np.int64)) * np.dtype(r["dtype"]).itemsize
                       for l in doc["layers"] for r in l["blobs"].values()), default=0)
    except (KeyError, TypeError, ValueError) as exc:
        raise FlowError(f"'{folder / PROGRAM_FILE}' is malformed: missing or wrong field {exc}") from None

    def get(ref: dict) -> np.ndarray:
        dtype = np.dtype(ref["dtype"]).newbyteorder("<")
        count = int(np.prod(ref["shape"], dtype=np.int64))
        end = ref["offset"] + count * dtype.itemsize
        if ref["dtype"] not in INTEGER_DTYPES:
            raise FlowError(f"'{folder / PROGRAM_FILE}' is damaged: a blob of type {ref['dtype']!r}")
        if end > len(raw):
            raise FlowError(f"'{folder / BLOB_FILE}' is short: {len(raw):,} bytes, where the program's blobs need "
                            f"{max_end:,} (truncated, or from another program)")
        return np.frombuffer(raw, dtype=dtype, count=count, offset=ref["offset"]).reshape(ref["shape"]).astype(
            np.dtype(ref["dtype"]))

    try:
        tensors = {n: TensorInfo(tuple(t["shape"]), t["bits"], t["signed"], t["scale"], t.get("source", ""),
                                 t.get("zero_point", 0))
                   for n, t in doc["tensors"].items()}
        layers = [Layer(l["name"], l["kind"], l["inputs"], l["outputs"], l["attrs"],
                        {k: get(r) for k, r in l["blobs"].items()}, l.get("ranges", {}), l.get("source", []),
                        l.get("dumps", {})) for l in doc["layers"]]
        program = Program(doc["model"], doc["inputs"], doc["outputs"], tensors, layers, doc.get("meta", {}))
    except (KeyError, TypeError) as exc:
        raise FlowError(f"'{folder / PROGRAM_FILE}' is malformed: missing or wrong field {exc}")
    program.check()
    return program
