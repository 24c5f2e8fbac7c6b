"""The memory plan: where every tensor of a program lives, and the accelerator's operations in order.

Activations live on chip, in one memory of L-byte words (hls_templates/vitflow/word.h), at their element
width. Each tensor is live from the layer that writes it (or the program's start, for an input) to its
last reader (or the program's end, for an output); word ranges are assigned first-fit, largest first, so
that tensors live at the same time never overlap (the engines' DEPENDENCE pragmas rely on it, and the
C-simulation's audit checks it). When the live tensors cannot fit ``capacity`` words, the largest tensor
that only row-wise layers touch (convolutions, depthwise, tables, adds, concatenation) moves to DDR, and
the layers that read or write it run in row stripes: each stripe's input rows are burst-loaded into an
on-chip stripe buffer (with the rows a kernel window needs above and below), its output rows computed
into another and burst-stored; stripe buffers take at most a quarter of the capacity. A concatenation
done in place (flow/hls/concat_in_place.py) is one region, its inputs views in it (tensor_layout.py): live
from its first input's producer to the last reader of any of the three, never moved to DDR, and it has no
operation.

The operations are the descriptors of the program image (flow/hls/image.py): the program's input loads,
each layer (or its stripes with their loads and stores), and the output stores. ``check_ops`` adds, after
every layer whose output stays on chip, a store of that output to its own DDR region, so a checking run
(the C-simulation, or the board with the check program) can compare every layer with the reference.
"""

from dataclasses import dataclass, field

from flow.errors import FlowError

from .ops import Op
from .streams import PARAM_WORDS, conv_tiles, input_word_pairs, pixel_pairs, stream_words
from .tensor_layout import plan_layouts
from .token_ops import TOKEN_OPS, token_ops

STRIPED = ("conv", "dwconv", "hardswish", "relu", "add", "concat")  # layers that can run in row stripes
STRIPE_SHARE = 4  # stripe buffers of a layer take at most capacity / STRIPE_SHARE words
TABLE_KINDS = ("hardswish", "relu", "gelu", "requant")  # layers the table unit runs


