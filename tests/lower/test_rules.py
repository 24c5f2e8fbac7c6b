"""Each layer kind on a hand-built QONNX graph: a tiny case whose integers are worked out by hand in
the test, and a randomized case checked against qonnx's executor (power-of-two scales: exact)."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.lower import lower_model
from flow.reference import run_program
from flow.lower.graph import GraphView

from .onnx_builder import GraphBuilder, hardswish, run_qonnx

RNG = np.random.default_rng(1)


def _run(b: GraphBuilder, out: str, codes: np.ndarray, in_scale: float):
    """(program, reference tensors, qonnx context) for input ``codes``."""
    model = b.model(out)
    program = lower_model(model.model)
    env = run_program(program, {program.inputs[0]: codes.astype(np.int64)})
    ctx = run_qonnx(model, codes * np.float32(in_scale))
    return program, env, ctx


def _qonnx_codes(ctx, name, scale):
    return np.rint(ctx[name][0].astype(np.float64) / scale).astype(np.int64)


def _conv_graph(c_in, c_out, k, stride, pad, groups, in_scale, w_codes, w_scale, b_codes, out_scale, hw):
    b = GraphBuilder((c_in, hw, hw), in_scale)
    w = b.weight(w_codes, np.asarray(w_scale, np.float32).reshape(-1, 1, 1, 1))
    bias = b.bias(b_codes, np.float32(in_scale) * np.asarray(w_scale, np.float32).reshape(-1))
    conv = b.op("Conv", [b.x, w, bias], group=groups, kernel_shape=[k, k], strides=[stride, stride],
                pads=[pad] * 4)[0]
    return b, b.quant(conv, out_scale)


# -- worked by hand ---------------------------------------------------------------------------------
def test_conv_by_hand():
    # x = 1..9 (3x3), w = [[1, 2], [0, -1]], bias 3, s_in 0.5, s_w 0.25, s_out 0.25: ratio 1/2
    # acc = [[1+4-5+3, 2+6-6+3], [4+10-8+3, 5+12-9+3]] = [[3, 5], [9, 11]] -> /2 half-even -> [[2, 2], [4, 6]]
    b, out = _conv_graph(1, 1, 2, 1, 0, 1, 0.5, [[[[1, 2], [0, -1]]]], [0.25], [3], 0.25, 3)
    program, env, _ = _run(b, out, np.arange(1, 10).reshape(1, 3, 3), 0.5)
    assert program.layers[0].kind == "conv"
    assert env[out].tolist() == [[[2, 2], [4, 6]]]


def test_bias_quantizer_shared_by_two_convs():
    """The exporter shares one Quant of constants between layers whose biases are equal (e.g. all zero):
    both convs lower, each with that bias (code 4 at scale 0.25). x = [1, 2] (1x1, 2 channels), s_in 0.5,
    s_w 0.5: conv A, w [1, 1]: 1 + 2 + 4 = 7 quarters, out scale 0.5: 3.5 -> 4 (half to even);
    conv B, w [2]: 2 * 4 + 4 = 12 quarters, out scale 0.25: 12."""
    b = GraphBuilder((2, 1, 1), 0.5)
    bias = b.bias([4], np.float32([0.25]))
    wa = b.weight([[[[1]], [[1]]]], np.float32([0.5]).reshape(-1, 1, 1, 1))
    a = b.quant(b.op("Conv", [b.x, wa, bias], kernel_shape=[1, 1])[0], 0.5)
    wb = b.weight([[[[2]]]], np.float32([0.5]).reshape(-1, 1, 1, 1))
    out = b.quant(b.op("Conv", [a, wb, bias], kernel_shape=[1, 1])[0], 0.25)
    program, env, _ = _run(b, out, np.array([1, 2]).reshape(2, 1, 1), 0.5)
    assert [l.kind for l in program.layers] == ["conv", "conv"]
    assert env[a].ravel().tolist() == [4] and env[out].ravel().tolist() == [12]


def test_depthwise_by_hand():
    # ch0: kernel of ones, ch1: centre 2; pad 1, stride 2 on 3x3; s_in = s_w = 1, s_out = 4 (ratio 1/4)
    # ch0 window sums [[12, 16], [24, 28]] -> [[3, 4], [6, 7]]; ch1 -2x corners [[-2, -6], [-14, -18]]
    # -> [[-0.5, -1.5], [-3.5, -4.5]] half-even -> [[0, -2], [-4, -4]]
    w = np.zeros((2, 1, 3, 3))
    w[0] = 1
    w[1, 0, 1, 1] = 2
    x = np.stack([np.arange(1, 10).reshape(3, 3), -np.arange(1, 10).reshape(3, 3)])
    b, out = _conv_graph(2, 2, 3, 2, 1, 2, 1.0, w, [1.0, 1.0], [0, 0], 4.0, 3)
    program, env, _ = _run(b, out, x, 1.0)
    assert program.layers[0].kind == "dwconv"
    assert env[out].tolist() == [[[3, 4], [6, 7]], [[0, -2], [-4, -4]]]


def test_linear_by_hand():
    # x = [2, -3, 4] (s 0.5); W = [[1, 2, 3], [-1, 0, 1]] (s [0.5, 1]); bias codes [1, 3]; s_out 0.5
    # acc = [2 - 6 + 12 + 1, -2 + 4 + 3] = [9, 5]; ratios [0.5, 1] -> [4.5 -> 4, 5]
    b = GraphBuilder((3,), 0.5)
    w = b.weight([[1, 2, 3], [-1, 0, 1]], np.array([[0.5], [1.0]], np.float32))
    bias = b.bias([1, 3], np.array([0.25, 0.5], np.float32))
    out = b.quant(b.op("Gemm", [b.x, w, bias], transB=1)[0], 0.5)
    program, env, _ = _run(b, out, np.array([2, -3, 4]), 0.5)
    assert program.layers[0].kind == "linear"
    assert env[out].tolist() == [4, 5]


def _relu_add_concat_graph():
    b = GraphBuilder((3, 1, 1), 0.25)
    a = b.quant(b.op("Relu", [b.x])[0], 0.5, signed=False)
    s = b.quant(b.op("Add", [a, b.x])[0], 1.0)
    c = b.quant(b.op("Concat", [a, b.x], axis=1)[0], 0.5)
    return b, a, s, c, c


def test_relu_add_concat_by_hand():
    # x = [6, -10, 5] (s 0.25) = [1.5, -2.5, 1.25]
    # relu to s 0.5: [3, 0, 2.5 -> 2]; add (a + x) to s 1: [3, -2.5 -> -2, 2.25 -> 2]
    # concat(a, x) to s 0.5: [3, 0, 2] ++ [3, -5, 2.5 -> 2]
    b, a, s, c, out = _relu_add_concat_graph()
    program, env, ctx = _run(b, out, np.array([6, -10, 5]).reshape(3, 1, 1), 0.25)
    assert [l.kind for l in program.layers[:3]] == ["relu", "add", "concat"]
    assert env[a].ravel().tolist() == [3, 0, 2]
    assert env[s].ravel().tolist() == [3, -2, 2]
    assert env[c].ravel().tolist() == [3, 0, 2, 3, -5, 2]


def test_gap_by_hand():
    # ch0 [[1, 2], [3, 5]] mean 2.75, ch1 [[-1, -1], [-1, -3]] mean -1.5; s_in 1, s_out 0.5 -> [5.5 -> 6, -3]
    b = GraphBuilder((2, 2, 2), 1.0)
    mean = b.op("ReduceMean", [b.x, b.const([2, 3], np.int64)], keepdims=1)[0]
    out = b.quant(b.op("Reshape", [mean, b.const([1, 2], np.int64)])[0], 0.5)
    program, env, _ = _run(b, out, np.array([[[1, 2], [3, 5]], [[-1, -1], [-1, -3]]]), 1.0)
    assert program.layers[0].kind == "gap" and program.layers[0].attrs["divisor"] == 4
    assert env[out].tolist() == [6, -3]


def test_hardswish_by_hand():
    # x = [-8, -3, 0, 3, 6] * 0.5 = [-4, -1.5, 0, 1.5, 3]; hswish = [0, -0.375, 0, 1.125, 3]; s_out 1/8
    b = GraphBuilder((5,), 0.5)
    out = b.quant(hardswish(b, b.x), 0.125)
    program, env, _ = _run(b, out, np.array([-8, -3, 0, 3, 6]), 0.5)
    assert program.layers[0].kind == "hardswish"
    assert env[out].tolist() == [0, -3, 0, 9, 24]


def _layernorm_graph(C, s_in, a, b_coef, k, s_out, s_div=None):
    b = GraphBuilder((C,), s_in)
    s_div = s_in if s_div is None else s_div  # the integer LayerNorm's input divisor: the (fine) input scale
    q = b.op("Cast", [b.op("Round", [b.op("Div", [b.x, b.const(s_div)])[0]])[0]], to=11)[0]
    d = b.op("Sub", [b.op("Mul", [q, b.const(float(C), np.float64)])[0],
                     b.op("ReduceSum", [q, b.const([-1], np.int64)], keepdims=1)[0]])[0]
    v = b.op("MatMul", [b.op("Unsqueeze", [d, b.const([-2], np.int64)])[0],
                        b.op("Unsqueeze", [d, b.const([-1], np.int64)])[0]])[0]
    v = b.op("Squeeze", [v, b.const([-1], np.int64)])[0]
    sigma = b.op("Max", [b.op("Floor", [b.op("Sqrt", [v])[0]])[0], b.const(1.0, np.float64)])[0]
    num = b.op("Add", [b.op("Mul", [d, b.const(a, np.float64)])[0],
                       b.op("Mul", [sigma, b.const(b_coef, np.float64)])[0]])[0]
    y = b.op("Round", [b.op("Div", [num, b.op("Mul", [sigma, b.const(2.0 ** k, np.float64)])[0]])[0]])[0]
    y = b.op("Clip", [y, b.const(-128.0, np.float64), b.const(127.0, np.float64)])[0]
    y = b.op("Mul", [b.op("Cast", [y], to=1)[0], b.const(s_out)])[0]
    return b, b.quant(y, s_out)


def test_layernorm_with_outlier_channel_scales_by_hand():
    """TSPTQ's outlier-aware two scales: channel 3's scale is 4 = 2^2 x the others', so the LayerNorm reads
    its code 2 as q = 8. q = [1, 2, 3, 8]: S = 14, d = 4q - S = [-10, -6, -2, 18], V = 464, sigma = 21;
    a = 64, b = [0, 0, 0, 32], k = 4: N = 64 d + 21 b = [-640, -384, -128, 1824], D = 21 * 16 = 336,
    N / D = [-1.90, -1.14, -0.38, 5.43] -> [-2, -1, 0, 5]."""
    scales = np.array([1, 1, 1, 4], np.float32)
    b, out = _layernorm_graph(4, scales, [64] * 4, [0, 0, 0, 32], 4, 0.5, s_div=1.0)
    program, env, ctx = _run(b, out, np.array([1, 2, 3, 2]), scales)
    layer = program.layers[0]
    assert layer.kind == "layernorm" and layer.blobs["in_shift"].tolist() == [0, 0, 0, 2]
    assert env[out].tolist() == [-2, -1, 0, 5]
    assert np.array_equal(_qonnx_codes(ctx, out, 0.5), env[out])


def test_layernorm_input_scales_not_powers_of_two_apart_is_an_error():
    scales = np.array([1, 1, 1, 3], np.float32)
    b, out = _layernorm_graph(4, scales, [64] * 4, [0, 0, 0, 32], 4, 0.5, s_div=1.0)
    with pytest.raises(FlowError, match="not that times powers of two"):
        lower_model(b.model(out).model)


def test_layernorm_by_hand():
    # q = [1, 2, 3, 6]: S = 12, d = 4q - S = [-8, -4, 0, 12], V = 224, sigma = isqrt(224) = 14
    # a = 64, b = [0, 0, 0, 32], k = 4: N = 64 d + 14 b = [-512, -256, 0, 1216], D = 14 * 16 = 224
    # N / D = [-2.29, -1.14, 0, 5.43] -> [-2, -1, 0, 5]
    b, out = _layernorm_graph(4, 1.0, [64] * 4, [0, 0, 0, 32], 4, 0.5)
    program, env, _ = _run(b, out, np.array([1, 2, 3, 6]), 1.0)
    assert program.layers[0].kind == "layernorm"
    assert env[out].tolist() == [-2, -1, 0, 5]


def _attention_graph(G, d, H, W, s_cat, s, log2=False, offset=None):
    """cat codes -> LiteMLA's linear attention -> Relu -> Quant (the program needs a quantized output).
    ``log2``: the divisor as flow's LiteMLA exports Trio-ViT's log2 divisor:
    2^Round(Log(den / half + 1) / ln 2) * half, half = s_den / 2."""
    N = H * W
    b = GraphBuilder((3 * G * d, H, W), s_cat)
    t = b.op("Transpose", [b.op("Reshape", [b.x, b.const([1, G, 3 * d, N], np.int64)])[0]], perm=[0, 1, 3, 2])[0]
    qr, kr, vr = b.op("Split", [t], n_out=3, axis=3, num_outputs=3)
    q = b.quant(b.op("Relu", [qr])[0], s["q"], signed=False)
    k = b.quant(b.op("Relu", [kr])[0], s["k"], signed=False)
    v1 = b.op("Pad", [vr, b.const([0, 0, 0, 0, 0, 0, 0, 1], np.int64), b.const(1.0)], mode="constant")[0]
    ext = b.op("MatMul", [b.op("Transpose", [k], perm=[0, 1, 3, 2])[0], v1])[0]
    axes = b.const([3], np.int64)
    kv = b.quant(b.op("Slice", [ext, b.const([0], np.int64), b.const([-1], np.int64), axes])[0], s["kv"])
    ksum = b.quant(b.op("Slice", [ext, b.const([-1], np.int64), b.const([2 ** 62], np.int64), axes])[0],
                   s["ksum"], signed=False)
    num = b.quant(b.op("MatMul", [q, kv])[0], s["num"])
    den = b.quant(b.op("MatMul", [q, ksum])[0], s["den"], signed=False)
    half = b.const(np.float32(s["den"]) / 2 if offset is None else np.float32(offset))
    if log2:
        t2 = b.op("Add", [b.op("Div", [den, half])[0], b.const(1.0)])[0]
        e = b.op("Round", [b.op("Div", [b.op("Log", [t2])[0], b.const(np.float32(np.log(2)))])[0]])[0]
        divisor = b.op("Mul", [b.op("Pow", [b.const(2.0), e])[0], half])[0]
    else:
        divisor = b.op("Add", [den, half])[0]
    att = b.quant(b.op("Div", [num, divisor])[0], s["att"])
    y = b.op("Reshape", [b.op("Transpose", [att], perm=[0, 1, 3, 2])[0], b.const([1, G * d, H, W], np.int64)])[0]
    return b, b.quant(b.op("Relu", [y])[0], s["att"], signed=False), {"q": q, "k": k, "kv": kv, "ksum": ksum,
                                                                       "num": num, "den": den, "att": att}


def test_linear_attention_by_hand():
    # one group, d = 1, two tokens; cat = q [2, -1], k [1, 3], v [4, -2]; every scale 1 except s_att = 1/4
    # q = relu = [2, 0]; kv = 1*4 + 3*(-2) = -2; ksum = 4; num = q kv = [-4, 0]; den = q ksum = [8, 0]
    # att = num / (den + 1/2) / (1/4) = [-1.88 -> -2, 0]
    s = dict(q=1.0, k=1.0, kv=1.0, ksum=1.0, num=1.0, den=1.0, att=0.25)
    b, out, t = _attention_graph(1, 1, 1, 2, 1.0, s)
    program, env, _ = _run(b, out, np.array([[[2, -1]], [[1, 3]], [[4, -2]]]), 1.0)
    assert program.layers[0].kind == "linear_attention"
    assert env[t["kv"]].ravel().tolist() == [-2] and env[t["ksum"]].ravel().tolist() == [4]
    assert env[t["num"]].ravel().tolist() == [-4, 0] and env[t["den"]].ravel().tolist() == [8, 0]
    assert env[t["att"]].ravel().tolist() == [-2, 0]


def test_linear_attention_log2_divisor_by_hand():
    # q [2, 0], k [2, 3], v [4, -2]: kv = 2*4 + 3*(-2) = 2, ksum = 5, num = [4, 0], den = [10, 0]
    # log2 divisor: 2 den + 1 = 21, log2 21 = 4.39 -> e = 4: divisor 2^4 / 2 = 8 (exact: 10.5);
    # att = 4 / 8 / (1/16) = 8 (the exact divisor would give 6.1 -> 6); token 2: 2*0+1 = 1, e = 0, att 0
    s = dict(q=1.0, k=1.0, kv=1.0, ksum=1.0, num=1.0, den=1.0, att=1 / 16)
    b, out, t = _attention_graph(1, 1, 1, 2, 1.0, s, log2=True)
    program, env, _ = _run(b, out, np.array([[[2, -1]], [[2, 3]], [[4, -2]]]), 1.0)
    layer = program.layers[0]
    assert layer.kind == "linear_attention" and layer.attrs["divisor"] == "log2"
    assert layer.blobs["den_exp"][:6].tolist() == [0, 2, 2, 3, 3, 3]  # round(log2(1, 3, 5, 7, 9, 11))
    assert env[t["num"]].ravel().tolist() == [4, 0] and env[t["den"]].ravel().tolist() == [10, 0]
    assert env[t["att"]].ravel().tolist() == [8, 0]


def test_round_log2_of_odd_numbers():
    from flow.lower.rules.attention import round_log2_odd

    # 2^(k + 1/2): 1.41, 2.83, 5.66, 11.3, 22.6 -> 1 -> 0, 3 -> 2, 5 -> 2, 11 -> 3, 23 -> 5, 181 -> 7, 183 -> 8
    assert round_log2_odd(np.array([1, 3, 5, 11, 23, 181, 183])).tolist() == [0, 2, 2, 3, 5, 7, 8]


def test_attention_divisor_that_is_neither_form_is_an_error():
    s = dict(q=1.0, k=1.0, kv=1.0, ksum=1.0, num=1.0, den=0.5, att=0.25)
    b, out, _ = _attention_graph(1, 1, 1, 2, 1.0, s, offset=0.3)  # den + 0.3, not den + s_den / 2
    with pytest.raises(FlowError, match=r"at den code 0 it is 0.3, neither \(2d\+1\) s/2 nor 2\^round"):
        lower_model(b.model(out).model)


# -- randomized, against qonnx's executor -------------------------------------------------------------
def _po2(lo, hi, size=None):
    return 2.0 ** RNG.integers(lo, hi, size=size)


def _check_all_quant_tensors(b, out, codes, in_scale):
    model = b.model(out)
    program = lower_model(model.model)
    env = run_program(program, {program.inputs[0]: codes.astype(np.int64)})
    ctx = run_qonnx(model, codes * np.float32(in_scale))
    view = GraphView(model.model)
    n = 0
    for node in view.nodes:
        if view.is_act_quant(node) and node.input[0] != "global_in":
            name = node.output[0]
            ref = _qonnx_codes(ctx, name, view.quant_spec(node).scalar_scale)
            assert np.array_equal(env[name], ref), f"{name}: max diff {np.abs(env[name] - ref).max()}"
            n += 1
    return program, n


@pytest.mark.parametrize("case", range(6))
def test_conv_kinds_random_against_qonnx(case):
    c_in, k, stride, groups, hw = [(3, 3, 2, 1, 9), (8, 3, 1, 8, 7), (8, 1, 1, 4, 5), (4, 5, 1, 4, 6),
                                   (6, 1, 1, 1, 4), (5, 3, 2, 5, 8)][case]
    c_out = c_in if groups == c_in else 2 * groups
    w = RNG.integers(-127, 128, size=(c_out, c_in // groups, k, k))
    in_scale = float(_po2(-6, -2))
    b, out = _conv_graph(c_in, c_out, k, stride, k // 2, groups, in_scale, w, _po2(-9, -5, c_out),
                         RNG.integers(-3000, 3000, size=c_out), _po2(-3, 1), hw)
    codes = RNG.integers(-128, 128, size=(c_in, hw, hw))
    program, n = _check_all_quant_tensors(b, out, codes, in_scale)
    assert program.layers[0].kind == ("dwconv" if groups == c_in == c_out and groups > 1 else "conv") and n == 1


@pytest.mark.parametrize("seed", range(3))
def test_eltwise_random_against_qonnx(seed):
    b, a, s, c, out = _relu_add_concat_graph()
    codes = np.random.default_rng(seed).integers(-128, 128, size=(3, 1, 1))
    program, n = _check_all_quant_tensors(b, out, codes, 0.25)
    assert n == 3


def test_hardswish_every_code_against_qonnx():
    b = GraphBuilder((256,), 0.0625)
    out = b.quant(hardswish(b, b.x), 0.03125)
    _check_all_quant_tensors(b, out, np.arange(-128, 128), 0.0625)


@pytest.mark.parametrize("hw", [3, 7])
def test_gap_random_against_qonnx(hw):
    b = GraphBuilder((16, hw, hw), 0.25)
    mean = b.op("ReduceMean", [b.x, b.const([2, 3], np.int64)], keepdims=1)[0]
    out = b.quant(b.op("Reshape", [mean, b.const([1, 16], np.int64)])[0], 0.125)
    codes = RNG.integers(-128, 128, size=(16, hw, hw))
    _check_all_quant_tensors(b, out, codes, 0.25)


def test_layernorm_random_against_qonnx():
    C = 48
    a = RNG.integers(-2 ** 15 + 1, 2 ** 15, size=C)
    b_coef = RNG.integers(-2 ** 12, 2 ** 12, size=C)
    b, out = _layernorm_graph(C, 0.25, a, b_coef, 13, 0.0625)
    for seed in range(5):
        codes = np.random.default_rng(seed).integers(-128, 128, size=C)
        _check_all_quant_tensors(b, out, codes, 0.25)


@pytest.mark.parametrize("log2", [False, True], ids=["exact", "log2"])
@pytest.mark.parametrize("G,d,H,W", [(2, 4, 3, 3), (3, 8, 2, 4)])
def test_linear_attention_random_against_qonnx(G, d, H, W, log2):
    s = dict(q=2.0 ** -3, k=2.0 ** -3, kv=2.0 ** -1, ksum=1.0, num=2.0 ** -2, den=2.0 ** 0, att=2.0 ** -5)
    b, out, _ = _attention_graph(G, d, H, W, 2.0 ** -4, s, log2=log2)
    codes = RNG.integers(-128, 128, size=(3 * G * d, H, W))
    program, n = _check_all_quant_tensors(b, out, codes, 2.0 ** -4)
    assert n == 8


# -- asymmetric tensors (a zero point folded into the pointwise conv's bias) -------------------------
def _asym_graph(k=1, pad=0, consumer="conv", zeropt=3.0):
    # x codes ch0 [-8, 6], ch1 [-3, 3] at 0.5 -> hardswish [0, 3], [-0.375, 1.125] -> unsigned, scale 1/8,
    # zero point 3: codes ch0 [3, 27], ch1 [0, 12]
    b = GraphBuilder((2, 1, 2), 0.5)
    h = b.quant(hardswish(b, b.x), 0.125, signed=False, zeropt=zeropt)
    if consumer == "add":
        return b, h, b.quant(b.op("Add", [h, h])[0], 0.25)
    w = b.weight(np.array([[2, -1]]).reshape(1, 2, 1, 1) if k == 1 else np.ones((1, 2, k, k)), np.float32(0.5))
    bias = b.bias([5], np.float32(0.125 * 0.5))
    conv = b.op("Conv", [h, w, bias], kernel_shape=[k, k], pads=[pad] * 4)[0]
    return b, h, b.quant(conv, 0.25)


def test_zero_point_folds_into_pointwise_bias_by_hand():
    # acc = sum w (q - 3) + 5: pixel 0: 2*0 - (-3) + 5 = 8 -> 8/4 = 2; pixel 1: 2*24 - 9 + 5 = 44 -> 11
    # folded: bias 5 - 3 * (2 - 1) = 2 on the raw codes: 2*3 - 0 + 2 = 8, 2*27 - 12 + 2 = 44
    b, h, out = _asym_graph()
    program, env, ctx = _run(b, out, np.array([[[-8, 6]], [[-3, 3]]]), 0.5)
    assert [l.kind for l in program.layers] == ["hardswish", "conv"]
    assert program.tensors[h].zero_point == 3 and not program.tensors[h].signed
    assert env[h].tolist() == [[[3, 27]], [[0, 12]]]
    assert program.layers[1].blobs["bias"].tolist() == [2]
    assert env[out].tolist() == [[[2, 11]]]
    assert np.array_equal(_qonnx_codes(ctx, h, 0.125) + 3, env[h]) and np.array_equal(_qonnx_codes(ctx, out, 0.25), env[out])


@pytest.mark.parametrize("k,pad,consumer", [(3, 1, "conv"), (1, 0, "add")])
def test_zero_point_where_it_cannot_fold_is_an_error(k, pad, consumer):
    b, _, out = _asym_graph(k, pad, consumer)
    with pytest.raises(FlowError, match="zero point 3"):
        lower_model(b.model(out).model)


def test_zero_point_per_channel_folds_into_pointwise_bias_by_hand():
    """Trio-ViT's filter-wise shift: zero points [1, 3] (per channel) under one scale 1/8.
    hardswish ch0 [0, 3] -> [0, 24] + 1 = [1, 25]; ch1 [-0.375, 1.125] -> [-3, 9] + 3 = [0, 12] (one table
    row per channel). acc = 2 (q0 - 1) - (q1 - 3) + 5: pixel 0 8 -> 2, pixel 1 44 -> 11; folded bias
    5 - (2 * 1 - 1 * 3) = 6 on the raw codes: 2*1 - 0 + 6 = 8, 2*25 - 12 + 6 = 44."""
    b, h, out = _asym_graph(zeropt=np.array([1.0, 3.0]).reshape(1, 2, 1, 1))
    program, env, ctx = _run(b, out, np.array([[[-8, 6]], [[-3, 3]]]), 0.5)
    assert [l.kind for l in program.layers] == ["hardswish", "conv"]
    assert program.tensors[h].zero_point == [1, 3] and program.layers[0].attrs["rows"] == 2
    assert env[h].tolist() == [[[1, 25]], [[0, 12]]]
    assert program.layers[1].blobs["bias"].tolist() == [6]
    assert env[out].tolist() == [[[2, 11]]]
    assert np.array_equal(_qonnx_codes(ctx, h, 0.125) + np.array([1, 3]).reshape(2, 1, 1), env[h])
    assert np.array_equal(_qonnx_codes(ctx, out, 0.25), env[out])


def _migration_graph(depthwise=True):
    # x codes ch0 [-8, 6], ch1 [-3, 3] at 0.5 -> hardswish [0, 3], [-0.375, 1.125]; scales per channel
    # [1/8, 1/4]: codes ch0 [0, 24], ch1 [-1.5, 4.5] -> half to even [-2, 4]
    b = GraphBuilder((2, 1, 2), 0.5)
    h = b.quant(hardswish(b, b.x), np.array([0.125, 0.25], np.float32).reshape(1, 2, 1, 1))
    s_h = np.array([0.125, 0.25], np.float32)
    if depthwise:  # 1 x 1 depthwise, weights [2, 3] at 1/2, bias 0 at s_h / 2
        w = b.weight(np.array([2, 3]).reshape(2, 1, 1, 1), np.float32(0.5))
        conv = b.op("Conv", [h, w, b.bias([0, 0], s_h * np.float32(0.5))], group=2, kernel_shape=[1, 1])[0]
    else:
        w = b.weight(np.array([[2, 3]]).reshape(1, 2, 1, 1), np.float32(0.5))
        conv = b.op("Conv", [h, w], kernel_shape=[1, 1])[0]
    return b, h, b.quant(conv, 0.25)


def test_scale_per_channel_folds_into_depthwise_requant_by_hand():
    """Trio-ViT's channel-wise migration: the depthwise input has scales [1/8, 1/4]; channel c's
    requantization is s_h[c] s_w / s_out = [1/4, 1/2]: ch0 2 [0, 24] / 4 = [0, 12]; ch1 3 [-2, 4] / 2 =
    [-3, 6]."""
    b, h, out = _migration_graph()
    program, env, ctx = _run(b, out, np.array([[[-8, 6]], [[-3, 3]]]), 0.5)
    assert [l.kind for l in program.layers] == ["hardswish", "dwconv"]
    assert program.tensors[h].scale == [0.125, 0.25] and program.layers[0].attrs["rows"] == 2
    assert env[h].tolist() == [[[0, 24]], [[-2, 4]]]
    assert env[out].tolist() == [[[0, 12]], [[-3, 6]]]
    assert np.array_equal(_qonnx_codes(ctx, out, 0.25), env[out])


def test_scale_per_channel_into_a_dense_conv_is_an_error():
    b, _, out = _migration_graph(depthwise=False)
    with pytest.raises(FlowError, match="one scale per channel, which only a depthwise conv"):
        lower_model(b.model(out).model)


def _two_scale_graph(coarse_scale=1.0):
    # x codes ch0 [-3, 0, 3], ch1 [5, 6, 20] at 0.5 -> hardswish ch0 [-0.375, 0, 1.125], ch1 [2.2917, 3, 10]
    b = GraphBuilder((2, 1, 3), 0.5)
    h = hardswish(b, b.x)
    fine = b.quant(h, 0.25, bits=3, signed=True)                 # codes -4..3 at 1/4
    coarse = b.quant(h, coarse_scale, bits=3, signed=False)      # codes 0..7 at 1 = 2^2 / 4
    less = b.op("Less", [h, b.const(np.float32(0.875))])[0]     # (3 + 1/2) / 4: where the fine codes end
    two = b.op("Where", [less, fine, coarse])[0]
    # 1 x 1 depthwise, weights [3, 3] at 1/2, bias 0 at 1/4 * 1/2
    w = b.weight(np.array([3, 3]).reshape(2, 1, 1, 1), np.float32(0.5))
    conv = b.op("Conv", [two, w, b.bias([0, 0], np.full(2, 0.125, np.float32))], group=2, kernel_shape=[1, 1])[0]
    return b, two, b.quant(conv, 0.5)


def test_two_scale_hardswish_into_depthwise_by_hand():
    """TSPTQ's value-aware two scales: below T = 0.875 the fine code at 1/4, from T on the coarse code at 1
    as an integer at 1/4 (code << 2). ch0: -0.375 -> fine -1.5 -> -2 (half to even), 0 -> 0, 1.125 ->
    coarse 1 -> 4; ch1: 2.29 -> 2 -> 8, 3 -> 12, 10 -> 7 (clamped) -> 28. The depthwise conv reads them at
    1/4: 3 v (1/4 x 1/2) / (1/2) = 3 v / 4: ch0 [-1.5, 0, 3] -> [-2, 0, 3], ch1 [6, 9, 21]."""
    b, two, out = _two_scale_graph()
    program, env, ctx = _run(b, out, np.array([[[-3, 0, 3]], [[5, 6, 20]]]), 0.5)
    assert [l.kind for l in program.layers] == ["hardswish", "dwconv"]
    assert program.tensors[two].scale == 0.25 and program.tensors[two].bits == 6  # -4 .. 28
    assert env[two].tolist() == [[[-2, 0, 4]], [[8, 12, 28]]]
    assert np.array_equal(_qonnx_codes(ctx, two, 0.25), env[two])
    assert env[out].tolist() == [[[-2, 0, 3]], [[6, 9, 21]]]
    assert np.array_equal(_qonnx_codes(ctx, out, 0.5), env[out])


def test_two_scales_not_a_power_of_two_apart_is_an_error():
    b, _, out = _two_scale_graph(coarse_scale=0.75)
    with pytest.raises(FlowError, match="ratio 2\\^k"):
        lower_model(b.model(out).model)
