"""The co-simulation program: one small layer of every kind, chained, with its own random weights and
input, so that Vitis' C/RTL co-simulation of the accelerator finishes in minutes (the whole network's
frame would take hours of RTL simulation). The top's m_axi depths are this program's buffer sizes,
exactly (flow/hls/project.py), and its testbench vectors are written to cosim/ beside data/.

x (3x8x8) -> conv 3x3/2 -> hardswish -> depthwise 3x3 -> hardswish (a table row per channel)
  -> grouped 1x1 conv -> add (with the first hardswish's output) -> relu -> depthwise 3x3 -> hardswish
  -> two 1x1 convs, concatenated (heads of D = 4) -> linear attention (2 heads) -> global average pool
  -> linear -> relu -> LayerNorm

On an accelerator with fused activations (EPI_ENTRIES > 0) the project runs it fused
(flow/hls/epilogues.py): the first convolution, the second depthwise and the linear layer then take
their tables as epilogues, so the RTL co-simulation covers that path too; the other tables stay (a row
per channel, an add's output).
"""

import numpy as np

from flow.lower.program import Layer, Program, TensorInfo
from flow.lower.ranges import analyse_ranges
from flow.lower.rules.attention import round_log2_odd
from flow.reference import run_program

SEED = 2026


def _t(shape, signed=True, bits=8):
    return TensorInfo(tuple(shape), bits, signed, 1.0)


