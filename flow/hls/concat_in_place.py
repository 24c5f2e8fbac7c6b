"""Concatenations done in place: the producers of a concatenation's inputs write straight into its output.

A concatenation of two channel blocks is a copy (the concat unit, eltwise.h: a pass over both inputs, each
through its table onto the output's scale). When the engines that write the inputs can write the output's
pixels instead, the copy disappears: input 0's words are the first of each output pixel, input 1's follow
(flow/hls/tensor_layout.py views: the producer's CW_OUT is the output's words per pixel, its OUT the
first of its words). An input whose table is not the identity (a rescale onto the output's scale) takes
that table as its producer's epilogue (hls_templates/vitflow/epilogue.h), as an activation does
(flow/hls/epilogues.py), so the producer writes the output's codes.

A concatenation goes in place when, for each input:
  - a convolution or depthwise convolution writes it (an engine that writes a pixel's words at a stride:
    conv_pe.h, dwconv.h), with no residual add as epilogue (that reads the residual at the output's
    stride), and it is not a program input or output;
  - every other reader is a convolution or a depthwise convolution reading it as its first input (their
    CW_IN strides over the output's pixels; a depthwise one whose two input words make one output word
    would read past the view, so its input is at most its output's width);
  - its table is the identity, or only the concatenation reads it, its producer has no epilogue yet and
    the design's epilogue tables hold the table (``max_entries``, the engines' EPI).
The memory plan gives the output one region, live from the first producer to the last reader of the
output or of either input, and never moves it to DDR (flow/hls/memory_plan.py).

``place_concats`` is a program transformation, as fuse_epilogues: a producer that takes a table writes a
new tensor, ``<concat>:in<k>`` (the output's codes of its channels), and dumps its former codes under the
dropped tensor's name; the concatenation stays in the program (the reference runs it, with identity
tables on those inputs), marked ``in_place``, and the accelerator runs nothing for it. A fused program's run
gives every tensor of the original program (epilogues.check_fused).
"""

import math

import numpy as np

from flow.lower.program import Layer, Program, TensorInfo

from .epilogues import MAX_ENTRIES, with_epilogue, with_layers

PRODUCERS = ("conv", "dwconv")
READERS = ("conv", "dwconv")


def _identity(table: np.ndarray, in_min: int) -> bool:
    t = np.asarray(table).reshape(-1)
    return np.array_equal(t, in_min + np.arange(t.size))


def _reader_ok(reader: Layer, t: str, program: Program) -> bool:
    if reader.kind not in READERS or reader.inputs[0] != t or t in reader.inputs[1:]:
        return False
    if reader.attrs.get("tokens_out") or reader.attrs.get("split"):
        return False
    if reader.kind == "dwconv":  # dwconv.h SUB = 2 (two input words an output word) reads a word past its own
        return program.tensors[t].bits <= 8 or program.tensors[reader.outputs[0]].bits > 8
    return True


def _placeable(program: Program, concat: Layer, producers: dict, readers: dict, max_entries: int) -> list | None:
    """Per input, whether its table goes to its producer as an epilogue; None when ``concat`` stays a copy."""
    a, b = concat.inputs
    if a == b:
        return None
    takes = []
    for k, t in enumerate(concat.inputs):
        prod = producers.get(t)
        if (prod is None or prod.kind not in PRODUCERS or "residual" in prod.attrs or len(prod.outputs) != 1
                or prod.attrs.get("tokens_out") or t in program.outputs):
            return None
        others = [r for r in readers[t] if r is not concat]
        if not all(_reader_ok(r, t, program) for r in others):
            return None
        table = np.asarray(concat.blobs[f"table{k}"])
        if _identity(table, concat.attrs["in_min"][k]):
            takes.append(False)
        elif not others and "epilogue" not in prod.attrs and table.size <= min(max_entries, MAX_ENTRIES):
            takes.append(True)
        else:
            return None
    if producers[a] is producers[b]:
        return None
    return takes


def place_concats(program: Program, max_entries: int, max_elements: int | None = None) -> Program:
    """``program`` with every concatenation that can be done in place so marked, its producers writing its
    output (a rescaled input's table, of at most ``max_entries`` entries, as its producer's epilogue; 0:
    the design has no epilogue tables, identity tables only); with ``max_elements``, only those whose
    output has at most that many elements (a smaller region pinned on chip; None: any); the program
    itself if none can."""
    producers = {t: l for l in program.layers for t in l.outputs}
    readers = {}
    for layer in program.layers:
        for t in layer.inputs:
            readers.setdefault(t, []).append(layer)
    replaced, tensors, dropped = {}, dict(program.tensors), set()
    for concat in program.layers:
        if concat.kind != "concat" or concat.attrs.get("in_place"):
            continue
        if max_elements is not None and output_elements(program, concat) > max_elements:
            continue
        takes = _placeable(program, concat, producers, readers, max_entries)
        if takes is None or any(producers[t].name in replaced for t in concat.inputs):
            continue
        y = program.tensors[concat.outputs[0]]
        lo, hi = y.range
        inputs, in_min, blobs = list(concat.inputs), list(concat.attrs["in_min"]), dict(concat.blobs)
        for k, t in enumerate(concat.inputs):
            if not takes[k]:
                continue
            prod, new, info = producers[t], f"{concat.name}:in{k}", program.tensors[t]
            replaced[prod.name] = with_epilogue(prod, concat.blobs[f"table{k}"], "concat", concat.name,
                                                concat.attrs["in_min"][k], info.range, [new])
            tensors[new] = TensorInfo(tuple(info.shape), y.bits, y.signed, y.scale)
            dropped.add(t)
            inputs[k], in_min[k] = new, lo
            blobs[f"table{k}"] = np.arange(lo, hi + 1, dtype=np.int32)  # the codes it now gets: the output's
        replaced[concat.name] = Layer(concat.name, "concat", inputs, list(concat.outputs),
                                      dict(concat.attrs, in_min=in_min, in_place=True), blobs, concat.ranges,
                                      list(concat.source), dict(concat.dumps))
    if not replaced:
        return program
    layers = [replaced.get(l.name, l) for l in program.layers]
    widened = Program(program.model, list(program.inputs), list(program.outputs), tensors, layers, dict(program.meta))
    return with_layers(widened, layers, dropped, concats_in_place=concats_in_place(widened))


def output_elements(program: Program, concat: Layer) -> int:
    """A concatenation's output elements: the measure of the region it pins on chip when in place."""
    return math.prod(program.tensors[concat.outputs[0]].shape)


def concats_in_place(program: Program) -> int:
    """Concatenations the accelerator does in place (no operation of their own)."""
    return sum(bool(l.attrs.get("in_place")) for l in program.layers if l.kind == "concat")


def view_codes(program: Program, env: dict) -> dict:
    """``env`` with the codes of the tensors ``place_concats`` made (``<concat>:in<k>``, the output's
    channels of input k), from the concatenation's output: what the C-simulation compares them with."""
    extra = {}
    for layer in program.layers:
        if layer.kind == "concat" and layer.attrs.get("in_place") and layer.outputs[0] in env:
            y, first = np.asarray(env[layer.outputs[0]]), 0
            for t in layer.inputs:
                c = program.tensors[t].shape[0]
                if t not in env:
                    extra[t] = y[first:first + c]
                first += c
    return {**env, **extra} if extra else env
