"""Activations as epilogues of the engine that produces their input.

A hardswish or ReLU table whose input tensor only a convolution (k x k, depthwise or linear) writes and
only the table reads runs inside that convolution's engine (hls_templates/vitflow/epilogue.h): the
engine requantizes to the table's input codes, looks each code up, and writes the table's output. The
activation's pass over the tensor (the table unit, eltwise.h) and its input tensor disappear.

``fuse_epilogues`` is a program transformation: the fused layer keeps the convolution's name and kind,
and carries the table (blob ``epilogue_table``) and the codes' range and first code (attrs ``epilogue``).
The reference executor runs it as requantize-then-lookup (flow/reference/kernels.py) and dumps the codes
under the dropped tensor's name, so a fused program's run gives every tensor of the original program
(``check_fused`` requires them equal; tests/hls/test_epilogues.py). In a build the check is stronger: the
C-simulation runs the fused accelerator against the unfused program's reference, layer by layer.
"""

import numpy as np

from flow.errors import FlowError
from flow.lower.program import Layer, Program

MAX_ENTRIES = 256  # the engines' table banks are distributed RAM: 8-bit codes (2^8 entries) at most
PRODUCERS = ("conv", "dwconv", "linear")
TABLES = ("hardswish", "relu", "gelu")


def _fusable(program: Program, layer: Layer, readers: dict) -> Layer | None:
    """The table layer ``layer``'s output feeds, when the pair fuses; else None."""
    if layer.kind not in PRODUCERS or "epilogue" in layer.attrs:
        return None
    t = layer.outputs[0]
    if t in program.outputs or len(readers.get(t, [])) != 1:
        return None
    table = readers[t][0]
    if table.kind not in TABLES:
        return None
    tab = np.asarray(table.blobs["table"])
    if (tab.ndim == 2 and tab.shape[0] > 1) or tab.shape[-1] > MAX_ENTRIES:
        return None  # a row per channel, or wider codes: the table unit runs it
    return table


def fuse_epilogues(program: Program, max_entries: int = MAX_ENTRIES) -> Program:
    """``program`` with every fusable (convolution, table) pair as one layer; the program itself if none."""
    readers = {}
    for layer in program.layers:
        for t in layer.inputs:
            readers.setdefault(t, []).append(layer)
    fused, absorbed, dropped = {}, set(), set()
    for layer in program.layers:
        table = _fusable(program, layer, readers)
        if table is None or table.blobs["table"].shape[-1] > max_entries:
            continue
        t = layer.outputs[0]
        info = program.tensors[t]
        fused[layer.name] = with_epilogue(layer, table.blobs["table"], table.kind, table.name,
                                          int(table.attrs["in_min"]), info.range, list(table.outputs),
                                          list(table.source))
        absorbed.add(table.name)
        dropped.add(t)
    if not fused:
        return program
    layers = [fused.get(l.name, l) for l in program.layers if l.name not in absorbed]
    return with_layers(program, layers, dropped, fused_epilogues=len(fused))


def with_epilogue(producer: Layer, table, kind: str, source_layer: str, in_min: int, code_range, outputs: list,
                  source: list = ()) -> Layer:
    """``producer`` with ``table`` (2^bits entries from code ``in_min``) as its epilogue, writing ``outputs``:
    its codes, in ``code_range``, looked up on their way out, and dumped under its former output's name.
    ``kind`` and ``source_layer``: the table's layer kind and name (a table unit's, or a concatenation's)."""
    table = np.asarray(table).reshape(-1)
    t = producer.outputs[0]
    epi = {"kind": kind, "layer": source_layer, "tensor": t, "in_min": int(in_min), "entries": int(table.size),
           "code_range": list(code_range)}
    return Layer(producer.name, producer.kind, list(producer.inputs), outputs, dict(producer.attrs, epilogue=epi),
                 dict(producer.blobs, epilogue_table=table), producer.ranges, list(producer.source) + list(source),
                 dict(producer.dumps, epilogue_codes=t))


def fused_activations(program: Program) -> int:
    """Layers with an activation as epilogue (the engines' tables hold it; a concatenation's rescale that a
    producer took, flow/hls/concat_in_place.py, is not one)."""
    return sum(l.attrs.get("epilogue", {}).get("kind") in TABLES for l in program.layers)


def with_layers(program: Program, layers: list, dropped: set, **meta) -> Program:
    """``program`` with ``layers`` for its own, without the tensors ``dropped``, ``meta`` added; checked."""
    tensors = {n: i for n, i in program.tensors.items() if n not in dropped}
    out = Program(program.model, list(program.inputs), list(program.outputs), tensors, layers,
                  dict(program.meta, **meta))
    out.check()
    return out


def epilogue_entries(program: Program) -> int:
    """Entries of the largest fused table (0: none): the engines' EPI parameter."""
    return max((l.attrs["epilogue"]["entries"] for l in program.layers if "epilogue" in l.attrs), default=0)


def check_fused(original: Program, fused: Program, envs: list) -> None:
    """Every tensor of ``original``'s runs (``envs``) equal in ``fused``'s run on the same inputs: the
    fusion is exact, including the codes that no longer have a tensor of their own."""
    from flow.reference.executor import run_program

    for env in envs:
        got = run_program(fused, {t: env[t] for t in fused.inputs})
        for layer in original.layers:
            for t in layer.outputs:
                if not np.array_equal(np.asarray(got[t]), np.asarray(env[t])):
                    raise FlowError(f"fusing the epilogues changed tensor '{t}' (layer {layer.name})")


def as_configured(program: Program, cfg) -> Program:
    """``program`` as an accelerator ``cfg`` runs it: its epilogues fused when cfg has the engines' tables
    (EPI_ENTRIES > 0, the design-space exploration's choice), its concatenations of at most
    IN_PLACE_ELEMENTS output elements done in place (the search's choice; 0: none;
    flow/hls/concat_in_place.py, a rescaled input's table as an epilogue when cfg has the tables), then its
    residual adds when cfg has them (RES = 1, flow/hls/residual_epilogues.py); else unchanged."""
    return fused_as(program, cfg.epi_entries, cfg.res, cfg.lanes, cfg.in_place_elements)


def fused_as(program: Program, epi_entries: int, res: int, lanes: int, in_place: int | None = None) -> Program:
    """``program`` with its epilogues fused when ``epi_entries`` > 0, its concatenations of at most
    ``in_place`` output elements in place (None: all that can be; 0: none), then its residual adds when
    ``res``."""
    from .concat_in_place import place_concats
    from .residual_epilogues import fuse_residual_adds

    program = fuse_epilogues(program, epi_entries) if epi_entries else program
    program = place_concats(program, epi_entries, in_place) if in_place != 0 else program
    return fuse_residual_adds(program, lanes) if res else program