def _conv(rng, name, x, y, cin, cout, k, stride, pad, groups, hw_in, hw_out):
    w = rng.integers(-40, 41, size=(cout, cin // groups, k, k)).astype(np.int8)
    blobs = {"weight": w, "bias": rng.integers(-500, 500, cout).astype(np.int32),
             "mult": rng.integers(1 << 20, 1 << 22, cout).astype(np.int32), "shift": np.full(cout, 30, np.int32)}
    attrs = {"in_channels": cin, "out_channels": cout, "kernel": [k, k], "stride": [stride, stride],
             "pad": [pad] * 4, "groups": groups, "in_shape": [cin, *hw_in], "out_shape": [cout, *hw_out],
             "weight_bits": 8}
    return Layer(name, "dwconv" if groups == cin == cout and groups > 1 else "conv", [x], [y], attrs, blobs)


def _table(rng, x, y, name, kind, rows=1, lo=-128, hi=127):
    table = rng.integers(lo, hi + 1, (rows, 256) if rows > 1 else 256).astype(np.int16)
    blobs = {"table": table}
    if kind == "relu":
        blobs.update(mult=np.ones(1, np.int32), shift=np.zeros(1, np.int32))
    return Layer(name, kind, [x], [y], {"in_min": -128, "entries": 256, "rows": rows}, blobs)


def cosim_program(att_dividers: int = 1, acc_bits: int = 32) -> tuple:
    """(program, reference tensors) of the co-simulation program for an accelerator with ``att_dividers``
    exact dividers in its attention unit (0, shift-only: the attention layer divides by shifting)."""
    rng = np.random.default_rng(SEED)
    t = {"x": _t((3, 8, 8)), "c0": _t((8, 4, 4)), "h0": _t((8, 4, 4)), "d0": _t((8, 4, 4)), "h1": _t((8, 4, 4)),
         "c1": _t((8, 4, 4)), "a0": _t((8, 4, 4)), "r0": _t((8, 4, 4), signed=False), "d1": _t((8, 4, 4)),
         "h2": _t((8, 4, 4)), "q0": _t((12, 4, 4)), "q1": _t((12, 4, 4)), "cat": _t((24, 4, 4)),
         "att": _t((8, 4, 4)), "g0": _t((8,)), "f0": _t((16,)), "f1": _t((16,), signed=False), "n0": _t((16,))}
    layers = [
        _conv(rng, "conv0", "x", "c0", 3, 8, 3, 2, 1, 1, (8, 8), (4, 4)),
        _table(rng, "c0", "h0", "hardswish0", "hardswish"),
        _conv(rng, "dwconv0", "h0", "d0", 8, 8, 3, 1, 1, 8, (4, 4), (4, 4)),
        _table(rng, "d0", "h1", "hardswish1", "hardswish", rows=8),
        _conv(rng, "conv1", "h1", "c1", 8, 8, 1, 1, 0, 2, (4, 4), (4, 4)),
        Layer("add0", "add", ["c1", "h0"], ["a0"], {"shift": 31},
              {"mult": rng.integers(1 << 29, 1 << 30, 2).astype(np.int32)}),
        _table(rng, "a0", "r0", "relu0", "relu", lo=0, hi=255),
        _conv(rng, "dwconv1", "r0", "d1", 8, 8, 3, 1, 1, 8, (4, 4), (4, 4)),
        _table(rng, "d1", "h2", "hardswish2", "hardswish"),
        _conv(rng, "conv2", "h2", "q0", 8, 12, 1, 1, 0, 1, (4, 4), (4, 4)),
        _conv(rng, "conv3", "h2", "q1", 8, 12, 1, 1, 0, 1, (4, 4), (4, 4)),
        Layer("concat0", "concat", ["q0", "q1"], ["cat"], {"channels": [12, 12], "in_min": [-128, -128]},
              {"mult": np.ones(2, np.int32), "shift": np.zeros(2, np.int32),
               **{f"table{i}": rng.integers(-128, 128, 256).astype(np.int16) for i in range(2)}}),
        _attention(rng, log2=not att_dividers),
        Layer("gap0", "gap", ["att"], ["g0"], {"divisor": 16},
              {"mult": np.array([1 << 20], np.int32), "shift": np.array([20], np.int32)}),
        Layer("linear0", "linear", ["g0"], ["f0"], {"in_features": 8, "out_features": 16, "weight_bits": 8},
              {"weight": rng.integers(-60, 61, (16, 8)).astype(np.int8),
               "bias": rng.integers(-500, 500, 16).astype(np.int32),
               "mult": rng.integers(1 << 20, 1 << 22, 16).astype(np.int32), "shift": np.full(16, 28, np.int32)}),
        _table(rng, "f0", "f1", "relu1", "relu", lo=0, hi=255),
        Layer("layernorm0", "layernorm", ["f1"], ["n0"], {"features": 16, "k": 6},
              {"a": rng.integers(-(1 << 12), 1 << 12, 16).astype(np.int32),
               "b": rng.integers(-(1 << 10), 1 << 10, 16).astype(np.int32)}),
    ]
    program = Program("cosim", ["x"], ["n0"], t, layers)
    program.check()
    analyse_ranges(program, acc_bits)
    x = rng.integers(-128, 128, size=(3, 8, 8))
    return program, run_program(program, {"x": x}, dump_internal=False)


def _attention(rng, log2: bool) -> Layer:
    quant = {r: {"bits": 8, "signed": r in ("kv", "num", "att"),
                 "range": [-128, 127] if r in ("kv", "num", "att") else [0, 255]}
             for r in ("q", "k", "kv", "ksum", "num", "den", "att")}
    blobs = {"q_table": rng.integers(0, 256, 256).astype(np.int16), "k_table": rng.integers(0, 256, 256).astype(np.int16)}
    for r in ("q", "k", "kv", "ksum", "num", "den", "att"):
        blobs[f"{r}_mult"], blobs[f"{r}_shift"] = np.array([1 << 30], np.int32), np.array([36], np.int32)
    blobs["att_shift"] = np.array([22 if log2 else 30], np.int32)
    attrs = {"groups": 2, "dim": 4, "tokens": 16, "height": 4, "width": 4, "quant": quant, "in_min": -128,
             "divisor": "log2" if log2 else "exact"}
    if log2:
        blobs["den_exp"] = round_log2_odd(2 * np.arange(256) + 1).astype(np.int8)
    return Layer("attention0", "linear_attention", ["cat"], ["att"], attrs, blobs)
