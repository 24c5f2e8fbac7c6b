"""The integer kernels of the softmax transformer's layers against their definitions: the softmax against
the model's own integer softmax (flow.models.deit.IntSoftmax, which the exported graph computes), on random
rows and on the edge rows the issue names (the max at either end of the code range, rows of equal values);
the act x act products against int64 matrix products."""

import numpy as np
import pytest
import torch

from flow.lower.program import Layer, TensorInfo
from flow.models import QuantScheme
from flow.models.deit import IntSoftmax, softmax_quant
from flow.reference.transformer_kernels import add_const, matmul, softmax


def _int_softmax(bits, s_l):
    quant = softmax_quant(QuantScheme(act_bits=bits))  # any enabled quantizer: only its scale is read
    sm = IntSoftmax(quant, bits)
    t = torch.arange(2 ** bits, dtype=torch.float64)
    sm.register_buffer("exp_table", torch.round(2.0 ** sm.EXP_BITS * torch.exp(-t * s_l)).long(), persistent=False)
    sm.register_buffer("in_scale", torch.tensor(s_l, dtype=torch.float32), persistent=False)
    sm.integer = True
    return sm


def _softmax_layer(sm, bits, row_length):
    return Layer("softmax0", "softmax", ["x"], ["y"],
                 attrs={"recip_bits": sm.RECIP_BITS, "shift": sm.RECIP_BITS - bits, "out_max": 2 ** bits - 1,
                        "rows": 1, "row_length": row_length},
                 blobs={"table": sm.exp_table.numpy().astype(np.int32)})


def _edge_rows(bits, n, rng):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    rows = [np.full(n, hi), np.full(n, lo), np.full(n, 0),                     # equal values
            np.r_[hi, np.full(n - 1, lo)], np.r_[np.full(n - 1, lo), hi],       # max at the top, the rest at the bottom
            np.r_[lo, np.full(n - 1, lo)], rng.integers(lo, hi + 1, n),
            np.r_[np.full(n // 2, hi), np.full(n - n // 2, hi - 1)]]
    return np.stack(rows + [rng.integers(lo, hi + 1, n) for _ in range(40)])


@pytest.mark.parametrize("bits,s_l,n", [(8, 2 ** -5, 197), (8, 0.0371, 5), (6, 0.11, 50), (4, 0.5, 17)])
def test_softmax_kernel_equals_the_models_integer_softmax(bits, s_l, n):
    rng = np.random.default_rng(bits * 1000 + n)
    codes = _edge_rows(bits, n, rng)[None]  # (1 head, rows, n)
    sm = _int_softmax(bits, s_l)
    with torch.no_grad():
        expected = sm(torch.from_numpy(codes).float() * np.float32(s_l)) * 2 ** bits
    out_info = TensorInfo(codes.shape, bits, False, 2.0 ** -bits)
    (got,), dumps = softmax(_softmax_layer(sm, bits, n), codes, out_info)
    assert np.array_equal(got, expected.numpy().astype(np.int64))
    assert got.min() >= 0 and got.max() <= 2 ** bits - 1
    assert np.all(dumps["row_sum"] >= 2 ** sm.EXP_BITS)  # the row max contributes E[0] = 2^16
    # equal values: every code equal (1/n of the range); a single max above the rest: the largest code
    assert all(len(set(got[0, i])) == 1 for i in (0, 1, 2, 5))
    assert got[0, 0, 0] == round(2 ** bits / n) or abs(got[0, 0, 0] - 2 ** bits / n) <= 1
    assert got[0, 3, 0] == got[0, 3].max() and got[0, 4, -1] == got[0, 4].max() and len(set(got[0, 3, 1:])) == 1


def test_softmax_codes_follow_the_float_softmax():
    bits, s_l = 8, 2 ** -4
    rng = np.random.default_rng(0)
    codes = rng.integers(-128, 128, (1, 64, 197))
    sm = _int_softmax(bits, s_l)
    (got,), _ = softmax(_softmax_layer(sm, bits, 197), codes, TensorInfo(codes.shape, bits, False, 2.0 ** -bits))
    p = torch.softmax(torch.from_numpy(codes).double() * s_l, dim=-1).numpy()
    assert np.abs(got - np.clip(np.round(p * 256), 0, 255)).max() <= 1


@pytest.mark.parametrize("transpose_b,merge", [(1, 0), (0, 1)])
def test_matmul_kernel(transpose_b, merge):
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (3, 7, 16))
    b = rng.integers(-128, 128, (3, 7, 16) if transpose_b else (3, 16, 5))
    layer = Layer("matmul0", "matmul", ["a", "b"], ["y"],
                  attrs={"transpose_b": transpose_b, "merge_heads": merge, "inner": 16},
                  blobs={"mult": np.array([1]), "shift": np.array([6], dtype=np.int32)})
    (y,), dumps = matmul(layer, a, b, TensorInfo((1,), 8, True, 1.0))
    acc = np.einsum("hik,hjk->hij", a, b) if transpose_b else np.einsum("hik,hkj->hij", a, b)
    assert np.array_equal(dumps["acc"], acc)
    expected = np.clip(np.round(acc / 64), -128, 127)  # numpy rounds half to even, as requantize does
    if merge:
        expected = expected.transpose(1, 0, 2).reshape(7, -1)
    assert np.array_equal(y, expected)


def test_add_const_puts_the_tokens_after_the_zero_rows():
    x = np.arange(-6, 6).reshape(3, 4)
    const = np.arange(16).reshape(4, 4) - 8
    layer = Layer("add_const0", "add_const", ["x"], ["y"], attrs={"shift": 1, "pad_tokens": 1},
                  blobs={"mult": np.array([2, 1]), "const": const})
    (y,), _ = add_const(layer, x, TensorInfo((4, 4), 8, True, 1.0))
    padded = np.vstack([np.zeros((1, 4), dtype=int), x])
    assert np.array_equal(y, np.round((padded * 2 + const) / 2))