@dataclass
class MemoryPlan:
    lanes: int
    beat_bytes: int
    layouts: dict            # tensor -> TensorLayout
    onchip: dict             # tensor or stripe buffer -> (word address, words)
    ddr: dict                # tensor -> (beat offset, beats) in the DDR activation area
    act_words: int           # on-chip words used (the high-water mark)
    ops: list                # the program's operations
    check_ops: list          # the same with a store of every on-chip layer output
    spilled: list = field(default_factory=list)   # tensors in DDR
    stripes: dict = field(default_factory=dict)   # layer name -> output rows per stripe
    ddr_beats: int = 0       # size of the DDR activation area
    stream_words: dict = field(default_factory=dict)  # layer name -> words of its weight stream
    tile_words: int = 1      # output words per conv PE array tile (conv_pe.h: 2 with an array of 2 L rows)

    def beats(self, words: int) -> int:
        return words * (self.lanes // self.beat_bytes)


def _ceil(a, b):
    return -(-a // b)


def plan_memory(program, lanes: int, capacity: int, beat_bytes: int = 16, tile_words: int = 1) -> MemoryPlan:
    """Place ``program`` in an activation memory of ``capacity`` words of ``lanes`` bytes; its conv layers'
    weight streams in tiles of ``tile_words`` output words (streams.tile_words)."""
    if lanes % beat_bytes:
        raise FlowError(f"{lanes}-byte words are not a whole number of {beat_bytes}-byte AXI beats")
    layouts = plan_layouts(program, lanes)
    n = len(program.layers)
    kinds = {t: l.kind for l in program.layers for t in l.outputs}
    birth = {t: -1 for t in program.inputs}
    birth.update({t: i for i, l in enumerate(program.layers) for t in l.outputs})
    death = dict(birth)
    readers = {t: [] for t in birth}
    for i, layer in enumerate(program.layers):
        for t in layer.inputs:
            death[t] = i
            readers[t].append(layer.kind)
    for t in program.outputs:
        death[t] = n
    # a concatenation done in place (flow/hls/concat_in_place.py): its inputs are views in its output, one
    # region live from the first producer to the last reader of any of them, on chip
    host = {t: l.outputs[0] for l in program.layers if l.kind == "concat" and l.attrs.get("in_place")
            for t in l.inputs}
    for t, y in host.items():
        birth[y], death[y] = min(birth[y], birth[t]), max(death[y], death[t])
    pinned = set(host) | set(host.values())

    def spillable(t):
        lay = layouts[t]
        return (lay.height > 1 and not lay.tokens and (t in program.inputs or kinds[t] in STRIPED)
                and all(k in STRIPED for k in readers[t]) and t not in pinned)

    spill = []
    while True:
        stripes = {}
        temps = []
        for i, layer in enumerate(program.layers):
            if any(t in spill for t in layer.inputs + layer.outputs):
                rows, bufs = _stripe(layer, layouts, spill, capacity // STRIPE_SHARE)
                stripes[layer.name] = rows
                temps += [(name, words, i, i) for name, words in bufs]
        items = [(t, layouts[t].words, birth[t], death[t]) for t in birth if t not in spill and t not in host] + temps
        onchip, high = _first_fit(items)
        onchip.update({t: onchip[y] for t, y in host.items()})
        if high <= capacity:
            break
        candidates = sorted((t for t in birth if t not in spill and spillable(t)), key=lambda t: -layouts[t].words)
        if not candidates:
            raise FlowError(f"the activations need {high:,} words of {lanes} bytes on chip and {capacity:,} are "
                            f"available, with {len(spill)} tensors in DDR and nothing more to move there (pooling, "
                            f"LayerNorm, attention and linear layers keep their tensors on chip)")
        spill.append(candidates[0])
    plan = MemoryPlan(lanes, beat_bytes, layouts, onchip, {}, high, [], [], spill, stripes, tile_words=tile_words)
    plan.stream_words = {l.name: stream_words(l, layouts, lanes, tile_words) for l in program.layers}
    _ddr_regions(plan, program)
    plan.ops, plan.check_ops = _operations(plan, program)
    return plan


def _first_fit(items) -> tuple:
    """(name -> (address, words), high-water mark): largest first, each at the lowest address free over its
    lifetime."""
    placed, where, high = [], {}, 0
    for name, words, start, end in sorted(items, key=lambda it: (-it[1], it[2], it[0])):
        busy = sorted((a, a + w) for (a, w, s, e) in placed if s <= end and start <= e)
        addr = 0
        for lo, hi in busy:
            if addr + words <= lo:
                break
            addr = max(addr, hi)
        placed.append((addr, words, start, end))
        where[name] = (addr, words)
        high = max(high, addr + words)
    return where, high


def _in_rows(layer, r0: int, r1: int, h_in: int, k: int = 0) -> tuple:
    """Input rows [a, b) that output rows [r0, r1) of ``layer`` read from its input ``k`` (a convolution's
    second input is a residual: the output's rows, flow/hls/residual_epilogues.py)."""
    if layer.kind in ("conv", "dwconv") and k == 0:
        a = layer.attrs
        kh, sh, pt = a["kernel"][0], a["stride"][0], a["pad"][0]
        return max(0, r0 * sh - pt), min(h_in, (r1 - 1) * sh - pt + kh)
    return r0, r1


def _stripe(layer, layouts, spill, budget) -> tuple:
    """(output rows per stripe, [(stripe buffer name, words)]) for a layer touching tensors in DDR."""
    out = layouts[layer.outputs[0]]

    def buffers(rows):
        bufs = []
        for k, t in enumerate(layer.inputs):
            if t in spill:
                lay = layouts[t]
                h = rows
                if layer.kind in ("conv", "dwconv") and k == 0:
                    h = min(lay.height, (rows - 1) * layer.attrs["stride"][0] + layer.attrs["kernel"][0])
                bufs.append((f"{layer.name}:in{k}", h * lay.width * lay.words_per_pixel))
        if layer.outputs[0] in spill:
            bufs.append((f"{layer.name}:out", rows * out.width * out.words_per_pixel))
        return bufs

    rows = out.height
    while rows > 1 and sum(w for _, w in buffers(rows)) > budget:
        rows = _ceil(rows, 2) if rows > 8 else rows - 1
    return rows, buffers(rows)


def _ddr_regions(plan: MemoryPlan, program) -> None:
    """DDR regions: the program's inputs and outputs, the tensors in DDR, and a check region for every
    other layer output (beat offsets; each region starts on a 64-byte boundary)."""
    align = max(1, 64 // plan.beat_bytes)
    off = 0
    names = list(dict.fromkeys(list(program.inputs) + list(program.outputs) + plan.spilled +
                               [t for l in program.layers for t in l.outputs]))
    for t in names:
        beats = plan.beats(plan.layouts[t].words)
        plan.ddr[t] = (off, beats)
        off += beats + (-beats) % align
    plan.ddr_beats = off


def _common(plan, program, layer, index) -> dict:
    ins = [plan.layouts[t] for t in layer.inputs]
    lo, hi = program.tensors[layer.outputs[0]].range
    if "epilogue" in layer.attrs:  # the requantization's codes are the epilogue table's input (epilogue.h)
        lo, hi = layer.attrs["epilogue"]["code_range"]
    res_range = None
    if "residual" in layer.attrs:  # the requantization's codes are the residual add's input (conv_pe.h RES);
        res_range = (lo, hi)       # the add's output, the layer's, in RES_LO..RES_HI
        lo, hi = layer.attrs["residual"]["code_range"]
    f = {"LAYER": index, "ROLE": 0, "OUT_LO": lo, "OUT_HI": hi, "EB_OUT": plan.layouts[layer.outputs[0]].eb,
         "EB_IN0": ins[0].eb, "SGN_IN0": int(ins[0].signed)}
    if len(ins) > 1:
        f.update(EB_IN1=ins[1].eb, SGN_IN1=int(ins[1].signed))
    if res_range is not None:
        f.update(RES_LO=res_range[0], RES_HI=res_range[1])
    return f


def _operations(plan: MemoryPlan, program) -> tuple:
    ops, checks = [], []

    def dma(kind, tensor, words, ddr_beat, addr, layer, role):
        return Op(kind, layer, role, {"LAYER": layer, "ROLE": ["layer", "io", "check"].index(role),
                                      "DDR_OFF": ddr_beat, "WORDS": words, "ADDR": addr})

    for t in program.inputs:
        if t in plan.onchip:
            ops.append(dma("load", t, plan.layouts[t].words, plan.ddr[t][0], plan.onchip[t][0], -1, "io"))
    for i, layer in enumerate(program.layers):
        layer_ops = _layer_ops(plan, program, layer, i)
        ops += layer_ops
        for out in layer.outputs:
            if out in plan.onchip and out not in program.outputs:
                lay = plan.layouts[out]
                checks.append((len(ops), dma("store", out, lay.words, plan.ddr[out][0], plan.onchip[out][0], i,
                                             "check")))
    for t in program.outputs:
        if t in plan.onchip:
            ops.append(dma("store", t, plan.layouts[t].words, plan.ddr[t][0], plan.onchip[t][0], -1, "io"))
    check_ops, k = [], 0
    for pos, op in enumerate(ops):
        check_ops.append(op)
        while k < len(checks) and checks[k][0] == pos + 1:
            check_ops.append(checks[k][1])
            k += 1
    return ops, check_ops


def _layer_ops(plan: MemoryPlan, program, layer, index: int) -> list:
    kind = layer.kind
    if kind == "concat" and layer.attrs.get("in_place"):
        return []  # its producers wrote its output
    lay = plan.layouts
    x, y = layer.inputs[0], layer.outputs[0]
    f = _common(plan, program, layer, index)
    f["W_WORDS"] = plan.stream_words[layer.name]
    stream = layer.name if f["W_WORDS"] else None
    if kind in TOKEN_OPS or (kind == "layernorm" and lay[x].tokens) or (kind == "linear" and layer.attrs.get("split")):
        return token_ops(plan, layer, index, f)
    tiles = tuple(conv_tiles(layer, lay[x], lay[y], plan.tile_words)) if kind in ("conv", "linear") else ()
    if layer.name not in plan.stripes:
        rows = layer.attrs["out_shape"][1] if layer.attrs.get("tokens_out") else lay[y].height
        stripes = [(0, rows)]
    else:
        rows = plan.stripes[layer.name]
        stripes = [(r0, min(r0 + rows, lay[y].height)) for r0 in range(0, lay[y].height, rows)]
    ops = []
    for r0, r1 in stripes:
        g = dict(f)
        in_rows = [_in_rows(layer, r0, r1, lay[t].height, k) for k, t in enumerate(layer.inputs)]
        in_addr = []
        for k, t in enumerate(layer.inputs):
            a, b = in_rows[k]
            row_words = lay[t].width * lay[t].words_per_pixel
            if t in plan.onchip:
                in_addr.append((plan.onchip[t][0], 0))
            else:
                buf = plan.onchip[f"{layer.name}:in{k}"][0]
                ops.append(Op("load", index, "layer", {"LAYER": index, "ROLE": 0, "WORDS": (b - a) * row_words,
                                                       "DDR_OFF": plan.ddr[t][0] + plan.beats(a * row_words),
                                                       "ADDR": buf}))
                in_addr.append((buf, a))
        out_row_words = lay[y].width * lay[y].words_per_pixel
        if y in plan.onchip:
            out_addr = (plan.onchip[y][0], 0)
        else:
            out_addr = (plan.onchip[f"{layer.name}:out"][0], r0)
        g.update(_compute_fields(layer, lay, in_addr, in_rows, out_addr, r0, r1, plan.tile_words))
        ops.append(Op(kind, index, "layer", g, stream, tiles))
        if y not in plan.onchip:
            ops.append(Op("store", index, "layer", {"LAYER": index, "ROLE": 0, "WORDS": (r1 - r0) * out_row_words,
                                                    "DDR_OFF": plan.ddr[y][0] + plan.beats(r0 * out_row_words),
                                                    "ADDR": out_addr[0]}))
    return ops


def _compute_fields(layer, lay, in_addr, in_rows, out_addr, r0, r1, tile_words: int = 1) -> dict:
    """The kind's descriptor fields for output rows [r0, r1), inputs at in_addr ((address, first row held))
    and the output at out_addr, on an accelerator whose PE array writes ``tile_words``-word tiles."""
    kind, a = layer.kind, layer.attrs
    x, y = lay[layer.inputs[0]], lay[layer.outputs[0]]
    f = {"IN0": in_addr[0][0], "OUT": out_addr[0]}
    if len(in_addr) > 1:
        f["IN1"] = in_addr[1][0]
    if kind in ("conv", "dwconv", "linear"):
        if kind == "linear":
            kh = kw = sh = sw = 1
            pt = pl = 0
        else:
            (kh, kw), (sh, sw), (pt, pl) = a["kernel"], a["stride"], a["pad"][:2]
        w_out = a["out_shape"][2] if a.get("tokens_out") else y.width  # the patch embedding writes tokens
        # a view (an input or output of a concatenation done in place) starts `lead` words into each pixel of
        # its host and strides over the host's pixels: CW_IN / CW_OUT are pixel strides, TILES its own words
        f.update(IN0=in_addr[0][0] + x.lead, OUT=out_addr[0] + y.lead, H_IN=x.height, W_IN=x.width,
                 CW_IN=x.pixel_words, IN_ROW0=in_addr[0][1], ROW_BEGIN=r0, ROW_END=r1, W_OUT=w_out,
                 CW_OUT=y.pixel_words, OUT_ROW0=out_addr[1], KH=kh, KW=kw, SH=sh, SW=sw, PT=pt, PL=pl,
                 TILES=y.words_per_pixel)
        if "epilogue" in a:
            f.update(EPI_ENTRIES=a["epilogue"]["entries"], EPI_MIN=a["epilogue"]["in_min"])
        if kind == "dwconv" and dw_pairs(x, y, tile_words, f):
            f["DW_PAIR"] = 1
        if kind in ("conv", "linear") and input_word_pairs(layer, x, y, tile_words):
            f["KSPLIT"] = 1
        if kind == "conv" and pixel_pairs(layer, x, y, tile_words):
            f["PPAIR"] = 1
        if "residual" in a:  # the residual's word of a pixel: RES_DELTA words past the output's (one layout)
            res, row_words = a["residual"], y.width * y.words_per_pixel
            first_out = out_addr[0] - out_addr[1] * row_words
            first_res = in_addr[1][0] - in_addr[1][1] * row_words
            f.update(RES=1, RES_DELTA=first_res - first_out, RES_MC=res["mult_conv"], RES_MR=res["mult_res"],
                     RES_SHIFT=res["shift"])
        return f
    # row-wise layers address their stripe directly: the first row's words
    def at(k, lay_t):
        base, held = in_addr[k]
        return base + (r0 - held) * lay_t.width * lay_t.words_per_pixel

    f["IN0"] = at(0, x) if kind in TABLE_KINDS + ("add", "concat") else f["IN0"]
    if kind in ("add", "concat"):
        f["IN1"] = at(1, lay[layer.inputs[1]])
    if kind in TABLE_KINDS + ("add", "concat"):
        f["OUT"] = out_addr[0] + (r0 - out_addr[1]) * y.width * y.words_per_pixel
    pixels = (r1 - r0) * y.width
    if a.get("token") is not None:  # a requantization of one token (a DeiT's class token)
        f["IN0"] += a["token"] * x.words_per_pixel
        pixels = 1
    if kind in TABLE_KINDS:
        table = layer.blobs["table"]
        per_channel = int(table.ndim == 2 and table.shape[0] > 1)
        f.update(PIXELS=pixels, CW_IN=x.words_per_pixel, CW_OUT=y.words_per_pixel, IN_MIN=a["in_min"],
                 ENTRIES=_entries(table.shape[-1], layer), PER_CHANNEL=per_channel)
    elif kind == "add":
        m = layer.blobs["mult"]
        f.update(WORDS=pixels * y.words_per_pixel, M0=int(m[0]), M1=int(m[1]), SHIFT=a["shift"])
    elif kind == "concat":
        b = lay[layer.inputs[1]]
        f.update(PIXELS=pixels, CW_A=x.words_per_pixel, CW_B=b.words_per_pixel, IN_MIN0=a["in_min"][0],
                 IN_MIN1=a["in_min"][1], ENTRIES0=_entries(layer.blobs["table0"].shape[-1], layer),
                 ENTRIES1=_entries(layer.blobs["table1"].shape[-1], layer))
    elif kind == "gap":
        last = x.per_word if x.eb == y.eb else x.channels - (x.words_per_pixel - 1) * x.per_word
        f.update(PIXELS=x.pixels, CW_IN=x.words_per_pixel, DIV=x.per_word, DIV_LAST=last,
                 MULT=int(layer.blobs["mult"][0]), SHIFT=int(layer.blobs["shift"][0]), HW=a["divisor"])
    elif kind == "layernorm":
        f.update(C=a["features"], K=a["k"],
                 SH_WORDS=_ceil(a["features"], x.lanes) if "in_shift" in layer.blobs else 0)
    elif kind == "linear_attention":
        q = a["quant"]
        tab_eb = 1 if max(q["q"]["bits"], q["k"]["bits"]) <= 8 else 2
        f.update(G=a["groups"], D=a["dim"], N=a["tokens"], IN_MIN=a["in_min"],
                 ENTRIES=_entries(layer.blobs["q_table"].shape[-1], layer),
                 EXP_ENTRIES=layer.blobs["den_exp"].shape[-1] if a.get("divisor", "exact") == "log2" else 0,
                 CW_IN=x.words_per_pixel, CW_OUT=y.words_per_pixel, WS_IN=_ceil(a["dim"], x.per_word),
                 BLOCK_LANES=a["dim"] if x.dense and a["dim"] < x.per_word else 0,
                 OUT_BLOCK_LANES=a["dim"] if y.dense and a["dim"] < y.per_word else 0,
                 WS_OUT=_ceil(a["dim"], y.per_word), TAB_EB=tab_eb, TAB_SGN=int(q["q"]["signed"]))
        for role in ("kv", "ksum", "num", "den", "att"):
            f[f"{role.upper()}_MULT"] = int(layer.blobs[f"{role}_mult"][0])
            f[f"{role.upper()}_SHIFT"] = int(layer.blobs[f"{role}_shift"][0])
            f[f"{role.upper()}_LO"], f[f"{role.upper()}_HI"] = q[role]["range"]
    return f


def dw_pairs(x, y, tile_words: int, f: dict) -> bool:
    """Whether a depthwise descriptor (fields ``f``) from layout ``x`` to ``y`` runs in tile pairs on a design
    that has them (vitflow/dwconv.h DW_PAIR): the activation memory in two banks (two-word PE tiles), one
    input word per output word, whole pairs, and fewer iterations. A pair walks its stream of S input words
    once and computes each of its P pixels twice, so its loop takes S + P (2 s - 1) where two single tiles
    take 2 (S + P (s - 1)), s the iterations a word's pixel computes; it loads its 2 (12 + k^2) stream words
    first, where a single tile loads 12 + k^2. With S at least twice that load (both loops compute-bound),
    n output words take (n / 2) (P - S) + 12 + k^2 iterations more as pairs than as single tiles, whatever s
    is: pairs when that is negative. S here is the unpadded span (the template streams at least the line
    buffer's dependence distance a row), so the test errs towards single tiles."""
    if not (tile_words == 2 and x.eb == y.eb and y.words_per_pixel % 2 == 0):
        return False
    rows, load = f["ROW_END"] - f["ROW_BEGIN"], PARAM_WORDS + f["KH"] * f["KW"]
    stream = ((rows - 1) * f["SH"] + f["KH"]) * ((f["W_OUT"] - 1) * f["SW"] + f["KW"])
    return stream >= 2 * load and y.words_per_pixel // 2 * (stream - rows * f["W_OUT"]) > load


def _entries(n: int, layer) -> int:
    if n & (n - 1):
        raise FlowError(f"layer {layer.name}: a {n}-entry table; the table units index 2^bits entries")
    return n
