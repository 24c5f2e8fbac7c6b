"""An accelerator configuration fitted to a program: the parallelism chosen, the buffers sized for what the
program needs (weight words per PE row, depthwise kernel side and line-buffer row, table entries, head
dimension, LayerNorm shifts, fused epilogue tables, on-chip activation words), and the engines it needs
built."""

import math

from flow.estimate.counts import dw_stream
from flow.estimate.latencies import latencies
from flow.hls.concat_in_place import output_elements
from flow.hls.epilogues import epilogue_entries, fused_as
from flow.hls.residual_epilogues import residual_adds
from flow.hls.memory_plan import plan_memory
from flow.hls.project import HwConfig, attention_packs
from flow.hls.streams import conv_tiles, tile_words
from flow.hls.tensor_layout import plan_layouts
from flow.hls.token_ops import TRANSFORMER_OPS, matmul_depth

UNBOUNDED = 1 << 40


def _pow2(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(n, 1))))


def fitted_config(program, acc_bits: int = 32, lanes: int = 16, att_rows: int = 4, att_dividers: int = 1,
                  capacity: int | None = None, beat_bytes: int = 16, act_uram: int = 0, pe_rows: int | None = None,
                  pe_cols: int | None = None, dw_lanes: int | None = None, mm_rows: int = 4,
                  tln_div: int = 4, dw_engine: bool | None = None, att_engine: bool | None = None) -> HwConfig:
    """A HwConfig for ``program`` with L = ``lanes`` (the PE array and depthwise lanes as wide as the word
    unless given); the activation memory holds the plan's high-water mark within ``capacity`` words (None:
    unbounded, every tensor on chip). The depthwise and linear-attention engines are built when the program
    has such layers, unless ``dw_engine`` / ``att_engine`` say otherwise. The buffers also fit the project's
    co-simulation program (flow/hls/cosim.py), which runs a layer on every engine built. The accumulators are
    as wide as the two programs' range analyses need (ACC_BITS), ``acc_bits`` at most."""
    from flow.hls.cosim import cosim_program

    exact = any(l.attrs.get("divisor", "exact") == "exact" for l in program.layers if l.kind == "linear_attention")
    att_dividers = att_dividers if exact else 0
    cosim_dividers = att_dividers  # the co-simulation program's attention: exact or shift-only, as the program's
    # the depthwise and linear-attention engines are built for a program that has such layers (a DeiT has none)
    dw_engine = int(any(l.kind == "dwconv" for l in program.layers) if dw_engine is None else dw_engine)
    att_engine = int(any(l.kind == "linear_attention" for l in program.layers) if att_engine is None else att_engine)
    wdepth, dw_k, entries, sh_words, dims = 1, 1, 2, 1, [1]
    att_pack = True  # every attention layer's products pack two per DSP (the program's and the co-simulation's)
    dw_cols = latencies()["lbuf_distance"]  # the shortest row the depthwise engine streams
    act_words = 1
    tw = tile_words(pe_rows or lanes, lanes)  # output words per PE array tile: the tiles' input words
    tf_ops = []  # the transformer engines' operations in the program and in the co-simulation program
    progs, tokens = [program], False
    for prog in progs:  # the program, then the co-simulation program (appended once the program's plan is known)
        layouts = plan_layouts(prog, lanes)
        for layer in prog.layers:
            a, b = layer.attrs, layer.blobs
            lin, lout = layouts[layer.inputs[0]], layouts[layer.outputs[0]]
            if layer.kind in ("conv", "linear"):
                k = 1 if layer.kind == "linear" else a["kernel"][0] * a["kernel"][1]
                # a tile of one output word or of two (the search may double the PE rows): its input words
                wdepth = max(wdepth, k * max(nw for t in (1, 2) for _, nw in conv_tiles(layer, lin, lout, t)))
            elif layer.kind == "dwconv":
                dw_k = max(dw_k, *a["kernel"])
            elif layer.kind in ("hardswish", "relu"):
                entries = max(entries, b["table"].shape[-1])
            elif layer.kind == "concat" and not a.get("in_place"):  # in place: no engine loads its tables
                entries = max(entries, b["table0"].shape[-1], b["table1"].shape[-1])
            elif layer.kind == "layernorm" and "in_shift" in b:
                sh_words = max(sh_words, math.ceil(a["features"] / lanes))
            elif layer.kind == "linear_attention":
                dims.append(a["dim"])
                att_pack = att_pack and attention_packs(prog, layer)
                entries = max(entries, b["q_table"].shape[-1], b["k_table"].shape[-1], b.get("den_exp", b["q_table"]).shape[-1])
                lanes_io = min(lanes // lin.eb, lanes // lout.eb)
                att_rows = min(att_rows, lanes_io)
                att_dividers = min(att_dividers, lanes // lout.eb)  # an output word's lanes take whole steps
        plan = plan_memory(prog, lanes, capacity or UNBOUNDED, beat_bytes, tw)
        act_words = max(act_words, plan.act_words)
        for op in plan.ops:  # the depthwise line buffer: the longest row streamed (row stripes stream whole rows)
            if op.kind == "dwconv":
                _, cols, sub = dw_stream(op.fields)
                dw_cols = max(dw_cols, cols * sub)
        if prog is program:  # the transformer engines are built: the co-simulation runs its token branch too
            tokens = any(op.kind in TRANSFORMER_OPS for op in plan.ops)
            progs.append(cosim_program(cosim_dividers, acc_bits, tokens, bool(dw_engine), bool(att_engine))[0])
        if prog is program or tokens:
            tf_ops += plan.ops
    # the accumulators as wide as the range analysis proves they must be (FINN's accumulator minimization):
    # the program's and the co-simulation program's need, within the configured width
    need = max(p.meta.get("ranges", {}).get("acc_bits_needed", acc_bits) for p in progs)
    acc_bits = need if need <= acc_bits else acc_bits  # a program that needs more is refused by check_fits
    d_max = _pow2(max(dims))
    att_pack = int(att_pack and att_engine and d_max >= 2)
    epi = epilogue_entries(program)
    # residual adds as the PE array's epilogue when the program fused any; the add engine is built while an
    # add is left, in the program or in the co-simulation program as the design fuses it
    res = int(residual_adds(program) > 0)
    cosim_runs = fused_as(progs[-1], _pow2(epi) if epi else 0, res, lanes)
    add_engine = int(any(l.kind == "add" for p in (program, cosim_runs) for l in p.layers))
    # the concat unit while a concatenation is left a copy (flow/hls/concat_in_place.py); the largest
    # concatenation in place, so that as_configured places the same ones (the search weighs fewer too)
    concat_engine = int(any(l.kind == "concat" and not l.attrs.get("in_place") for p in (program, cosim_runs)
                            for l in p.layers))
    in_place = max((output_elements(program, l) for l in program.layers
                    if l.kind == "concat" and l.attrs.get("in_place")), default=0)
    return HwConfig(lanes=lanes, pe_rows=pe_rows or lanes, pe_cols=pe_cols or lanes, dw_lanes=dw_lanes or lanes,
                    wdepth=wdepth, dw_k=dw_k, dw_cols=dw_cols, tab_entries=_pow2(entries), sh_words=sh_words,
                    att_d_max=d_max, att_rows=min(att_rows, d_max), att_dividers=att_dividers,
                    acc_bits=acc_bits, act_words=act_words, beat_bytes=beat_bytes, act_uram=act_uram,
                    epi_entries=_pow2(epi) if epi else 0, dw_engine=dw_engine, att_engine=att_engine,
                    att_pack=att_pack, res=res, add_engine=add_engine, concat_engine=concat_engine,
                    in_place_elements=in_place,
                    **transformer_fit(tf_ops, lanes, mm_rows, tln_div))


def transformer_fit(plan_ops: list, lanes: int, mm_rows: int, tln_div: int) -> dict:
    """The softmax transformer's engine parameters (vitflow/transformer.h) for the memory plans' operations
    ``plan_ops``: {} when they have none (the engines are not built); MM_ROWS and TLN_DIV as asked, within
    the word."""
    ops = [op for op in plan_ops if op.kind in TRANSFORMER_OPS]
    if not ops:
        return {}
    rows, div = max(2, min(mm_rows, lanes)), max(1, min(tln_div, lanes))

    def most(kind, key, default=1):
        return max((op.fields[key] for op in ops if op.kind == kind), default=default)

    def depth(mode):
        return max([matmul_depth(op.fields, lanes, rows) for op in ops
                    if op.kind == "matmul" and op.fields["MODE"] == mode] or [1])

    c = most("token_layernorm", "C", div)
    return {"tf": 1, "mm_rows": rows, "tln_div": div, "sm_rows": most("softmax", "ROWS"),
            "sm_entries": _pow2(most("softmax", "ENTRIES", 2)), "tln_tokens": most("token_layernorm", "TOKENS"),
            "tln_c": -(-c // div) * div,
            "mm_depth": depth(0), "mmv_depth": depth(1)}
