"""One integer kernel per program layer kind: numpy, int64 accumulation, no float anywhere.

Each takes the layer and its input arrays (integer codes, shapes as in the program: C x H x W maps,
(C,) vectors) and returns (outputs, dumps): the output arrays and the internal tensors worth comparing
(keyed by role, see Layer.dumps). Requantization everywhere is clamp(round_half_even(acc m / 2^s), lo, hi)
(flow.lower.requant).
"""

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from flow.errors import FlowError
from flow.lower.requant import requantize, round_div, round_shift

I64 = np.int64


def _col(a: np.ndarray) -> np.ndarray:
    """A per-channel vector shaped to broadcast over (C, H, W) / (C, N)."""
    return np.asarray(a, dtype=I64).reshape(-1, *([1] * 2))


def conv_acc(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride, pad, groups: int) -> np.ndarray:
    """int64 accumulators (C_out, H_out, W_out) of a grouped k x k convolution plus bias."""
    x = np.asarray(x, dtype=I64)
    w = np.asarray(weight, dtype=I64)
    c_out, c_in_g, kh, kw = w.shape
    c_in = x.shape[0]
    if c_in != c_in_g * groups or c_out % groups:
        raise FlowError(f"conv: input has {c_in} channels, weights {w.shape} with {groups} groups")
    top, left, bottom, right = pad
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride[0], ::stride[1]]  # C, Ho, Wo, kh, kw
    ho, wo = win.shape[1:3]
    out = np.empty((c_out, ho * wo), dtype=I64)
    co_g = c_out // groups
    if c_in_g == 1 and co_g == 1:  # depthwise: per channel, sum over the window
        out[:] = np.einsum("chwij,cij->chw", win, w[:, 0]).reshape(c_out, -1)
    else:
        for gi in range(groups):
            cols = win[gi * c_in_g:(gi + 1) * c_in_g].transpose(0, 3, 4, 1, 2).reshape(c_in_g * kh * kw, -1)
            out[gi * co_g:(gi + 1) * co_g] = w[gi * co_g:(gi + 1) * co_g].reshape(co_g, -1) @ cols
    return out.reshape(c_out, ho, wo) + _col(bias)


def _lookup(table: np.ndarray, x, in_min: int) -> np.ndarray:
    """table[x - in_min]; a 2-D table has one row per channel (the first axis of x)."""
    idx = np.asarray(x, dtype=I64) - in_min
    if idx.size and (idx.min() < 0 or idx.max() >= table.shape[-1]):
        raise FlowError("input code outside its lookup table")
    if table.ndim == 2:
        if table.shape[0] != idx.shape[0]:
            raise FlowError(f"{table.shape[0]} table rows for {idx.shape[0]} channels")
        rows = np.arange(idx.shape[0]).reshape((-1,) + (1,) * (idx.ndim - 1))
        return table.astype(I64)[rows, idx]
    return table.astype(I64)[idx]


def _range(info) -> tuple:
    return info.range


def _requantize_out(layer, acc, mult, shift, out_info, residual=None) -> tuple:
    """(output, dumps): the requantized accumulators, through the epilogue table when the layer has one
    (flow/hls/epilogues.py), or added to ``residual`` when the layer has a residual add as epilogue
    (flow/hls/residual_epilogues.py: the add's arithmetic on the codes); the codes then also come back, as
    the dropped tensor's."""
    epi, res = layer.attrs.get("epilogue"), layer.attrs.get("residual")
    if res is not None:
        codes = requantize(acc, mult, shift, *res["code_range"])
        y, _ = _weighted_sum(codes, residual, res["mult_conv"], res["mult_res"], res["shift"], out_info)
        return y, {"acc": acc, "residual_codes": codes}
    if epi is None:
        return requantize(acc, mult, shift, *_range(out_info)), {"acc": acc}
    codes = requantize(acc, mult, shift, *epi["code_range"])
    return _lookup(layer.blobs["epilogue_table"], codes, epi["in_min"]), {"acc": acc, "epilogue_codes": codes}


def conv(layer, x, *rest):
    """``rest``: the residual (a layer with a residual add as epilogue), then the output's TensorInfo."""
    *residual, out_info = rest
    a = layer.attrs
    acc = conv_acc(x, layer.blobs["weight"], layer.blobs["bias"], a["stride"], a["pad"], a["groups"])
    y, dumps = _requantize_out(layer, acc, _col(layer.blobs["mult"]), _col(layer.blobs["shift"]), out_info,
                               *residual)
    if a.get("tokens_out"):  # a patch embedding: the (C, H, W) map as H W tokens of C channels
        y = y.reshape(y.shape[0], -1).T
    return [y], dumps


def linear(layer, x, *rest):
    """On a vector (C,), or on each token of (N, C); ``split``: the output's 3 C channels are q, k and v,
    each returned as (heads, N, d). ``rest``: the residual (a residual add as epilogue), then the output's
    TensorInfo."""
    *residual, out_info = rest
    w = layer.blobs["weight"].astype(I64)
    acc = np.asarray(x, dtype=I64) @ w.T + layer.blobs["bias"].astype(I64)
    y, dumps = _requantize_out(layer, acc, layer.blobs["mult"], layer.blobs["shift"], out_info, *residual)
    a = layer.attrs
    if a.get("split"):
        y = y.reshape(y.shape[0], a["split"], a["heads"], a["head_dim"]).transpose(1, 2, 0, 3)
        return list(y), dumps
    return [y], dumps


