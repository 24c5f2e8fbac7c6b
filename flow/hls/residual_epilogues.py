"""Residual adds as epilogues of the convolution that produces one of their inputs.

An add whose one input only a convolution (or a linear layer: a softmax transformer's projections) writes
(and nothing else reads) runs inside that convolution's
engine (hls_templates/vitflow/conv_pe.h, RES): the engine requantizes its accumulators to the add's input
codes, as before, and on the way to the activation memory each output word becomes clamp(round_half_even((c
M_conv + r M_res) / 2^SHIFT)) with r the residual's word at the same place, read from the memory through
its second port in an iteration of the pixel that writes nothing. The add's pass over the tensor (eltwise.h's
add engine, II = 2) and the convolution's output tensor disappear; an MBConv block's projection writes the
block's output.

A pixel needs a free iteration per residual word before the one that writes its first output word (a tile
of two output words: one more, where the previous pixel's second word is written). A layer of one output
word per pixel whose pixel takes one iteration stalls it for a second (the residual's read), still
cheaper than the add's own pass (two iterations a word); a layer of more output words fuses only when each
of its tiles takes at least 4 iterations per pixel: its input words times taps, the least any PE array
gives. ``check_plan`` checks the exact count on the chosen array.

``fuse_residual_adds`` is a program transformation, as flow/hls/epilogues.py's: the fused layer keeps the
convolution's name and kind, takes the residual as its second input and the add's output as its own, and
carries the add's multipliers and shift (attrs ``residual``). The reference executor runs it as
requantize-then-add (flow/reference/kernels.py) and dumps the codes under the dropped tensor's name, so a
fused program's run gives every tensor of the original program (``check_fused``).
"""

from flow.lower.program import Layer, Program

from .epilogues import with_layers
from .streams import conv_tiles
from .tensor_layout import plan_layouts


def residual_iterations(second_word: bool) -> int:
    """Iterations a pixel of a tile needs for the residual add as epilogue (conv_pe.h RES): with a second
    output word, a residual read before the write of each of the tile's two words, after the iteration that
    may write the previous pixel's second word; a tile of one word stalls a pixel of one iteration instead
    (one more iteration per pixel), so any count serves."""
    return 4 if second_word else 1


def _conv_input(program: Program, add: Layer, producers: dict, readers: dict) -> int | None:
    """Which of ``add``'s inputs (0 or 1) a fusable convolution writes, or None."""
    for k, t in enumerate(add.inputs):
        conv = producers.get(t)
        if (conv is not None and conv.kind in ("conv", "linear") and not conv.attrs.get("tokens_out")
                and not conv.attrs.get("split")
                and "epilogue" not in conv.attrs and "residual" not in conv.attrs
                and t not in program.outputs and len(readers[t]) == 1 and add.inputs[1 - k] != t):
            return k
    return None


def _fits(conv: Layer, layouts: dict, residual: str, out: str) -> bool:
    x, y, r, o = (layouts[t] for t in (conv.inputs[0], conv.outputs[0], residual, out))
    if not (y.shape, y.eb, y.segments) == (o.shape, o.eb, o.segments) == (r.shape, r.eb, r.segments):
        return False  # the residual, the codes and the output in one layout: one address offset apart
    taps = conv.attrs["kernel"][0] * conv.attrs["kernel"][1] if conv.kind == "conv" else 1
    least = min(nw for tw in (1, 2) for _, nw in conv_tiles(conv, x, y, tw))
    return least * taps >= residual_iterations(y.words_per_pixel >= 2)  # conservative: as if every tile had two words


def fuse_residual_adds(program: Program, lanes: int) -> Program:
    """``program`` with every fusable (convolution, add) pair as one layer, for words of ``lanes`` bytes;
    the program itself if none fuses."""
    layouts = plan_layouts(program, lanes)
    producers = {t: l for l in program.layers for t in l.outputs}
    readers = {}
    for layer in program.layers:
        for t in layer.inputs:
            readers.setdefault(t, []).append(layer)
    fused, dropped = {}, set()
    for add in program.layers:
        if add.kind != "add":
            continue
        k = _conv_input(program, add, producers, readers)
        if k is None:
            continue
        t, residual = add.inputs[k], add.inputs[1 - k]
        conv = producers[t]
        if conv.name in fused or not _fits(conv, layouts, residual, add.outputs[0]):
            continue
        m = [int(v) for v in add.blobs["mult"]]
        res = {"layer": add.name, "tensor": t, "code_range": list(program.tensors[t].range),
               "mult_conv": m[k], "mult_res": m[1 - k], "shift": int(add.attrs["shift"])}
        fused[conv.name] = Layer(conv.name, conv.kind, [conv.inputs[0], residual], list(add.outputs),
                                 dict(conv.attrs, residual=res), dict(conv.blobs), conv.ranges,
                                 list(conv.source) + list(add.source), dict(conv.dumps, residual_codes=t))
        dropped.add(t)
    if not fused:
        return program
    # the fused layer runs where the add ran: its residual is written by then
    placed = {f.attrs["residual"]["layer"]: f for f in fused.values()}
    layers = [placed.get(l.name, l) for l in program.layers if l.name not in fused]
    return with_layers(program, layers, dropped, fused_residual_adds=len(fused))


def residual_adds(program: Program) -> int:
    """Layers with a residual add as epilogue (the engines' RES parameter is 1 when there is any)."""
    return sum("residual" in l.attrs for l in program.layers)
