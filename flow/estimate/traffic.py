"""DDR traffic and arithmetic of each layer, following the templates' access pattern (what they read
from and write to external memory), and the multiply-accumulates it performs."""

import math

from flow.errors import FlowError


def _ceil(a, b):
    return -(-a // b)


def layer_traffic(layer, program, cfg) -> dict:
    """{"bytes": DDR bytes moved, "macs": multiply-accumulates} of one layer."""
    a, kind = layer.attrs, layer.kind
    size = lambda t: math.prod(program.tensors[t].shape)  # noqa: E731
    act_bytes = 2  # int16 codes in the activation arena
    params = sum(b.size * 4 for k, b in layer.blobs.items() if k != "weight")
    if kind in ("conv", "linear", "dwconv"):
        w = layer.blobs["weight"]
        cout = w.shape[0]
        per_out = math.prod(w.shape[1:])  # C_in/groups x KH x KW
        pixels = 1 if kind == "linear" else a["out_shape"][1] * a["out_shape"][2]
        groups = 1 if kind == "linear" else a["groups"]
        taps = 1 if kind == "linear" else a["kernel"][0] * a["kernel"][1]
        ci_g = per_out // taps
        if kind == "dwconv":  # each lane tile reads its channels' windows once per pixel
            reads = pixels * taps * a["in_channels"]
        else:  # every output-channel tile re-reads the input windows, PE_COLS channels per step
            reads = groups * _ceil(cout // groups, cfg.pe_rows) * pixels * _ceil(ci_g, cfg.pe_cols) * taps * cfg.pe_cols
        return {"bytes": w.size + params + act_bytes * (reads + size(layer.outputs[0])), "macs": cout * pixels * per_out}
    if kind == "linear_attention":
        G, d, N = a["groups"], a["dim"], a["tokens"]
        macs = G * (N * d * (d + 1) + N * d * (d + 1))  # k^T [v|1], then q kv and q ksum
        return {"bytes": params + act_bytes * (size(layer.inputs[0]) + size(layer.outputs[0])), "macs": macs}
    if kind in ("hardswish", "relu", "add", "concat", "gap", "layernorm"):
        reads = sum(size(t) for t in layer.inputs)
        if kind == "layernorm":  # three passes (sum, variance, output) each read x and its shifts, if any
            reads *= 3
            params += 2 * layer.blobs["in_shift"].size * 4 if "in_shift" in layer.blobs else 0
        table_reads = sum(size(t) for t in layer.inputs) * 4 if kind in ("hardswish", "relu", "concat") else 0
        if a.get("rows", 1) > 1:  # per-channel tables: each row read once into the row buffer
            table_reads = a["rows"] * a["entries"] * 4
        macs = size(layer.inputs[0]) if kind == "layernorm" else 0
        return {"bytes": params + table_reads + act_bytes * (reads + size(layer.outputs[0])), "macs": macs}
    raise FlowError(f"traffic model: no model for layer kind '{kind}'")
