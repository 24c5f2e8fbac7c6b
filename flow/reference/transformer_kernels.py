"""The integer kernels of a softmax transformer's layers (flow/lower/rules/transformer.py): numpy, int64,
no float. Token tensors are (N, C), per-head ones (heads, N, d)."""

import numpy as np

from flow.lower.requant import requantize, round_shift

from .kernels import _lookup

I64 = np.int64


def matmul(layer, a, b, out_info):
    """Per head: a b^T (transpose_b: the logits q k^T) or a b (the attention's weighted sum of v, merged
    back into tokens when merge_heads), requantized."""
    a_, b_ = np.asarray(a, dtype=I64), np.asarray(b, dtype=I64)
    acc = a_ @ (b_.transpose(0, 2, 1) if layer.attrs["transpose_b"] else b_)
    y = requantize(acc, int(layer.blobs["mult"][0]), int(layer.blobs["shift"][0]), *out_info.range)
    if layer.attrs["merge_heads"]:
        y = y.transpose(1, 0, 2).reshape(y.shape[1], -1)
    return [y], {"acc": acc}


def softmax(layer, x, out_info):
    """t = max - code per row, e = table[t], S = sum e, r = floor(2^R / S), then
    min(floor((e r + 2^(k-1)) / 2^k), out_max) (flow.models.deit.IntSoftmax), then, with two scales, the
    coarse rounding of the codes above the fine range (two_scale_codes)."""
    codes = np.asarray(x, dtype=I64)
    t = codes.max(axis=-1, keepdims=True) - codes
    e = np.asarray(layer.blobs["table"], dtype=I64)[t]
    total = e.sum(axis=-1, keepdims=True)
    r = (I64(1) << layer.attrs["recip_bits"]) // total
    k = layer.attrs["shift"]
    y = np.minimum((e * r + (I64(1) << (k - 1))) >> k, layer.attrs["out_max"])
    if layer.attrs.get("two_shift"):
        y = two_scale_codes(y, layer.attrs["two_shift"], layer.attrs["fine_max"], layer.attrs["coarse_max"])
    return [y], {"exp": e, "row_sum": total, "reciprocal": r}


def two_scale_codes(y, shift: int, fine_max: int, coarse_max: int):
    """TSPTQ's two scales on unsigned fine-scale codes y: y itself up to fine_max, above it y / 2^shift
    rounded half to even, at most coarse_max, back at the fine scale (<< shift): the graph's
    Where(Less(y, T), Quant_fine(y), Quant_coarse(y)) on values already on the fine grid."""
    y = np.asarray(y, dtype=I64)
    return np.where(y <= fine_max, y, np.minimum(round_shift(y, shift), coarse_max) << shift)


def gelu(layer, x, out_info):
    return [_lookup(layer.blobs["table"], x, layer.attrs["in_min"])], {}


def requant(layer, x, out_info):
    x = np.asarray(x)
    token = layer.attrs.get("token")
    return [_lookup(layer.blobs["table"], x if token is None else x[token], layer.attrs["in_min"])], {}


def add_const(layer, x, out_info):
    """[pad_tokens zero rows; x] m_x + const m_c, rounded by one shift."""
    m = layer.blobs["mult"].astype(I64)
    x_ = np.asarray(x, dtype=I64)
    padded = np.concatenate([np.zeros((layer.attrs["pad_tokens"], x_.shape[1]), dtype=I64), x_])
    acc = padded * m[0] + layer.blobs["const"].astype(I64) * m[1]
    return [requantize(acc, 1, layer.attrs["shift"], *out_info.range)], {"acc": acc}


TRANSFORMER_KERNELS = {"matmul": matmul, "softmax": softmax, "gelu": gelu, "requant": requant,
                       "add_const": add_const}
