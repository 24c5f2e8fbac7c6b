"""Each layer's weight stream: its weights, parameters and tables packed offline into words of L bytes, in
the order its engine consumes them (hls_templates/vitflow: conv_pe.h, dwconv.h, eltwise.h, layernorm.h,
linear_attention.h document each format). The loader bursts a stream from DDR into the engine's FIFO.

``stream_words`` gives a stream's length in closed form (the estimate needs no weights); ``pack_stream``
builds it; a test checks that they agree.

The conv PE array's streams go in pairs of words (PAIRED: vitflow/dma.h stream_pairs, two words a cycle):
their epilogue table is padded to an even number of words, and each tile's header word is followed by a
padding word, so every part of such a stream (the table, a tile) is whole pairs.
"""

import math

import numpy as np

from flow.errors import FlowError

PARAM_WORDS = 12  # conv_pe.h: bias, multiplier and shift of L channels, 3 x L int32
PAIRED = ("conv", "linear")  # kinds whose stream the PE array reads two words a cycle


def tile_words(pe_rows: int, lanes: int) -> int:
    """Output words per conv PE array tile (conv_pe.h): two when the array has 2 L rows, else one."""
    return 2 if pe_rows > lanes else 1


def _weight4(layer) -> np.ndarray:
    w = np.asarray(layer.blobs["weight"], dtype=np.int64)
    return w.reshape(w.shape[0], -1, 1, 1) if layer.kind == "linear" else w


def _geometry(layer):
    a = layer.attrs
    if layer.kind == "linear":
        return 1, 1, 1
    return a["kernel"][0], a["kernel"][1], a["groups"]


