"""Random single-layer integer programs of every layer kind, for the template tests. About one in four
uses wider codes (up to 12 bits, stored in 16-bit elements) on its input, its output or both, so every
engine also runs with 16-bit elements and with widths that change across the layer. Shapes include the
edges: 1 x 1 maps (and the smallest map a kernel takes), odd widths, channel counts that are not a multiple
of any word's lanes (tests/hls/test_templates.py adds the edge codes: rows of the minimal, maximal and zero
codes)."""

import numpy as np

from flow.lower.rules.attention import round_log2_odd

from flow.lower.program import Layer, Program, TensorInfo
from flow.lower.ranges import analyse_ranges



def _t(shape, signed=True, bits=8):
    return TensorInfo(tuple(int(s) for s in shape), bits, signed, 1.0)


def _bits(rng) -> int:
    """8 bits mostly; 12 (a 16-bit element) one time in four."""
    return 12 if rng.random() < 0.25 else 8


def _ratio(rng, ratio: float, po2: bool, n: int = 1) -> tuple:
    """(multipliers, shifts) of n requantizations by about ``ratio`` each (times 2^[-1, 1]): powers of two
    or 31-bit multipliers."""
    ratios = ratio * 2.0 ** rng.uniform(-1, 1, size=n)
    if po2:
        return np.ones(n, np.int32), np.round(-np.log2(ratios)).astype(np.int32)
    shifts = 30 - np.floor(np.log2(ratios)).astype(np.int64)  # each multiplier in [2^30, 2^31)
    mults = np.minimum(np.round(ratios * 2.0 ** shifts), (1 << 31) - 1)
    return mults.astype(np.int32), shifts.astype(np.int32)


def _to_codes(fan_in: int, bits_in: int, bits_out: int) -> float:
    """The ratio that takes a sum of fan_in random int8 weights times random codes to about a quarter of
    the output's range (a random-sign sum grows as the root of its length)."""
    spread = 74.0 * (2 ** (bits_in - 8))  # the codes' standard deviation
    return (2 ** (bits_out - 1) / 4) / (np.sqrt(fan_in) * 73.0 * spread)


