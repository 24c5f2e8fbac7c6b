"""Each program tensor's layout in the accelerator's activation memory.

A tensor is stored HWC in words of L bytes (hls_templates/vitflow/word.h): pixel after pixel, and each
pixel's channels in one or more segments, each segment starting at a word boundary. A word holds L / EB
elements of EB bytes: 1 for codes of up to 8 bits, 2 for up to 16. Most tensors are one segment (dense).
The linear attention reads its q, k and v per head: no head's block of channels may straddle a word. A
dense layout serves when the head dimension divides the word's lanes or the lanes divide it (the usual
powers of two); otherwise the tensors feeding the attention are split into segments of the head dimension.
That demand travels back through the layers that keep channels in place (concatenation, depthwise
convolution, tables, adds) to the convolutions that produce them, which write any layout (their weights
are packed for it). The attention's output is dense when its heads pack into words the same way (several
heads share a word, or a head is whole words), else one segment per head.

A softmax transformer's tensors are tokens: the program's (N, C) or, per head, (heads, N, d) and (heads, N,
N) (flow/lower/rules/transformer.py). They are stored channels last: each token (each row of a head) is a
"pixel" of C (d, N) channels, in the program's order, so a head's rows are contiguous (the activation
products read them row after row, vitflow/act_matmul.h) and a token linear is a 1x1 convolution over N
pixels. Merging the heads back into tokens (attn v) writes head h's d channels at word h d / (L / EB) of
each token: d must be whole words.

A concatenation's inputs may be views of its output (flow/hls/concat_in_place.py): their producers write
straight into the concatenation's pixels, input k's words from word ``lead`` of each pixel of
``stride`` words, and the concatenation moves nothing.
"""

import math
from dataclasses import dataclass

import numpy as np

from flow.errors import FlowError

# layers whose output has the input's channels in the same places
CHANNELWISE = ("dwconv", "hardswish", "relu", "add")
# a softmax transformer's layers that write a dense tensor of their own shape
TOKEN_KINDS = ("add_const", "matmul", "softmax", "gelu", "requant")


def element_bytes(bits: int) -> int:
    if bits <= 8:
        return 1
    if bits <= 16:
        return 2
    raise FlowError(f"{bits}-bit codes: the activation memory holds codes of up to 16 bits")


