"""The co-simulation program: one small layer of every kind the design's engines run, chained, with its
own random weights and input, so that Vitis' C/RTL co-simulation of the accelerator finishes in minutes
(the whole network's frame would take hours of RTL simulation). The top's m_axi depths are this
program's buffer sizes, exactly (flow/hls/project.py), and its testbench vectors are written to cosim/
beside data/.

x (3x8x8) -> conv 3x3/2 -> hardswish -> depthwise 3x3 -> hardswish (a table row per channel)
  -> grouped 1x1 conv -> add (with the first hardswish's output) -> relu -> depthwise 3x3 -> hardswish
  -> two 1x1 convs, concatenated (heads of D = 4) -> linear attention (2 heads) -> global average pool
  -> linear -> relu -> LayerNorm
(on an accelerator without the depthwise engine, HwConfig.dw_engine = 0, the same without the depthwise
convs; without the linear-attention engine, att_engine = 0, a 1x1 conv in the attention's place: a DeiT's
accelerator has neither)

On an accelerator with the softmax transformer's engines (HwConfig.tf) the program also runs a token
branch from the attention's output, so the RTL co-simulation covers those engines too: a patch
embedding (2x2 conv to 4 tokens of 128 channels) -> position add (a class token row) -> one pre-norm
block of two 64-wide heads (token LayerNorm, q k v linear, q k^T, softmax, attn v, projection, add;
token LayerNorm, linear -> GELU -> linear, add) -> the class token -> LayerNorm -> linear, the second
output.

On an accelerator with fused activations (EPI_ENTRIES > 0) the project runs it fused
(flow/hls/epilogues.py): the first convolution, the second depthwise and the linear layer then take
their tables as epilogues, so the RTL co-simulation covers that path too; the other tables stay (a row
per channel, an add's output). On an accelerator without the concat unit (HwConfig.concat_engine = 0)
its concatenation is done in place (flow/hls/concat_in_place.py: the two 1x1 convs take its tables as
epilogues and write its pixels).
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


def cosim_program(att_dividers: int = 1, acc_bits: int = 32, tokens: bool = False, dw: bool = True,
                  att: bool = True) -> tuple:
    """(program, reference tensors) of the co-simulation program for an accelerator with ``att_dividers``
    exact dividers in its attention unit (0, shift-only: the attention layer divides by shifting);
    ``tokens``: with the token branch (an accelerator with the transformer's engines); ``dw``, ``att``: with
    the depthwise convolutions, with the linear attention (an accelerator with those engines, HwConfig's
    dw_engine and att_engine). Without the depthwise convs the per-channel table reads the first table, the
    two 1x1 convs the ReLU; without the attention a 1x1 conv takes the concatenation to its output tensor."""
    rng = np.random.default_rng(SEED)
    t = {"x": _t((3, 8, 8)), "c0": _t((8, 4, 4)), "h0": _t((8, 4, 4)), "d0": _t((8, 4, 4)), "h1": _t((8, 4, 4)),
         "c1": _t((8, 4, 4)), "a0": _t((8, 4, 4)), "r0": _t((8, 4, 4), signed=False), "d1": _t((8, 4, 4)),
         "h2": _t((8, 4, 4)), "q0": _t((12, 4, 4)), "q1": _t((12, 4, 4)), "cat": _t((24, 4, 4)),
         "att": _t((8, 4, 4)), "g0": _t((8,)), "f0": _t((16,)), "f1": _t((16,), signed=False), "n0": _t((16,))}
    if not dw:
        for name in ("d0", "d1", "h2"):
            del t[name]
    h1_in, q_in = ("d0", "h2") if dw else ("h0", "r0")
    layers = [
        _conv(rng, "conv0", "x", "c0", 3, 8, 3, 2, 1, 1, (8, 8), (4, 4)),
        _table(rng, "c0", "h0", "hardswish0", "hardswish"),
        *([_conv(rng, "dwconv0", "h0", "d0", 8, 8, 3, 1, 1, 8, (4, 4), (4, 4))] if dw else []),
        _table(rng, h1_in, "h1", "hardswish1", "hardswish", rows=8),
        _conv(rng, "conv1", "h1", "c1", 8, 8, 1, 1, 0, 2, (4, 4), (4, 4)),
        Layer("add0", "add", ["c1", "h0"], ["a0"], {"shift": 24},
              {"mult": rng.integers(1 << 22, 1 << 23, 2).astype(np.int32)}),
        _table(rng, "a0", "r0", "relu0", "relu", lo=0, hi=255),
        *([_conv(rng, "dwconv1", "r0", "d1", 8, 8, 3, 1, 1, 8, (4, 4), (4, 4)),
           _table(rng, "d1", "h2", "hardswish2", "hardswish")] if dw else []),
        _conv(rng, "conv2", q_in, "q0", 8, 12, 1, 1, 0, 1, (4, 4), (4, 4)),
        _conv(rng, "conv3", q_in, "q1", 8, 12, 1, 1, 0, 1, (4, 4), (4, 4)),
        Layer("concat0", "concat", ["q0", "q1"], ["cat"], {"channels": [12, 12], "in_min": [-128, -128]},
              {"mult": np.ones(2, np.int32), "shift": np.zeros(2, np.int32),
               **{f"table{i}": rng.integers(-128, 128, 256).astype(np.int16) for i in range(2)}}),
        _attention(rng, log2=not att_dividers) if att else _conv(rng, "conv4", "cat", "att", 24, 8, 1, 1, 0, 1,
                                                                  (4, 4), (4, 4)),
        Layer("gap0", "gap", ["att"], ["g0"], {"divisor": 16},
              {"mult": np.array([1 << 20], np.int32), "shift": np.array([20], np.int32)}),
        _dense(rng, "linear0", "g0", ["f0"], 8, 16, 28, w_max=60),
        _table(rng, "f0", "f1", "relu1", "relu", lo=0, hi=255),
        _layernorm(rng, "layernorm0", "f1", "n0", 16, k=6),
    ]
    outputs = ["n0"]
    if tokens:
        outputs.append(_token_branch(np.random.default_rng(SEED + 1), "att", t, layers))  # x's draw unchanged
    program = Program("cosim", ["x"], outputs, t, layers)
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


# the token branch's sizes: 4 patch tokens and a class token, C channels in HEADS heads, an MLP of HIDDEN
TOKENS, C, HEADS, HIDDEN = 5, 128, 2, 256


def _dense(rng, name, x, ys, fan_in, fan_out, shift, w_max=40, **attrs) -> Layer:
    """A linear layer on a vector (or on tokens): weights in +-w_max, multipliers in [2^20, 2^22) under
    ``shift``, which keeps its random outputs spread over the 8-bit range."""
    blobs = {"weight": rng.integers(-w_max, w_max + 1, (fan_out, fan_in)).astype(np.int8),
             "bias": rng.integers(-500, 500, fan_out).astype(np.int32),
             "mult": rng.integers(1 << 20, 1 << 22, fan_out).astype(np.int32),
             "shift": np.full(fan_out, shift, np.int32)}
    return Layer(name, "linear", [x], ys, {"in_features": fan_in, "out_features": fan_out, "weight_bits": 8,
                                           **attrs}, blobs)


def _layernorm(rng, name, x, y, features, k=4) -> Layer:
    """A LayerNorm (over a vector, or over each token) with random coefficients a, b and shift k."""
    return Layer(name, "layernorm", [x], [y], {"features": features, "k": k},
                 {"a": rng.integers(-(1 << 12), 1 << 12, features).astype(np.int32),
                  "b": rng.integers(-(1 << 10), 1 << 10, features).astype(np.int32)})


def _token_branch(rng, src: str, t: dict, layers: list) -> str:
    """Append the token branch reading ``src`` (8 x 4 x 4) to ``layers`` (its tensors to ``t``); returns
    its output tensor."""
    d, n = C // HEADS, TOKENS
    t.update({"p0": _t((n - 1, C)), "e0": _t((n, C)), "e1": _t((n, C)), "l0": _t((n, C)),
              "qh": _t((HEADS, n, d)), "kh": _t((HEADS, n, d)), "vh": _t((HEADS, n, d)),
              "lg": _t((HEADS, n, n)), "pr": _t((HEADS, n, n), signed=False), "av": _t((n, C)), "pj": _t((n, C)),
              "s0": _t((n, C)), "s1": _t((n, C)), "l1": _t((n, C)), "m0": _t((n, HIDDEN)), "m1": _t((n, HIDDEN)),
              "m2": _t((n, C)), "s2": _t((n, C)), "ct": _t((C,)), "cn": _t((C,)), "t_out": _t((16,))})
    patch = _conv(rng, "patch0", src, "p0", 8, C, 2, 2, 0, 1, (4, 4), (2, 2))
    patch.attrs["tokens_out"] = 1
    patch.blobs["shift"][:] = 25  # the attention's small outputs, spread over the byte
    exp = np.round(2.0 ** 16 * np.exp(-np.arange(256) * 0.05)).astype(np.int64)
    layers += [
        patch,
        Layer("pos0", "add_const", ["p0"], ["e0"], {"shift": 10, "pad_tokens": 1},
              {"mult": np.array([1 << 10, 1 << 9], np.int32),
               "const": rng.integers(-100, 101, (n, C)).astype(np.int8)}),
        _table(rng, "e0", "e1", "requant0", "requant"),
        _layernorm(rng, "tln0", "e1", "l0", C),
        _dense(rng, "qkv0", "l0", ["qh", "kh", "vh"], C, 3 * C, 30, tokens=n, split=3, heads=HEADS, head_dim=d),
        Layer("qk0", "matmul", ["qh", "kh"], ["lg"], {"transpose_b": 1, "merge_heads": 0, "inner": d},
              {"mult": np.array([1 << 30], np.int32), "shift": np.array([37], np.int32)}),
        Layer("softmax0", "softmax", ["lg"], ["pr"],
              {"recip_bits": 40, "shift": 32, "out_max": 255, "rows": n, "row_length": n}, {"table": exp}),
        Layer("av0", "matmul", ["pr", "vh"], ["av"], {"transpose_b": 0, "merge_heads": 1, "inner": n},
              {"mult": np.array([1 << 30], np.int32), "shift": np.array([38], np.int32)}),
        _dense(rng, "proj0", "av", ["pj"], C, C, 30, tokens=n),
        Layer("add1", "add", ["e1", "pj"], ["s0"], {"shift": 24},
              {"mult": rng.integers(1 << 22, 1 << 23, 2).astype(np.int32)}),
        _table(rng, "s0", "s1", "requant1", "requant"),
        _layernorm(rng, "tln1", "s1", "l1", C),
        _dense(rng, "fc0", "l1", ["m0"], C, HIDDEN, 30, tokens=n),
        _table(rng, "m0", "m1", "gelu0", "gelu"),
        _dense(rng, "fc1", "m1", ["m2"], HIDDEN, C, 31, tokens=n),
        Layer("add2", "add", ["s0", "m2"], ["s2"], {"shift": 24},
              {"mult": rng.integers(1 << 22, 1 << 23, 2).astype(np.int32)}),
        Layer("cls0", "requant", ["s2"], ["ct"], {"in_min": -128, "token": 0, "entries": 256},
              {"table": rng.integers(-128, 128, 256).astype(np.int16)}),
        _layernorm(rng, "layernorm1", "ct", "cn", C),
        _dense(rng, "head0", "cn", ["t_out"], C, 16, 30),
    ]
    return "t_out"