def _conv_layer(rng, kind):
    k = int(rng.choice([1, 3, 5])) if kind != "linear" else 1
    stride = int(rng.integers(1, 3)) if kind != "linear" else 1
    if kind == "dwconv":
        cin = cout = groups = int(rng.integers(1, 24))
    elif kind == "linear":
        cin, cout, groups = int(rng.integers(1, 80)), int(rng.integers(1, 40)), 1
    else:
        groups = int(rng.choice([1, 1, 2, 3]))
        cin, cout = groups * int(rng.integers(1, 9)), groups * int(rng.integers(1, 9))
    h, w = (1, 1) if kind == "linear" else (int(rng.integers(k, 12)), int(rng.integers(k, 12)))
    if kind != "linear" and rng.random() < 0.15:  # an edge shape: the smallest map the kernel takes (1 x 1 at k = 1)
        h = w = k
    pad = k // 2 if rng.random() < 0.7 else 0
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    weight = rng.integers(-127, 128, size=(cout, cin // groups, k, k)).astype(np.int8)
    bits_in, bits_out = 8 if kind == "linear" else _bits(rng), _bits(rng)
    mult, shift = _ratio(rng, _to_codes(cin // groups * k * k, bits_in, bits_out), rng.random() < 0.3, cout)
    blobs = {"weight": weight if kind != "linear" else weight.reshape(cout, cin),
             "bias": rng.integers(-5000, 5000, size=cout).astype(np.int32), "mult": mult, "shift": shift}
    if kind == "linear":
        attrs = {"in_features": cin, "out_features": cout, "weight_bits": 8}
        shapes = ((cin,), (cout,))
    else:
        attrs = {"in_channels": cin, "out_channels": cout, "kernel": [k, k], "stride": [stride, stride],
                 "pad": [pad] * 4, "groups": groups, "in_shape": [cin, h, w], "out_shape": [cout, ho, wo],
                 "weight_bits": 8}
        shapes = ((cin, h, w), (cout, ho, wo))
    return [_t(shapes[0], bits=bits_in)], _t(shapes[1], bits=bits_out), attrs, blobs


def _lut_layer(rng, kind, per_channel=None):
    shape = (int(rng.integers(1, 8)), int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    signed_out = kind == "hardswish" or rng.random() < 0.5
    bits_in, bits_out = (10 if rng.random() < 0.25 else 8), _bits(rng)
    entries = 1 << bits_in
    # hardswish: every other case one table row per channel (channel-wise migration, filter-wise shift)
    if per_channel is None:
        per_channel = kind == "hardswish" and rng.random() < 0.5
    if per_channel:  # at least two rows
        shape = (max(2, shape[0]),) + shape[1:]
    rows = shape[0] if per_channel else 1
    out_t = _t(shape, signed_out, bits_out)
    lo, hi = out_t.range
    table = rng.integers(lo, hi + 1, (rows, entries) if rows > 1 else entries).astype(np.int16)
    blobs = {"table": table}
    if kind == "relu":  # the lowering keeps the requantization beside the table
        blobs.update(mult=np.ones(1, np.int32), shift=np.zeros(1, np.int32))
    return [_t(shape, bits=bits_in)], out_t, {"in_min": -(entries // 2), "entries": entries, "rows": rows}, blobs


def _add_layer(rng, kind):
    shape = (int(rng.integers(1, 8)), int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    m = rng.integers(1, 1 << 24, size=2).astype(np.int32)  # ADD_MULT_BITS
    bits = _bits(rng)  # the add unit takes one element width
    return [_t(shape, bits=bits), _t(shape, bits=bits)], _t(shape, bits=bits), {"shift": int(rng.integers(21, 27))}, {"mult": m}


def _concat_layer(rng, kind):
    hw = (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    c0, c1 = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    s1 = rng.random() < 0.5
    bits = _bits(rng)  # the concatenation takes one element width
    out = _t((c0 + c1, *hw), bits=bits)
    tabs = {f"table{i}": rng.integers(out.range[0], out.range[1] + 1, 1 << bits).astype(np.int16) for i in range(2)}
    a, b = _t((c0, *hw), bits=bits), _t((c1, *hw), signed=s1, bits=bits)
    return ([a, b], out, {"channels": [c0, c1], "in_min": [a.range[0], b.range[0]]},
            {"mult": np.ones(2, np.int32), "shift": np.zeros(2, np.int32), **tabs})


def _gap_layer(rng, kind):
    c, h, w = int(rng.integers(1, 20)), int(rng.integers(1, 10)), int(rng.integers(1, 10))
    bits_in, bits_out = _bits(rng), _bits(rng)
    # the mean of h w random codes: their spread over the root of h w, to a quarter of the output's range
    ratio = (2 ** (bits_out - 1) / 4) / (74.0 * 2 ** (bits_in - 8) / np.sqrt(h * w))
    mult, shift = _ratio(rng, ratio, rng.random() < 0.3)
    return [_t((c, h, w), bits=bits_in)], _t((c,), bits=bits_out), {"divisor": h * w}, {"mult": mult, "shift": shift}


def _layernorm_layer(rng, kind, in_shift=None):
    c = int(rng.integers(2, 100))
    blobs = {"a": rng.integers(-(1 << 15) + 1, 1 << 15, size=c).astype(np.int32),
             "b": rng.integers(-(1 << 12), 1 << 12, size=c).astype(np.int32)}
    if in_shift if in_shift is not None else rng.random() < 0.5:  # outlier-aware two scales: some channels << k
        k = int(rng.integers(1, 5))
        blobs["in_shift"] = (k * (rng.random(c) < 0.2)).astype(np.int8)
        blobs["in_shift"][0] = k
    bits_in, bits_out = _bits(rng), _bits(rng)
    # out ~ (a z / sqrt(C) + b) / 2^k for a normalized z: k takes a's typical 2^14 to a quarter of the range
    k = int(round(np.log2(2 ** 14 / np.sqrt(c) / (2 ** (bits_out - 1) / 4)))) + int(rng.integers(-1, 2))
    return [_t((c,), bits=bits_in)], _t((c,), bits=bits_out), {"features": c, "k": k}, blobs


def _attention_layer(rng, kind):
    """Random tables and inputs, with each requantization scaled to the typical size of its accumulator
    (random-sign sums grow as the root of their length, one-signed ones linearly), so that kv, ksum, num,
    den and the outputs spread over their codes instead of rounding to zero or saturating."""
    g, d, h, w = int(rng.integers(1, 4)), int(rng.choice([2, 4, 8, 16, 6, 12])), int(rng.integers(1, 7)), int(rng.integers(1, 7))
    n = h * w
    quant = {r: {"bits": 8, "signed": r in ("kv", "num", "att"), "range": [-128, 127] if r in ("kv", "num", "att")
                 else [0, 255]} for r in ("q", "k", "kv", "ksum", "num", "den", "att")}
    blobs = {"q_table": rng.integers(0, 256, 256).astype(np.int16), "k_table": rng.integers(0, 256, 256).astype(np.int16)}
    typical = {"q": 1.0, "k": 1.0, "kv": 60 / (128 * 74 * np.sqrt(n)), "ksum": 128 / (128 * n),
               "num": 60 / (128 * 40 * np.sqrt(d)), "den": 128 / (128 * 128 * d)}
    for r, ratio in typical.items():
        blobs[f"{r}_mult"], blobs[f"{r}_shift"] = _ratio(rng, ratio, rng.random() < 0.3)
    # att = 2 num m / ((2 den + 1) 2^s): num / den is about 40 / 128; outputs of about 60
    blobs["att_mult"], blobs["att_shift"] = _ratio(rng, 60 / (40 / 128) / 2 / 2, False)
    attrs = {"groups": g, "dim": d, "tokens": n, "height": h, "width": w, "quant": quant, "in_min": -128,
             "divisor": "exact"}
    if rng.random() < 0.5:  # Trio-ViT's log2 divisor: the division is a shift by att_shift + exp[den]
        attrs["divisor"] = "log2"
        blobs["den_exp"] = round_log2_odd(2 * np.arange(256) + 1).astype(np.int8)
        blobs["att_mult"], blobs["att_shift"] = _ratio(rng, 60 * 2 ** 8 / (2 * 40), False)  # 2^exp[128] = 2^8
    out = _t((g * d, h, w), bits=_bits(rng))
    quant["att"]["range"] = list(out.range)
    return [_t((3 * g * d, h, w))], out, attrs, blobs


MAKERS = {"conv": _conv_layer, "dwconv": _conv_layer, "linear": _conv_layer, "hardswish": _lut_layer,
          "relu": _lut_layer, "add": _add_layer, "concat": _concat_layer, "gap": _gap_layer,
          "layernorm": _layernorm_layer, "linear_attention": _attention_layer}


def random_program(kind: str, rng, **options) -> Program:
    """One random layer of ``kind``; ``options`` go to its maker (hardswish: per_channel=True/False;
    layernorm: in_shift=True/False)."""
    ins, out, attrs, blobs = MAKERS[kind](rng, kind, **options)
    names = [f"x{i}" for i in range(len(ins))]
    tensors = dict(zip(names, ins), y=out)
    program = Program("random", names, ["y"], tensors, [Layer(f"{kind}0", kind, names, ["y"], attrs, blobs)])
    program.check()
    analyse_ranges(program, 32)
    return program


def random_mbconv(rng) -> Program:
    """A random MBConv block: expand 1 x 1 -> table -> depthwise k x k -> table -> project 1 x 1, and the
    residual add when the block keeps its shape. The tables take 8-bit codes (hardswish or ReLU, random
    entries); their outputs are 8-bit, or 12-bit codes in 16-bit elements one time in four."""
    c, r = int(rng.integers(1, 12)), int(rng.choice([2, 4, 6]))
    e, k, stride = c * r, int(rng.choice([3, 5])), int(rng.choice([1, 1, 2]))
    h, w = int(rng.integers(k, 14)), int(rng.integers(k, 14))
    ho, wo = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
    tensors = {"x": _t((c, h, w)), "e0": _t((e, h, w)), "e1": _t((e, h, w), bits=_bits(rng)),
               "d0": _t((e, ho, wo)), "d1": _t((e, ho, wo), bits=_bits(rng)), "p": _t((c, ho, wo))}
    layers = []

    def conv(name, kind, src, dst, cin, cout, k, stride, groups):
        hi, wi = tensors[src].shape[1:]
        mult, shift = _ratio(rng, _to_codes(cin // groups * k * k, tensors[src].bits, tensors[dst].bits),
                             rng.random() < 0.3, cout)
        weight = rng.integers(-127, 128, size=(cout, cin // groups, k, k)).astype(np.int8)
        attrs = {"in_channels": cin, "out_channels": cout, "kernel": [k, k], "stride": [stride, stride],
                 "pad": [k // 2] * 4, "groups": groups, "in_shape": [cin, hi, wi],
                 "out_shape": list(tensors[dst].shape), "weight_bits": 8}
        layers.append(Layer(name, kind, [src], [dst], attrs, {"weight": weight, "mult": mult, "shift": shift,
                                                              "bias": rng.integers(-5000, 5000, size=cout).astype(np.int32)}))

    def table(name, src, dst):
        kind = "hardswish" if rng.random() < 0.7 else "relu"
        lo, hi = tensors[dst].range
        blobs = {"table": rng.integers(lo, hi + 1, 256).astype(np.int16)}
        if kind == "relu":
            blobs.update(mult=np.ones(1, np.int32), shift=np.zeros(1, np.int32))
        layers.append(Layer(name, kind, [src], [dst], {"in_min": -128, "entries": 256, "rows": 1}, blobs))

    conv("expand", "conv", "x", "e0", c, e, 1, 1, 1)
    table("act0", "e0", "e1")
    conv("dw", "dwconv", "e1", "d0", e, e, k, stride, e)
    table("act1", "d0", "d1")
    conv("project", "conv", "d1", "p", e, c, 1, 1, 1)
    out = "p"
    if stride == 1:
        tensors["y"] = _t((c, ho, wo))
        m = rng.integers(1, 1 << 24, size=2).astype(np.int32)  # ADD_MULT_BITS
        layers.append(Layer("residual", "add", ["p", "x"], ["y"], {"shift": int(rng.integers(21, 27))}, {"mult": m}))
        out = "y"
    program = Program("mbconv", ["x"], [out], tensors, layers)
    program.check()
    analyse_ranges(program, 32)
    return program


def random_residual_conv(rng) -> Program:
    """A random convolution (k x k, grouped one time in four) whose output a residual add takes, as its first
    or second operand, with a second program input: the shapes span one to several output words on any
    word, and from one input word per pixel (a pixel of one iteration) to many. One element width for the
    add's operands and output (8-bit, or 12-bit codes in 16-bit elements one time in four)."""
    k, groups = int(rng.choice([1, 1, 3])), int(rng.choice([1, 1, 1, 2]))
    most = (9, 9) if rng.random() < 0.3 else (40, 24)  # one word per pixel, or several
    cin, cout = groups * int(rng.integers(1, most[0])), groups * int(rng.integers(1, most[1]))
    h, w = int(rng.integers(k, 10)), int(rng.integers(k, 10))
    bits_in, bits = _bits(rng), _bits(rng)
    tensors = {"x": _t((cin, h, w), bits=bits_in), "r": _t((cout, h, w), signed=rng.random() < 0.7, bits=bits),
               "p": _t((cout, h, w), bits=bits), "y": _t((cout, h, w), bits=bits)}
    mult, shift = _ratio(rng, _to_codes(cin // groups * k * k, bits_in, bits), rng.random() < 0.3, cout)
    attrs = {"in_channels": cin, "out_channels": cout, "kernel": [k, k], "stride": [1, 1], "pad": [k // 2] * 4,
             "groups": groups, "in_shape": [cin, h, w], "out_shape": [cout, h, w], "weight_bits": 8}
    blobs = {"weight": rng.integers(-127, 128, size=(cout, cin // groups, k, k)).astype(np.int8),
             "bias": rng.integers(-5000, 5000, size=cout).astype(np.int32), "mult": mult, "shift": shift}
    operands = ["p", "r"] if rng.random() < 0.5 else ["r", "p"]
    m = rng.integers(1, 1 << 24, size=2).astype(np.int32)  # ADD_MULT_BITS
    layers = [Layer("conv", "conv", ["x"], ["p"], attrs, blobs),
              Layer("add", "add", operands, ["y"], {"shift": int(rng.integers(21, 27))}, {"mult": m})]
    program = Program("residual", ["x", "r"], ["y"], tensors, layers)
    program.check()
    analyse_ranges(program, 32)
    return program


def random_concat_block(rng) -> Program:
    """A random multi-scale block, as EfficientViT's attention input: a k x k convolution (a) -> a depthwise
    k' x k' (d) -> a grouped 1 x 1 (b), then the concatenation of a and b (y) and a 1 x 1 convolution of it
    (z). The concatenation's table on a is the identity (a is already on its scale) one time in four random,
    on b a random rescale; one element width for a, b and y (8-bit, or 12-bit codes in 16-bit elements one
    time in five), so a depthwise that narrows 16-bit codes to 8-bit also occurs."""
    bits = 12 if rng.random() < 0.2 else 8
    g = int(rng.choice([1, 2, 3]))
    c0, c1 = g * int(rng.integers(1, 14)), g * int(rng.integers(1, 14))
    k, kd = int(rng.choice([1, 3])), int(rng.choice([3, 5]))
    h, w = int(rng.integers(kd, 12)), int(rng.integers(kd, 12))
    tensors = {"x": _t((int(rng.integers(1, 20)), h, w)), "a": _t((c0, h, w), bits=bits),
               "d": _t((c0, h, w), bits=_bits(rng)), "b": _t((c1, h, w), bits=bits),
               "y": _t((c0 + c1, h, w), bits=bits), "z": _t((int(rng.integers(1, 20)), h, w))}
    layers = []

    def conv(name, kind, src, dst, k, groups):
        cin, cout = tensors[src].shape[0], tensors[dst].shape[0]
        mult, shift = _ratio(rng, _to_codes(cin // groups * k * k, tensors[src].bits, tensors[dst].bits),
                             rng.random() < 0.3, cout)
        attrs = {"in_channels": cin, "out_channels": cout, "kernel": [k, k], "stride": [1, 1], "pad": [k // 2] * 4,
                 "groups": groups, "in_shape": [cin, h, w], "out_shape": [cout, h, w], "weight_bits": 8}
        layers.append(Layer(name, kind, [src], [dst], attrs, {
            "weight": rng.integers(-127, 128, size=(cout, cin // groups, k, k)).astype(np.int8), "mult": mult,
            "shift": shift, "bias": rng.integers(-5000, 5000, size=cout).astype(np.int32)}))

    conv("qkv", "conv", "x", "a", k, 1)
    conv("aggregate", "dwconv", "a", "d", kd, c0)
    conv("mix", "conv", "d", "b", 1, g)
    lo, hi = tensors["y"].range
    entries = 1 << bits
    identity = np.arange(lo, lo + entries)
    tab0 = identity if rng.random() < 0.75 else rng.integers(lo, hi + 1, entries)
    layers.append(Layer("concat", "concat", ["a", "b"], ["y"], {"channels": [c0, c1], "in_min": [lo, lo]},
                        {"mult": np.ones(2, np.int32), "shift": np.zeros(2, np.int32),
                         "table0": tab0.astype(np.int16),
                         "table1": rng.integers(lo, hi + 1, entries).astype(np.int16)}))
    conv("out", "conv", "y", "z", 1, 1)
    program = Program("concat", ["x"], ["z"], tensors, layers)
    program.check()
    analyse_ranges(program, 32)
    return program
