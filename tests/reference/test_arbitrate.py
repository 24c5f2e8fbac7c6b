"""The arbiter's exact values against rational arithmetic (fractions.Fraction) on the graph's own constants,
and its verdicts on a case where QONNX's float32 execution rounds to the wrong side of a tie."""

from fractions import Fraction

import numpy as np

from flow.reference.arbitrate import Arbiter

from ..lower.onnx_builder import GraphBuilder, run_qonnx

# One product x * w / s_out whose exact value is 4.50000021 codes (found by a search over random float32
# scales): float32 rounds it to 4.5 exactly, and half to even gives 4; the exact code is 5.
S_X, S_W, S_OUT = np.float32("0.021988476"), np.float32("0.0053814976"), np.float32("0.12756073")
X_CODE, W_CODE = 77, 63


def _one_product():
    b = GraphBuilder((1, 1, 1), S_X)
    y = b.op("Conv", [b.x, b.weight(np.full((1, 1, 1, 1), W_CODE), S_W)])[0]
    q = b.quant(y, S_OUT)
    return b.model(q), q


def _exact_code(value: Fraction) -> int:
    return round(value)  # Python rounds a Fraction half to even, exactly


def test_float32_rounds_the_wrong_way_and_the_arbiter_does_not():
    model, q = _one_product()
    ctx = run_qonnx(model, np.full((1, 1, 1), X_CODE * S_X, np.float32))
    exact = Fraction(X_CODE * W_CODE) * Fraction(float(S_X)) * Fraction(float(S_W)) / Fraction(float(S_OUT))
    qonnx_code = int(np.rint(ctx[q].reshape(()) / S_OUT))
    assert qonnx_code == 4 and _exact_code(exact) == 5  # the case does what it is here for

    arbiter = Arbiter(model.model)
    codes, decided, values = arbiter.codes(q, ctx)
    assert abs(Fraction(float(values.reshape(()))) - exact) < Fraction(1, 10 ** 12)
    assert codes.reshape(()) == 5 and decided.all()

    verdict = arbiter.judge(q, ctx, np.array([[[5]]]), np.array([[[qonnx_code]]]))
    assert (verdict["integer"], verdict["qonnx"], verdict["neither"], verdict["undecided"]) == (1, 0, 0, 0)
    assert verdict["first"]["index"] == (0, 0, 0) and verdict["first"]["qonnx"] == 4
    wrong = arbiter.judge(q, ctx, np.array([[[4]]]), np.array([[[5]]]))  # had the program rounded to 4
    assert (wrong["integer"], wrong["qonnx"]) == (0, 1)
    same = arbiter.judge(q, ctx, np.array([[[5]]]), np.array([[[5]]]), everywhere=True)
    assert same["first"] is None and (same["integer_off"], same["off_as_qonnx"], same["elements"]) == (0, 0, 1)
    off = arbiter.judge(q, ctx, np.array([[[4]]]), np.array([[[4]]]), everywhere=True)
    assert off["integer_off"] == off["off_as_qonnx"] == 1  # equal to QONNX, yet not the exact code
    off = arbiter.judge(q, ctx, np.array([[[4]]]), np.array([[[5]]]), everywhere=True)
    assert (off["integer_off"], off["off_as_qonnx"]) == (1, 0)


def _conv_with_bias(rng):
    s_x, s_w, s_mid, s_out = np.float32(0.0371), np.float32([0.0043, 0.0061]), np.float32(0.29), np.float32(0.113)
    w = rng.integers(-127, 128, size=(2, 3, 3, 3))
    bias = rng.integers(-3000, 3000, size=2)
    b = GraphBuilder((3, 5, 5), s_x)
    s_b = (s_x * s_w).astype(np.float32)  # as Brevitas scales a bias: float32 product, not the exact one
    y = b.op("Conv", [b.x, b.weight(w, s_w.reshape(2, 1, 1, 1)), b.bias(bias, s_b)], pads=[1, 1, 1, 1])[0]
    mid = b.quant(y, s_mid)
    z = b.op("Relu", [mid])[0]
    q = b.quant(z, s_out, bits=8, signed=False)
    return b.model(q), mid, q, (s_x, s_w, s_b, s_mid, s_out, w, bias)


def test_values_are_the_graph_arithmetic_on_its_codes():
    rng = np.random.default_rng(5)
    model, mid, q, (s_x, s_w, s_b, s_mid, s_out, w, bias) = _conv_with_bias(rng)
    x_codes = rng.integers(-128, 128, size=(3, 5, 5))
    ctx = run_qonnx(model, (x_codes * s_x).astype(np.float32))
    arbiter = Arbiter(model.model)
    assert arbiter.inputs_of(mid) == [model.graph.node[0].output[0]]
    values = arbiter.values(mid, ctx)
    xp = np.pad(x_codes, ((0, 0), (1, 1), (1, 1)))
    for o, i, j in [(0, 0, 0), (1, 2, 3), (0, 4, 4), (1, 1, 0)]:
        acc = int((w[o] * xp[:, i:i + 3, j:j + 3]).sum())
        exact = (acc * Fraction(float(s_x)) * Fraction(float(s_w[o])) + int(bias[o]) * Fraction(float(s_b[o]))) \
            / Fraction(float(s_mid))
        assert abs(Fraction(float(values[o, i, j])) - exact) < Fraction(1, 10 ** 9)

    run = arbiter.run((x_codes * s_x).astype(np.float32))  # free-running, exact
    assert np.array_equal(run[model.graph.node[0].output[0]], x_codes)
    mid_codes = np.clip(np.rint(values), -128, 127)
    assert np.array_equal(run[mid], mid_codes)
    relu = Fraction(float(s_mid)) / Fraction(float(s_out))
    expected = np.array([_exact_code(max(int(c), 0) * relu) for c in mid_codes.reshape(-1)]).reshape(mid_codes.shape)
    assert np.array_equal(run[q], np.clip(expected, 0, 255))


def test_a_two_scale_tensor_is_not_judged():
    b = GraphBuilder((1, 2, 2), np.float32(0.05))
    y = b.op("Mul", [b.x, b.const(np.float32(1.5))])[0]
    fine, coarse = b.quant(y, np.float32(0.01)), b.quant(y, np.float32(0.04))
    less = b.op("Less", [y, b.const(np.float32(1.0))])[0]
    where = b.op("Where", [less, fine, coarse])[0]
    model = b.model(where)
    ctx = run_qonnx(model, np.full((1, 2, 2), 0.5, np.float32))
    verdict = Arbiter(model.model).judge(where, ctx, np.zeros((1, 2, 2), int), np.ones((1, 2, 2), int))
    assert verdict["not_judged"] == 4 and verdict["integer"] == verdict["qonnx"] == 0