@dataclass(frozen=True)
class TensorLayout:
    shape: tuple      # the program's (C, H, W), or (C,) for a vector; tokens: (N, C) or (heads, N, d)
    eb: int           # bytes per element
    signed: bool
    segments: tuple   # channel counts, each from a word boundary
    lanes: int        # L, bytes per word
    tokens: bool = False  # channels last: a pixel per token (per head and token), as a column of height N
    lead: int = 0     # a view: the words before this tensor's in each pixel of the tensor it lives in
    stride: int = 0   # a view: that tensor's words per pixel (0: not a view, the pixel is this tensor's words)

    @property
    def channels(self) -> int:
        return self.shape[-1] if self.tokens else self.shape[0]

    @property
    def height(self) -> int:
        if self.tokens:
            return math.prod(self.shape[:-1])
        return self.shape[1] if len(self.shape) > 1 else 1

    @property
    def width(self) -> int:
        return self.shape[2] if len(self.shape) > 2 and not self.tokens else 1

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def per_word(self) -> int:
        return self.lanes // self.eb

    @property
    def words_per_pixel(self) -> int:
        """The words holding this tensor's channels in a pixel."""
        return sum(math.ceil(s / self.per_word) for s in self.segments)

    @property
    def pixel_words(self) -> int:
        """The words from one pixel to the next: the engines' CW_IN / CW_OUT (a view's, its host's)."""
        return self.stride or self.words_per_pixel

    @property
    def words(self) -> int:
        """The words of the tensor's region (a view's: its host's, the words between its own included)."""
        return self.pixels * self.pixel_words

    def view_in(self, host: "TensorLayout", lead: int) -> "TensorLayout":
        """This tensor as a view in ``host``'s pixels, from word ``lead`` of each."""
        return TensorLayout(self.shape, self.eb, self.signed, self.segments, self.lanes, self.tokens, lead,
                            host.pixel_words)

    @property
    def dense(self) -> bool:
        return len(self.segments) == 1

    def slots(self) -> np.ndarray:
        """The slot (word in the pixel x per_word + lane) of each channel, from the tensor's first word."""
        out, word = [], 0
        for s in self.segments:
            out.extend(word * self.per_word + np.arange(s))
            word += math.ceil(s / self.per_word)
        return np.asarray(out, dtype=np.int64)

    def placed_slots(self) -> np.ndarray:
        """The slot of each channel in the region's pixel (a view's: past the host's words before it)."""
        return self.slots() + self.lead * self.per_word

    def pack(self, codes) -> np.ndarray:
        """(words, L) uint8: the tensor's codes in this layout (padding lanes 0)."""
        x = np.asarray(codes, dtype=np.int64)
        x = x.reshape(self.pixels, self.channels) if self.tokens else x.reshape(self.channels, self.pixels).T
        elems = np.zeros((self.pixels, self.pixel_words * self.per_word), dtype=np.int64)
        elems[:, self.placed_slots()] = x
        return elems.astype(self._dtype()).view(np.uint8).reshape(self.words, self.lanes)

    def unpack(self, words: np.ndarray) -> np.ndarray:
        """The codes (shape of the program tensor) from (words, L) uint8 in this layout."""
        raw = np.ascontiguousarray(np.asarray(words, dtype=np.uint8).reshape(self.pixels, -1))
        elems = raw.view(self._dtype()).astype(np.int64)[:, self.placed_slots()]
        return elems.reshape(self.shape) if self.tokens else elems.T.reshape(self.shape)

    def _dtype(self):
        """The elements' storage: little-endian, of the tensor's width and signedness."""
        return {(1, True): np.int8, (1, False): np.uint8, (2, True): "<i2", (2, False): "<u2"}[(self.eb, self.signed)]

    def mask(self) -> np.ndarray:
        """(words, L) bool: the bytes that hold an element (True) or padding."""
        used = np.zeros((self.pixels, self.pixel_words * self.per_word), dtype=bool)
        used[:, self.placed_slots()] = True
        return np.repeat(used, self.eb, axis=1).reshape(self.words, self.lanes)


