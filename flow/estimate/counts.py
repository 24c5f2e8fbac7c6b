"""What each operation of a memory plan does on the accelerator, in closed form: pipelined iterations,
II x iterations (cycles), loop executions (entries) and their pipeline fill, and the beats and bursts of
each AXI port. The C-simulation's audit counts the same while the templates run (vitflow/audit.h), and
`flow build` requires every layer's counts equal: this module mirrors the loops of
hls_templates/vitflow/*.h, one function per engine.
"""

from flow.hls.image import split_streams, weight_ports
from flow.hls.layout import DESC_WORDS
from flow.hls.streams import PAIRED

from .latencies import latencies

PORTS = ("desc", "wgt", "act", "wgt2", "wgt3")  # wgt2, wgt3: the PE array's stream at L >= 2 BEAT (dma.h)
PARAM_WORDS = 12
# the token LayerNorm's square root on 44 bits (token_layernorm.h SQRT_STEPS): its variance is < 2^43
TLN_SQRT_STEPS = 22


def _ceil(a, b):
    return -(-a // b)


class Counts:
    __slots__ = ("iterations", "cycles", "entries", "fill", "descriptors", "beats", "bursts")

    def __init__(self):
        self.iterations = self.cycles = self.entries = self.fill = self.descriptors = 0
        self.beats = dict.fromkeys(PORTS, 0)
        self.bursts = dict.fromkeys(PORTS, 0)

    def loop(self, n: int, depth: int, ii: int = 1, port: str | None = None, beats: int = 0) -> None:
        """One execution of a pipelined loop of n iterations (nothing when n is 0)."""
        if n <= 0:
            return
        self.iterations += n
        self.cycles += ii * n
        self.entries += 1
        self.fill += depth
        if port:
            self.beats[port] += beats
            self.bursts[port] += 1

    def add(self, other: "Counts") -> None:
        for k in ("iterations", "cycles", "entries", "fill", "descriptors"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for p in PORTS:
            self.beats[p] += other.beats[p]
            self.bursts[p] += other.bursts[p]

    def as_dict(self) -> dict:
        return {"iterations": self.iterations, "cycles": self.cycles, "entries": self.entries, "fill": self.fill,
                "descriptors": self.descriptors, "beats": dict(self.beats), "bursts": dict(self.bursts)}


def run(c: Counts, lat: dict, loop: str, n: int, port: str | None = None, beats: int = 0) -> None:
    """One execution of the template loop labelled ``loop``, n iterations, at its depth and II in ``lat``
    (latencies(): the templates' own declarations, or a lab run's measured ones)."""
    depth, ii = lat["loops"][loop]
    c.loop(n, depth, ii, port, beats)


def op_parts(op, plan, cfg, lat: dict | None = None) -> tuple:
    """(descriptor fetch, weight stream loader, engine) counts of one operation (descriptor) of ``plan`` on
    an accelerator ``cfg``; ``lat``: latencies() by default."""
    lat = lat or latencies()
    desc, stream, engine = Counts(), Counts(), Counts()
    per = plan.lanes // plan.beat_bytes          # beats per word
    desc_beats = DESC_WORDS * 4 // plan.beat_bytes
    desc.descriptors = 1
    run(desc, lat, "desc_fetch", desc_beats, port="desc", beats=desc_beats)
    words = op.fields.get("W_WORDS", 0) if op.stream else 0
    if op.kind in PAIRED:  # the PE array's: two words an iteration over 2 or 4 ports (dma.h stream_pairs)
        ports = weight_ports(plan.lanes, plan.beat_bytes)
        its = words // 2 * (2 * per // ports)
        run(stream, lat, "stream_pairs", its, port="wgt", beats=its)
        for p in ("desc", "wgt2", "wgt3")[:ports - 1]:
            if its:
                stream.beats[p] += its
                stream.bursts[p] += 1
    else:
        ports = 2 if split_streams(plan) else 1  # half of each word on the descriptor port (dma.h)
        run(stream, lat, "stream_load", words * per // ports, port="wgt", beats=words * per // ports)
        if ports == 2 and words:
            stream.beats["desc"] += words * per // 2
            stream.bursts["desc"] += 1
    ENGINES[op.kind](engine, op, plan, cfg, lat)
    return desc, stream, engine


def op_counts(op, plan, cfg, lat: dict | None = None) -> Counts:
    """All the counts of one operation, as the audit sums them."""
    total = Counts()
    for part in op_parts(op, plan, cfg, lat):
        total.add(part)
    return total


def _conv(c, op, plan, cfg, lat):
    f = op.fields
    tw = plan.tile_words  # output words per tile (conv_pe.h TW)
    assert tw == cfg.tile_words, f"a plan of {tw}-word tiles timed on a {cfg.pe_rows}-row PE array"
    rows = tw * (plan.lanes // f["EB_OUT"])
    passes, splits = _ceil(rows, cfg.pe_rows), _ceil(plan.lanes, cfg.pe_cols)  # byte lanes (conv_pe.h)
    taps = f["KH"] * f["KW"]
    pixels = (f["ROW_END"] - f["ROW_BEGIN"]) * f["W_OUT"]
    tiles = [nw for _, nw in op.tiles]
    if f.get("KSPLIT") and tw > 1 and f["EB_OUT"] == 1:  # the last tile's input words in pairs (conv_pe.h)
        tiles[-1] //= 2
    run(c, lat, "table_load", f.get("EPI_ENTRIES", 0))  # the epilogue table's load (epilogue.h)
    for t in range(-1, len(tiles)):
        compute = 0
        if t >= 0:
            per_pixel = passes * tiles[t] * taps * splits
            # a second output word (the tile's, if the layer has it) is written an iteration after the
            # first, and one more iteration follows the last pixel; but a pixel of one iteration writes
            # both at once (write_pair). A residual add's pixel of one iteration takes two
            second = tw > 1 and t * tw + 1 < f["TILES"]
            stall = bool(f.get("RES")) and per_pixel == 1  # a residual word to read first
            # ... or, in pixel pairs (two banks, one word a pixel, even pixels), a pair's residual words read
            # together a pair ahead and its outputs written together: one more iteration before and after
            pairs = tw > 1 and stall and not second and f["CW_OUT"] == 1 and pixels % 2 == 0
            # pixel pairs (PPAIR): two pixels an iteration over the two halves of rows
            px = pixels // 2 if f.get("PPAIR") and tw > 1 and f["EB_OUT"] == 1 and not second else pixels
            compute = pixels + 2 if pairs else px * (per_pixel + stall) + (second and per_pixel > 1)
        load = (tw * PARAM_WORDS + rows * tiles[t + 1] * taps) // 2 if t + 1 < len(tiles) else 0  # pairs
        run(c, lat, "conv_tile", max(compute, load))


def _sub(f) -> int:
    return 2 if f["EB_IN0"] > f["EB_OUT"] else 1


def dw_stream(f) -> tuple:
    """(input rows, columns per row, input words per column) the depthwise engine streams for one tile of
    a descriptor with fields ``f`` (dwconv.h): the padded window span, a row at least the line buffer's
    dependence distance long in words (VITFLOW_LBUF_DISTANCE)."""
    sub = _sub(f)
    cols = (f["W_OUT"] - 1) * f["SW"] + f["KW"]
    in_rows = (f["ROW_END"] - f["ROW_BEGIN"] - 1) * f["SH"] + f["KH"]
    return in_rows, max(cols, _ceil(latencies()["lbuf_distance"], sub)), sub


def _dwconv(c, op, plan, cfg, lat):
    f = op.fields
    in_rows, cols, sub = dw_stream(f)
    pixels = (f["ROW_END"] - f["ROW_BEGIN"]) * f["W_OUT"]
    side = max(f["KH"], f["KW"])  # the filter's folds of dw_taps window positions (dwconv.h)
    passes = _ceil(plan.lanes // f["EB_OUT"], cfg.dw_lanes) * _ceil(side * side, cfg.dw_multipliers)
    units = 2 if f.get("DW_PAIR") and cfg.dw_pairs else 1  # output words a tile: a pair's stream walked once
    tiles = f["TILES"] // units
    run(c, lat, "table_load", f.get("EPI_ENTRIES", 0))  # the epilogue table's load (epilogue.h)
    for t in range(-1, tiles):
        compute = in_rows * cols * sub + pixels * (units * passes - 1) if t >= 0 else 0
        load = units * (PARAM_WORDS + f["KH"] * f["KW"]) if t + 1 < tiles else 0
        run(c, lat, "dw_tile", max(compute, load))


def _lut(c, op, plan, cfg, lat):
    f = op.fields
    if not f["PER_CHANNEL"]:
        run(c, lat, "table_load", f["ENTRIES"])
        run(c, lat, "lut_map", f["PIXELS"] * f["CW_OUT"] * _sub(f))
        return
    tiles = f["CW_OUT"]
    for t in range(-1, tiles):
        compute = f["PIXELS"] * _sub(f) if t >= 0 else 0
        load = f["ENTRIES"] if t + 1 < tiles else 0
        run(c, lat, "lut_rows", max(compute, load))


def _add(c, op, plan, cfg, lat):
    run(c, lat, "add", op.fields["WORDS"])


def _concat(c, op, plan, cfg, lat):
    f = op.fields
    run(c, lat, "table_load", f["ENTRIES0"])  # the two tables (epilogue.h's load_table, each)
    run(c, lat, "table_load", f["ENTRIES1"])
    run(c, lat, "concat_map", f["PIXELS"] * (f["CW_A"] + f["CW_B"]))


def _gap(c, op, plan, cfg, lat):
    f = op.fields
    run(c, lat, "gap", f["CW_IN"] * f["PIXELS"] + (f["CW_IN"] - 1) * f["DIV"] + f["DIV_LAST"])


def _layernorm(c, op, plan, cfg, lat):
    f = op.fields
    run(c, lat, "ln_shifts", f["SH_WORDS"])
    run(c, lat, "ln_sum", f["C"])
    run(c, lat, "ln_var", f["C"])
    run(c, lat, "ln_sqrt", 32)
    run(c, lat, "ln_out", f["C"])


def attention_shape(f, cfg) -> tuple:
    """(row steps, output steps per token) of an attention layer on ``cfg``."""
    rows, dividers = cfg.att_rows, cfg.att_dividers
    outs = rows if (dividers == 0 or f["EXP_ENTRIES"] > 0) else dividers
    return _ceil(f["D"], rows), _ceil(f["D"], outs)


def _attention(c, op, plan, cfg, lat):
    f = op.fields
    steps, outs = attention_shape(f, cfg)
    lanes_out, block = plan.lanes // f["EB_OUT"], f["OUT_BLOCK_LANES"]
    run(c, lat, "att_load", 2 * f["ENTRIES"] + f["EXP_ENTRIES"])
    obl = 0  # the group's first output lane (dense outputs: groups share words)
    for _ in range(f["G"]):
        run(c, lat, "att_kv", f["N"] * steps * f["WS_IN"])
        run(c, lat, "att_kv_rq", f["D"] * steps)  # a row of kv in row steps of ROWS columns
        # a token's outputs beside the next token's rows, in periods of max(row steps, output steps); one
        # output step that reads a word back takes its own iteration after the rows
        period = steps + 1 if obl > 0 and outs == 1 else max(steps, outs)
        run(c, lat, "att_out", (f["N"] + 1) * period)
        if block:
            obl = 0 if obl + block == lanes_out else obl + block


def _dma(c, op, plan, cfg, lat):
    n = op.fields["WORDS"] * (plan.lanes // plan.beat_bytes)
    run(c, lat, "dma_load" if op.kind == "load" else "dma_store", n, port="act", beats=n)


def _add_const(c, op, plan, cfg, lat):
    run(c, lat, "add_const", op.fields["WORDS"])


def _softmax(c, op, plan, cfg, lat):
    f = op.fields
    c.add(softmax_unit_counts(f["ROWS"], f["N"], plan.lanes, f["ENTRIES"], lat))


def _token_layernorm(c, op, plan, cfg, lat):
    f = op.fields
    c.add(token_layernorm_counts(f["TOKENS"], f["C"], plan.lanes, cfg.tln_div, lat))


def _matmul(c, op, plan, cfg, lat):
    f = op.fields
    unit = act_matmul_counts if f["MODE"] == 0 else act_matmul_nn_counts
    for _ in range(f["HEADS"]):  # head after head (transformer.h matmul_engine)
        c.add(unit(f["NA"], f["NB"], f["T"], plan.lanes, cfg.mm_rows, lat))


ENGINES = {"conv": _conv, "linear": _conv, "dwconv": _dwconv, "hardswish": _lut, "relu": _lut, "add": _add,
           "concat": _concat, "gap": _gap, "layernorm": _layernorm, "linear_attention": _attention,
           "load": _dma, "store": _dma, "gelu": _lut, "requant": _lut, "add_const": _add_const,
           "softmax": _softmax, "token_layernorm": _token_layernorm, "matmul": _matmul}


def layer_counts(plan, program, cfg, check: bool = False) -> dict:
    """Counts summed per layer (the program's input/output transfers under "io"; with ``check``, the check
    program's layer-output stores under "check"), as the C-simulation reports them."""
    out = {}
    for op in (plan.check_ops if check else plan.ops):
        key = "check" if op.role == "check" else (program.layers[op.layer].name if op.layer >= 0 else "io")
        out.setdefault(key, Counts()).add(op_counts(op, plan, cfg))
    return {k: v.as_dict() for k, v in out.items()}


def softmax_unit_counts(rows: int, n: int, lanes: int, entries: int, lat: dict | None = None) -> Counts:
    """The softmax unit's loops (hls_templates/vitflow/softmax.h) on ``rows`` rows of ``n`` codes: the exp
    table's load (``entries``), the max, sum and output passes over rows x ceil(n / lanes) words, and one
    reciprocal per row (tests/hls/test_softmax_unit.py holds them to the audit's on the unit alone)."""
    lat = lat or latencies()
    c = Counts()
    words = rows * _ceil(n, lanes)
    run(c, lat, "sm_table", entries)
    for loop in ("sm_max", "sm_sum"):
        run(c, lat, loop, words)
    run(c, lat, "sm_recip", rows)
    run(c, lat, "sm_out", words)
    return c


def token_layernorm_counts(tokens: int, ch: int, lanes: int, dividers: int, lat: dict | None = None) -> Counts:
    """The token LayerNorm unit's loops (hls_templates/vitflow/token_layernorm.h) on ``tokens`` tokens of
    ``ch`` channels: the coefficients (ch), the sum and variance passes (tokens x ch / lanes words), the
    square roots (22 steps per pair of tokens) and the output pass (tokens x ch / dividers)
    (tests/hls/test_token_layernorm_unit.py holds them to the audit's on the unit alone)."""
    lat = lat or latencies()
    c = Counts()
    run(c, lat, "tln_coef", ch)
    for loop in ("tln_sum", "tln_var"):
        run(c, lat, loop, tokens * (ch // lanes))
    run(c, lat, "tln_sqrt", _ceil(tokens, 2) * TLN_SQRT_STEPS)
    run(c, lat, "tln_out", tokens * (ch // dividers))
    return c


def act_matmul_counts(na: int, nb: int, t_len: int, lanes: int, rows: int, lat: dict | None = None) -> Counts:
    """The activation-product unit's loops (hls_templates/vitflow/act_matmul.h): B's nb rows of
    ceil(t_len / lanes) words copied into the banks, then na x ceil(nb / rows) x ceil(t_len / lanes) MAC
    iterations (tests/hls/test_act_matmul_unit.py holds them to the audit's on the unit alone)."""
    lat = lat or latencies()
    c = Counts()
    tw = _ceil(t_len, lanes)
    run(c, lat, "mm_load", nb * tw)
    run(c, lat, "mm_mac", na * _ceil(nb, rows) * tw)
    return c


def act_matmul_nn_counts(na: int, d_len: int, t_len: int, lanes: int, rows: int,
                         lat: dict | None = None) -> Counts:
    """act_matmul_nn's loops (hls_templates/vitflow/act_matmul.h: attn v with v's rows the tokens): B's
    t_len rows of ceil(d_len / lanes) words copied into the lanes banks, padded with zero rows to
    ceil(t_len / lanes) x lanes, then na x ceil(d_len / rows) x ceil(t_len / lanes) MAC iterations.
    tests/hls/test_act_matmul_unit.py holds these counts to the audit's."""
    lat = lat or latencies()
    c = Counts()
    tw = _ceil(t_len, lanes)
    run(c, lat, "mmv_load", tw * lanes * _ceil(d_len, lanes))
    run(c, lat, "mmv_mac", na * _ceil(d_len, rows) * tw)
    return c