def conv_tiles(layer, lin, lout, tw: int = 1) -> list:
    """(first input word, input words) of each output tile of a conv or linear layer: ``tw`` output words
    (conv_pe.h), and the words holding the input channels of their output channels (the union of the two
    words' input words when a grouped convolution's differ)."""
    kh, kw, groups = _geometry(layer)
    cin, cout = lin.channels, lout.channels
    words = lout.words_per_pixel
    tiles = -(-words // tw)
    if groups == 1:
        return [(0, lin.words_per_pixel)] * tiles
    ci_g, co_g = cin // groups, cout // groups
    in_word = lin.slots() // lin.per_word
    out_tile = lout.slots() // lout.per_word // tw
    first, last = [None] * tiles, [None] * tiles
    for o in range(cout):
        g = o // co_g
        lo, hi = int(in_word[g * ci_g]), int(in_word[(g + 1) * ci_g - 1])
        t = int(out_tile[o])
        first[t] = lo if first[t] is None else min(first[t], lo)
        last[t] = hi if last[t] is None else max(last[t], hi)
    return [(f, l - f + 1) for f, l in zip(first, last)]


def input_word_pairs(layer, lin, lout, tw: int) -> bool:
    """Whether a conv or linear layer's last tile takes its input words in pairs (conv_pe.h KSPLIT): tiles
    of two output words (the activation memory's two banks), 8-bit outputs, an odd number of output words
    (so the last tile has one, and half the PE rows idle) and an even number of input words in that tile."""
    tiles = conv_tiles(layer, lin, lout, tw)
    return tw == 2 and lout.eb == 1 and lout.words_per_pixel % 2 == 1 and tiles[-1][1] % 2 == 0


def pixel_pairs(layer, lin, lout, tw: int) -> bool:
    """Whether a conv layer computes two pixels at once over the PE array's two halves of rows (conv_pe.h
    PPAIR): tiles of two output words, a 1 x 1 stride-1 unpadded kernel, one input and one output word a
    pixel (neighbouring pixels' words are neighbours), 8-bit outputs, an even output width and no residual
    add."""
    a = layer.attrs
    return (tw == 2 and layer.kind == "conv" and tuple(a["kernel"]) == (1, 1) and tuple(a["stride"]) == (1, 1)
            and not any(a["pad"]) and lout.eb == 1 and lin.pixel_words == 1 and lout.pixel_words == 1
            and lout.width % 2 == 0 and "residual" not in a and not a.get("tokens_out"))


def tile_steps(layer, lin, lout, tw: int) -> list:
    """The input-word steps of each conv tile: its input words, or half of them in input-word pairs."""
    tiles = conv_tiles(layer, lin, lout, tw)
    pairs = input_word_pairs(layer, lin, lout, tw)
    return [nw // 2 if pairs and t == len(tiles) - 1 else nw for t, (_, nw) in enumerate(tiles)]


def table_words(entries: int, eb: int, lanes: int) -> int:
    return math.ceil(entries * eb / lanes)


def _epilogue_words(layer, lout, lanes) -> int:
    """The epilogue table's words at the start of a convolution's stream (vitflow/epilogue.h): whole pairs
    for the PE array's."""
    epi = layer.attrs.get("epilogue")
    words = table_words(epi["entries"], lout.eb, lanes) if epi else 0
    return words + words % 2 if layer.kind in PAIRED else words


def head_parts(layer, layouts: dict) -> list:
    """A q/k/v projection (a token linear with ``split``) as the 1x1 convolutions the conv engine runs: one
    per output (q, k, v) and head, each writing that head's (N, d) block of rows: [(part layer, output
    tensor, head, the block's layout)]. The weight rows of output k and head h are (k heads + h) d .. + d
    (the reference's channel order, flow/reference/kernels.linear)."""
    from flow.lower.program import Layer

    from .tensor_layout import TensorLayout

    a = layer.attrs
    d, heads = a["head_dim"], a["heads"]
    parts = []
    for k, t in enumerate(layer.outputs):
        lout = layouts[t]
        block = TensorLayout((lout.shape[1], d), lout.eb, lout.signed, lout.segments, lout.lanes, True)
        for h in range(heads):
            rows = slice((k * heads + h) * d, (k * heads + h + 1) * d)
            blobs = {key: np.asarray(layer.blobs[key])[rows] for key in ("weight", "bias", "mult", "shift")}
            attrs = {**a, "out_features": d, "split": 0}
            parts.append((Layer(f"{layer.name}.{k}.{h}", "linear", layer.inputs, [t], attrs, blobs), t, h, block))
    return parts


def conv_words(layer, lin, lout, lanes, tw: int = 1) -> int:
    kh, kw, _ = _geometry(layer)
    steps = tile_steps(layer, lin, lout, tw)
    return _epilogue_words(layer, lout, lanes) + sum(2 + tw * PARAM_WORDS + tw * lout.per_word * n * kh * kw
                                                     for n in steps)  # the header and its padding word


def stream_words(layer, layouts: dict, lanes: int, tw: int = 1) -> int:
    """Words of ``layer``'s weight stream (0: the layer has none); ``tw``: output words per conv tile."""
    kind, a = layer.kind, layer.attrs
    lin, lout = layouts[layer.inputs[0]], layouts[layer.outputs[0]]
    if kind == "linear" and a.get("split"):
        return sum(conv_words(part, lin, block, lanes, tw) for part, _, _, block in head_parts(layer, layouts))
    if kind in ("conv", "linear"):
        return conv_words(layer, lin, lout, lanes, tw)
    if kind == "dwconv":
        taps = a["kernel"][0] * a["kernel"][1]
        return _epilogue_words(layer, lout, lanes) + lout.words_per_pixel * (PARAM_WORDS + taps)
    if kind in ("gelu", "requant"):
        return table_words(layer.blobs["table"].shape[-1], lout.eb, lanes)
    if kind == "add_const":
        return lout.words
    if kind == "softmax":
        return math.ceil(4 * layer.blobs["table"].shape[-1] / lanes)
    if kind in ("hardswish", "relu"):
        table = layer.blobs["table"]
        if table.ndim == 2 and table.shape[0] > 1:  # a row per channel: per tile, one word per entry
            return lout.words_per_pixel * table.shape[-1]
        return table_words(table.shape[-1], lout.eb, lanes)
    if kind == "concat" and a.get("in_place"):
        return 0  # no operation: its producers wrote its output (flow/hls/concat_in_place.py)
    if kind == "concat":
        return sum(table_words(layer.blobs[f"table{i}"].shape[-1], lout.eb, lanes) for i in range(2))
    if kind == "layernorm":
        c = a["features"]
        return (math.ceil(c / lanes) if "in_shift" in layer.blobs else 0) + math.ceil(8 * c / lanes)
    if kind == "linear_attention":
        eb_t = _attention_table_eb(layer)
        words = 2 * table_words(layer.blobs["q_table"].shape[-1], eb_t, lanes)
        if a.get("divisor", "exact") == "log2":
            words += table_words(layer.blobs["den_exp"].shape[-1], 1, lanes)
        return words
    return 0


def _attention_table_eb(layer) -> int:
    q = layer.attrs["quant"]
    bits = max(q["q"]["bits"], q["k"]["bits"])
    return 1 if bits <= 8 else 2


def _ints(values, n: int) -> np.ndarray:
    """n int32 values (zero-padded) as bytes."""
    v = np.zeros(n, dtype="<i4")
    vals = np.asarray(values, dtype=np.int64).reshape(-1)
    if vals.size and (vals.min() < -2 ** 31 or vals.max() >= 2 ** 31):
        raise FlowError("a parameter does not fit the accelerator's 32-bit parameter words")
    v[:vals.size] = vals
    return v.view(np.uint8)


def _elements(values, eb: int, lanes: int) -> np.ndarray:
    """Values as eb-byte elements, padded to whole words: (words, L) uint8."""
    vals = np.asarray(values, dtype=np.int64).reshape(-1)
    raw = (vals & (0xFF if eb == 1 else 0xFFFF)).astype(np.uint8 if eb == 1 else "<u2").view(np.uint8)
    return _words(raw, lanes)


def _words(raw: np.ndarray, lanes: int) -> np.ndarray:
    raw = np.asarray(raw, dtype=np.uint8).reshape(-1)
    pad = (-raw.size) % lanes
    return np.concatenate([raw, np.zeros(pad, np.uint8)]).reshape(-1, lanes)


def _slot_params(layer, lout, tile: int) -> list:
    """The tile's bias, multiplier and shift words: 12 words, the values of its rows' channels."""
    slots = lout.slots()
    rows = lout.per_word
    chan = np.full(rows, -1)
    sel = np.nonzero(slots // rows == tile)[0]
    chan[slots[sel] % rows] = sel
    out = []
    for key in ("bias", "mult", "shift"):
        blob = np.asarray(layer.blobs[key], dtype=np.int64).reshape(-1)
        vals = np.where(chan >= 0, blob[np.maximum(chan, 0)], 0)
        out.append(_words(_ints(vals, lout.lanes), lout.lanes))
    return out


def pack_stream(layer, layouts: dict, lanes: int, tw: int = 1) -> np.ndarray:
    """(words, L) uint8: ``layer``'s weight stream; ``tw``: output words per conv tile."""
    kind = layer.kind
    lin, lout = layouts[layer.inputs[0]], layouts[layer.outputs[0]]
    if kind == "linear" and layer.attrs.get("split"):
        words = np.concatenate([_conv_stream(part, lin, block, lanes, tw)
                                for part, _, _, block in head_parts(layer, layouts)])
    elif kind in ("conv", "linear"):
        words = _conv_stream(layer, lin, lout, lanes, tw)
    elif kind in ("gelu", "requant"):
        words = _elements(layer.blobs["table"], lout.eb, lanes)
    elif kind == "add_const":
        words = _constant_stream(layer, lout)
    elif kind == "softmax":
        table = layer.blobs["table"]
        words = _words(_ints(table, table.size), lanes)
    elif kind == "dwconv":
        words = _dw_stream(layer, lin, lout, lanes)
    elif kind in ("hardswish", "relu"):
        table = np.asarray(layer.blobs["table"], dtype=np.int64)
        if table.ndim == 2 and table.shape[0] > 1:
            words = _rows_stream(table, lout, lanes)
        else:
            words = _elements(table.reshape(-1), lout.eb, lanes)
    elif kind == "concat":
        words = np.concatenate([_elements(layer.blobs[f"table{i}"], lout.eb, lanes) for i in range(2)])
    elif kind == "layernorm":
        parts = []
        if "in_shift" in layer.blobs:
            parts.append(_words(np.asarray(layer.blobs["in_shift"], dtype=np.int64).astype(np.int8).view(np.uint8),
                                lanes))
        ab = np.stack([np.asarray(layer.blobs["a"], np.int64), np.asarray(layer.blobs["b"], np.int64)], axis=1)
        parts.append(_words(_ints(ab.reshape(-1), ab.size), lanes))
        words = np.concatenate(parts)
    elif kind == "linear_attention":
        eb_t = _attention_table_eb(layer)
        parts = [_elements(layer.blobs["q_table"], eb_t, lanes), _elements(layer.blobs["k_table"], eb_t, lanes)]
        if layer.attrs.get("divisor", "exact") == "log2":
            parts.append(_elements(layer.blobs["den_exp"], 1, lanes))
        words = np.concatenate(parts)
    else:
        words = np.zeros((0, lanes), np.uint8)
    if kind in ("conv", "linear", "dwconv") and "epilogue" in layer.attrs:
        table = _elements(layer.blobs["epilogue_table"], lout.eb, lanes)
        if kind in PAIRED and len(table) % 2:  # whole pairs
            table = np.concatenate([table, np.zeros((1, lanes), np.uint8)])
        words = np.concatenate([table, words])
    expected = stream_words(layer, layouts, lanes, tw)
    if len(words) != expected:  # the closed form and the packing must describe the same stream
        raise AssertionError(f"{layer.name}: packed {len(words)} stream words, the closed form says {expected}")
    return words


def _conv_stream(layer, lin, lout, lanes, tw: int = 1) -> np.ndarray:
    kh, kw, groups = _geometry(layer)
    w = _weight4(layer)
    cout, ci_g = w.shape[:2]
    co_g = cout // groups
    pwi, pwo = lin.per_word, lout.per_word
    si, so = lin.slots(), lout.slots()
    tiles = conv_tiles(layer, lin, lout, tw)
    pairs = input_word_pairs(layer, lin, lout, tw)
    pixels = pixel_pairs(layer, lin, lout, tw)  # the second half of rows repeats the first's (conv_pe.h PPAIR)
    # the weights by (output slot, input slot, tap): zero where no channel, another group's, or past the
    # last output word (a tile of two words whose second is not the layer's)
    full = np.zeros((len(tiles) * tw * pwo, lin.words_per_pixel * pwi, kh, kw), dtype=np.int64)
    groups_of = np.arange(cout) // co_g
    in_ch = groups_of[:, None] * ci_g + np.arange(ci_g)[None, :]
    full[so[:, None], si[in_ch]] = w
    no_params = [np.zeros((PARAM_WORDS // 3, lanes), np.uint8)] * 3
    out = []
    for t, (w0, nw) in enumerate(tiles):
        out.append(_words(_ints([w0, nw], lanes // 4).view(np.uint8), lanes))
        out.append(np.zeros((1, lanes), np.uint8))  # the header's pair
        for word in range(t * tw, (t + 1) * tw):  # each output word's 12 parameter words (pixel pairs: word 0's)
            src = 0 if pixels else word
            out.extend(_slot_params(layer, lout, src) if src < lout.words_per_pixel else no_params)
        rows = tw * pwo
        block = full[t * rows:(t + 1) * rows, w0 * pwi:(w0 + nw) * pwi]         # rows, nw * pwi, kh, kw
        block = block.reshape(rows, nw, pwi, kh, kw).transpose(3, 4, 1, 0, 2)   # kh, kw, nw, rows, lanes
        if pairs and t == len(tiles) - 1:  # input-word pairs: the second half of rows, the odd words
            half = rows // 2              # (the tile's one output word's channels, rows past it zero)
            even, odd = block[:, :, 0::2, :half], block[:, :, 1::2, :half]
            block = np.concatenate([even, odd], axis=3)                         # kh, kw, nw / 2, rows, lanes
        if pixels:  # pixel pairs: the second half of rows the first's weights
            block = np.concatenate([block[:, :, :, :rows // 2]] * 2, axis=3)
        lanes_block = np.zeros(block.shape[:-1] + (lanes,), dtype=np.int64)
        if lin.eb == 2:  # the PE array takes a 16-bit code as two byte lanes: its weight in both (conv_pe.h)
            lanes_block[..., :2 * pwi] = np.repeat(block, 2, axis=-1)
        else:
            lanes_block[..., :pwi] = block
        out.append(lanes_block.astype(np.int8).view(np.uint8).reshape(-1, lanes))
    return np.concatenate(out)


def _dw_stream(layer, lin, lout, lanes) -> np.ndarray:
    kh, kw = layer.attrs["kernel"]
    w = np.asarray(layer.blobs["weight"], dtype=np.int64).reshape(-1, kh * kw)
    so, pwo = lout.slots(), lout.per_word
    out = []
    for t in range(lout.words_per_pixel):
        out.extend(_slot_params(layer, lout, t))
        taps = np.zeros((kh * kw, lanes), dtype=np.int64)
        sel = np.nonzero(so // pwo == t)[0]
        taps[:, so[sel] % pwo] = w[sel].T
        out.append(taps.astype(np.int8).view(np.uint8))
    return np.concatenate(out)


def _rows_stream(table, lout, lanes) -> np.ndarray:
    """Per-channel table rows, tile by tile: word e of a tile holds entry e of each lane's row."""
    so, pwo, eb = lout.slots(), lout.per_word, lout.eb
    out = []
    for t in range(lout.words_per_pixel):
        vals = np.zeros((table.shape[-1], pwo), dtype=np.int64)
        sel = np.nonzero(so // pwo == t)[0]
        vals[:, so[sel] % pwo] = table[sel].T
        raw = (vals & (0xFF if eb == 1 else 0xFFFF)).astype(np.uint8 if eb == 1 else "<u2").view(np.uint8)
        out.append(raw.reshape(table.shape[-1], lanes))
    return np.concatenate(out)


def _constant_stream(layer, lout) -> np.ndarray:
    """The position add's constant tensor in the output's word layout, as signed elements of the output's
    width (vitflow/eltwise.h add_const_engine reads it so)."""
    from dataclasses import replace

    const = np.asarray(layer.blobs["const"], dtype=np.int64)
    bits = 8 * lout.eb
    if const.min() < -2 ** (bits - 1) or const.max() >= 2 ** (bits - 1):
        raise FlowError(f"layer {layer.name}: its constant's codes do not fit the output's {bits}-bit elements")
    return replace(lout, signed=True).pack(const)