def split(channels: int, size: int | None, per_word: int) -> tuple:
    """Segments of ``size`` channels (the last possibly shorter), merged where no padding separates them."""
    if not size or size >= channels:
        return (channels,)
    return normalize([size] * (channels // size) + ([channels % size] if channels % size else []), per_word)


def normalize(segments, per_word: int) -> tuple:
    """The same slots with adjacent segments merged where the first ends on a word boundary."""
    merged = [segments[0]]
    for s in segments[1:]:
        if merged[-1] % per_word == 0:
            merged[-1] += s
        else:
            merged.append(s)
    return tuple(merged)


def blocks_packable(dim: int, per_word: int) -> bool:
    """Blocks of ``dim`` channels laid out densely never straddle a word."""
    return per_word % dim == 0 or dim % per_word == 0


def plan_layouts(program, lanes: int) -> dict:
    """Tensor name -> TensorLayout for an accelerator with L = ``lanes``; FlowError naming a layer whose
    layouts the engines cannot serve. Dense layouts first; where an attention input came out with a head
    block across a word, again with that input demanded in segments of the head dimension."""
    layouts = _layouts(program, lanes, set())
    segmented = {l.name for l in program.layers if l.kind == "linear_attention"
                 and not _heads_fit(layouts[l.inputs[0]], l.attrs["dim"])}
    return _layouts(program, lanes, segmented) if segmented else layouts


def _heads_fit(lay, dim: int) -> bool:
    return (lay.dense and blocks_packable(dim, lay.per_word)) or lay.segments == split(lay.channels, dim, lay.per_word)


def _layouts(program, lanes: int, segmented: set) -> dict:
    demand = {}
    for layer in reversed(program.layers):
        out = layer.outputs[0]
        if layer.kind == "linear_attention" and layer.name in segmented:
            _demand(demand, layer.inputs[0], layer.attrs["dim"], layer)
        elif layer.kind in CHANNELWISE + ("concat",) and out in demand:
            for t in layer.inputs:
                _demand(demand, t, demand[out], layer)

    tokens = token_tensors(program)

    def make(name, segments_size):
        info = program.tensors[name]
        eb = element_bytes(info.bits)
        tok = name in tokens
        channels = info.shape[-1] if tok else info.shape[0]
        return TensorLayout(tuple(info.shape), eb, info.signed, split(channels, segments_size, lanes // eb), lanes,
                            tok)

    layouts = {name: make(name, demand.get(name)) for name in program.inputs}
    for layer in program.layers:
        out = layer.outputs[0]
        ins = [layouts[t] for t in layer.inputs]
        info = program.tensors[out]
        eb = element_bytes(info.bits)
        tag = f"layer {layer.name} ({layer.kind})"
        if layer.kind in ("conv", "linear"):
            for t in layer.outputs:  # a q/k/v projection has three
                layouts[t] = make(t, demand.get(t))
        elif layer.kind in TOKEN_KINDS:
            if ins[0].tokens and not ins[0].dense:
                raise FlowError(f"{tag}: its input is not dense")
            layouts[out] = make(out, None)
            if layer.kind == "matmul" and layer.attrs["merge_heads"] and layouts[layer.inputs[1]].channels % (lanes // eb):
                raise FlowError(f"{tag}: heads of {layouts[layer.inputs[1]].channels} channels do not fill whole "
                                f"{lanes}-byte words of the merged tokens")
        elif layer.kind == "linear_attention":
            d = layer.attrs["dim"]
            if layer.name in segmented and not _heads_fit(ins[0], d):
                raise FlowError(f"{tag}: its input is not laid out in heads of {d} channels")
            layouts[out] = make(out, None if blocks_packable(d, lanes // eb) else d)
        elif layer.kind == "concat":
            if len({x.eb for x in ins} | {eb}) != 1:
                raise FlowError(f"{tag}: inputs and output of different element widths")
            segs = normalize(ins[0].segments + ins[1].segments, lanes // eb)
            layouts[out] = TensorLayout(tuple(info.shape), eb, info.signed, segs, lanes)
            if layer.attrs.get("in_place"):  # its inputs live in its pixels: input 1 after input 0's words
                for k, t in enumerate(layer.inputs):
                    layouts[t] = ins[k].view_in(layouts[out], k * ins[0].words_per_pixel)
        elif layer.kind == "layernorm":
            if not ins[0].dense:
                raise FlowError(f"{tag}: the LayerNorm reads a dense vector")
            layouts[out] = make(out, None)
        else:  # channelwise and gap: the input's channel structure
            if layer.kind == "add" and len({x.eb for x in ins} | {eb}) != 1:
                raise FlowError(f"{tag}: the add unit takes inputs and output of one element width")
            if layer.kind == "add" and ins[0].segments != ins[1].segments:
                raise FlowError(f"{tag}: the two inputs are laid out differently")
            if eb != ins[0].eb and not ins[0].dense:
                raise FlowError(f"{tag}: changes the element width of a tensor laid out in segments")
            segs = ins[0].segments if eb == ins[0].eb else (ins[0].channels,)
            layouts[out] = TensorLayout(tuple(info.shape), eb, info.signed, segs, lanes, out in tokens)
    return layouts


def token_tensors(program) -> set:
    """The program's token tensors (stored channels last): what a token-producing layer writes (the patch
    embedding's conv, the position add, token linears, activation products, the softmax), and what the
    channelwise layers make of them; a requantization that picks one token gives a vector."""
    found = set()
    for layer in program.layers:
        a = layer.attrs
        if (a.get("tokens_out") or (layer.kind == "linear" and a.get("tokens")) or layer.kind in ("add_const", "matmul", "softmax")
                or (layer.inputs[0] in found and layer.kind in ("add", "gelu", "layernorm", "requant")
                    and a.get("token") is None)):
            found.update(layer.outputs)
    return found


def _demand(demand: dict, tensor: str, size: int, layer) -> None:
    if demand.get(tensor, size) != size:
        raise FlowError(f"layer {layer.name}: tensor {tensor} is needed in heads of {size} and of "
                        f"{demand[tensor]} channels")
    demand[tensor] = size