def hardswish(layer, x, out_info):
    return [_lookup(layer.blobs["table"], x, layer.attrs["in_min"])], {}


def relu(layer, x, out_info):
    return [_lookup(layer.blobs["table"], x, layer.attrs["in_min"])], {}


def _weighted_sum(a, b, m0, m1, shift, out_info) -> tuple:
    """(clamp(round_half_even((a m0 + b m1) / 2^shift)), the sum): a residual add's arithmetic."""
    acc = np.asarray(a, dtype=I64) * np.int64(m0) + np.asarray(b, dtype=I64) * np.int64(m1)
    return requantize(acc, 1, shift, *_range(out_info)), acc


def add(layer, a, b, out_info):
    m = layer.blobs["mult"].astype(I64)
    y, acc = _weighted_sum(a, b, m[0], m[1], layer.attrs["shift"], out_info)
    return [y], {"acc": acc}


def concat(layer, *xs_and_info):
    *xs, out_info = xs_and_info
    parts = [_lookup(layer.blobs[f"table{i}"], x, layer.attrs["in_min"][i]) for i, x in enumerate(xs)]
    return [np.concatenate(parts, axis=0)], {}


def gap(layer, x, out_info):
    acc = np.asarray(x, dtype=I64).sum(axis=(1, 2))
    m, s = int(layer.blobs["mult"][0]), int(layer.blobs["shift"][0])
    num, den = acc * m, layer.attrs["divisor"]
    num, den = (num, den << s) if s >= 0 else (num << -s, den)
    lo, hi = _range(out_info)
    return [np.clip(round_div(num, np.int64(den)), lo, hi)], {"acc": acc}


def isqrt(v: np.ndarray) -> np.ndarray:
    """floor(sqrt(v)) of non-negative int64 values, exactly."""
    return np.array([math.isqrt(int(e)) for e in np.asarray(v).reshape(-1)], dtype=I64).reshape(np.shape(v))


def layernorm(layer, x, out_info):
    q = np.asarray(x, dtype=I64)
    if "in_shift" in layer.blobs:  # outlier-aware two scales: channel c at s_in 2^in_shift[c]
        q = q << layer.blobs["in_shift"].astype(I64)
    C = q.shape[-1]
    d = q * C - q.sum(axis=-1, keepdims=True)
    v = (d * d).sum(axis=-1, keepdims=True)
    sigma = np.maximum(isqrt(v), 1)
    num = d * layer.blobs["a"].astype(I64) + sigma * layer.blobs["b"].astype(I64)
    k = layer.attrs["k"]
    den = sigma << k if k >= 0 else sigma
    num = num if k >= 0 else num << -k
    lo, hi = _range(out_info)
    return [np.clip(round_div(num, den), lo, hi)], {"variance": v, "sigma": sigma}


def _rq(layer, role, acc):
    lo, hi = layer.attrs["quant"][role]["range"]
    return requantize(acc, int(layer.blobs[f"{role}_mult"][0]), int(layer.blobs[f"{role}_shift"][0]), lo, hi)


def linear_attention(layer, cat, out_info, given=None):
    """``given`` (role -> codes): internal tensors to continue from instead of the computed ones
    (teacher forcing inside the layer); the computed ones are still what the dumps return."""
    a = layer.attrs
    G, d, N = a["groups"], a["dim"], a["tokens"]
    given = given or {}
    own = {}

    def stage(role, acc):
        own[role] = _rq(layer, role, acc)
        return given.get(role, own[role])

    t = np.asarray(cat, dtype=I64).reshape(G, 3 * d, N).transpose(0, 2, 1)  # (G, N, 3d)
    own["q"], own["k"] = (_lookup(layer.blobs[f"{r}_table"], t[..., i * d:(i + 1) * d], a["in_min"])
                          for i, r in enumerate(("q", "k")))
    q, k = given.get("q", own["q"]), given.get("k", own["k"])
    v = t[..., 2 * d:]
    kt = k.transpose(0, 2, 1)                                  # (G, d, N)
    kv = stage("kv", kt @ v)                                   # (G, d, d)
    ksum = stage("ksum", kt.sum(axis=-1, keepdims=True))       # (G, d, 1)
    num = stage("num", q @ kv)                                 # (G, N, d)
    den = stage("den", q @ ksum)                               # (G, N, 1)
    m, s = int(layer.blobs["att_mult"][0]), int(layer.blobs["att_shift"][0])
    if a.get("divisor", "exact") == "log2":  # Trio-ViT: divide by 2^e, e = round(log2(2 den + 1)), a shift
        exps = np.asarray(layer.blobs["den_exp"], dtype=I64)[den]
        own["att"] = np.clip(round_shift(2 * num * m, s + exps), *a["quant"]["att"]["range"])
    else:
        numer, denom = 2 * num * m, 2 * den + 1
        numer, denom = (numer, denom << s) if s >= 0 else (numer << -s, denom)
        own["att"] = np.clip(round_div(numer, denom), *a["quant"]["att"]["range"])  # (G, N, d)
    out = own["att"].transpose(0, 2, 1).reshape(G * d, a["height"], a["width"])
    return [out], own


KERNELS = {"conv": conv, "dwconv": conv, "linear": linear, "hardswish": hardswish, "relu": relu, "add": add,
           "concat": concat, "gap": gap, "layernorm": layernorm, "linear_attention": linear_attention}

