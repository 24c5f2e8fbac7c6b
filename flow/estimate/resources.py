"""Resource model of the accelerator (flow.hls.project.HwConfig), unit by unit: an estimate before any
synthesis, to +-30% on LUTs and FFs; the DSP and memory counts follow from the templates' structure.

DSP48: one per packed pair of the conv PE array's products (two int8 weights times one 9-bit operand,
hls_templates/vitflow/dsp_pack.h) and of the linear attention's when it packs (HwConfig.att_pack), one per
multiplier of the other MAC units (int8 or table codes by int8 or int16 codes fit one 27 x 18 multiplier);
per requantization unit of an accumulator (acc x mult, mult an int32 below 2^31) two when the accumulator
has at most 27 bits (ACC_BITS, fitted to the range analysis' need: the A port takes it, the multiplier
splits into 17 low bits and 15 high ones over two DSPs cascaded through the 17-bit shift of PCIN, UG579)
and four above (2 x 2 tiles), the pool's requantizer among them; four per LayerNorm product; two per
product of the attention's numerator (17 x 32 bits); the add unit's lane products (a 17-bit code times a
multiplier below 2^24: one DSP) one each, shared by the II = 2 loop's two cycles (Vitis binds an II = 2
pipeline's operators to be used twice); the conv PE array's residual add (HwConfig.res, conv_pe.h RES)
has both products of each of L lanes in the cycle that writes: two each. The add unit is not built when
every add runs as a convolution's epilogue.
Memory, per buffer of the templates: block RAM (BRAM18, the best of its aspect ratios 16K x 1 .. 512 x 36)
for anything of 4 Kib or more, distributed RAM (LUTs) below; the activation memory in UltraRAM (4K x 72)
where the part has it and it holds more.
LUT/FF: per-unit figures typical of Vitis HLS results for such units (a MAC with its share of the adder
tree and accumulator, a packed DSP's product split (wiring and an inverter), a requantizer, a 64-bit
pipelined divider, a lane of a table or element unit, an AXI master, control).
"""

import math

from flow.hls.image import axi_masters

BRAM18_SHAPES = [(1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512)]
URAM_SHAPE = (72, 4096)
LUTRAM_BELOW = 4096      # bits: smaller buffers go to distributed RAM
LUT_PER_LUTRAM_BIT = 1 / 32  # a dual-port 64 x 1 RAM (RAM64X1D) is two LUTs
DSP_PER_REQUANT = 4  # a requantizer of a wide operand (the LayerNorm's), or of an accumulator above 27 bits
LUT = {"mac": 30, "packed": 1, "requant": 320, "divider": 4500, "qdiv": 1100, "qdiv16": 2300, "lane": 60,
       "axi_port": 1800, "control": 6000, "engine": 900}
FF = {"mac": 40, "packed": 0, "requant": 400, "divider": 6000, "qdiv": 700, "qdiv16": 1300, "lane": 80,
      "axi_port": 2500, "control": 6000, "engine": 1100}
# requant.h's ClampedDiv with a 48-bit divisor: QB compare-subtract stages of 49 + QB bits (about 2 LUTs a bit
# with the select), the 68-bit numerator's shift-add and two range compares; a register per stage. "qdiv":
# 8 quotient bits (the token LayerNorm's byte outputs), "qdiv16": 16 (the linear attention's outputs).
# Its divisor's two products (lo E, (hi - lo + 1) E: two DSPs each) are shared by the lanes.
DSP_PER_QDIV_DIVISOR = 4
LUT_PER_DECODER = 12  # a 16-bit operand picked from 8-bit or 16-bit lanes, sign- or zero-extended
BRAM18_PER_AXI_PORT = 4  # the read/write burst buffers of an m_axi adapter at 256-beat bursts
ENGINES = 8
KINDS = ("dsp", "bram18", "uram", "lut", "ff")  # the resource kinds a design is held to (part files' names)


def axi_ports(cfg) -> int:
    """The top's AXI masters (flow/hls/image.py axi_masters)."""
    return axi_masters(cfg.lanes, cfg.beat_bytes)


def bram18(width: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth memory (one port pair)."""
    if width * depth == 0:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_SHAPES)


def uram(width: int, depth: int) -> int:
    return math.ceil(width / URAM_SHAPE[0]) * math.ceil(depth / URAM_SHAPE[1])


def memory(width: int, depth: int, copies: int = 1) -> dict:
    """BRAM18 or LUTs of ``copies`` banks of width x depth bits."""
    if width * depth < LUTRAM_BELOW:
        return {"bram18": 0, "lut": copies * math.ceil(width * depth * LUT_PER_LUTRAM_BIT)}
    return {"bram18": copies * bram18(width, depth), "lut": 0}


def buffers(cfg) -> dict:
    """Every on-chip buffer of the templates but the activation memory: name -> {"bram18", "lut"}."""
    w = 8 * cfg.lanes
    return {
        # conv_pe.h wbuf: a bank per PE row, each two tiles' passes (TW L / ROWS of them) x WDEPTH words deep
        "weight rows": memory(w, 2 * max(1, cfg.lanes // cfg.pe_rows) * cfg.wdepth, cfg.pe_rows),
        "depthwise line buffer": memory(w, cfg.dw_cols, cfg.dw_k * cfg.dw_engine),  # dwconv.h lbuf
        # dwconv.h lbuf2: a tile pair's second word (PAIRS: the activation memory's two banks)
        "depthwise pair line buffer": memory(w, cfg.dw_cols, cfg.dw_k * cfg.dw_engine * cfg.dw_pairs),
        "tables": memory(16, 2 * cfg.tab_entries, cfg.lanes),                       # eltwise.h tab
        "concat tables": memory(16, cfg.tab_entries, 2 * cfg.lanes * cfg.concat_engine),  # eltwise.h tab0, tab1
        "attention tables": memory(16, cfg.tab_entries, 2 * cfg.att_rows * cfg.att_engine),  # qtab, ktab
        "exponents": memory(8, cfg.tab_entries, cfg.att_engine),                    # linear_attention.h etab
        "layernorm shifts": memory(w, cfg.sh_words),                                # layernorm.h shbuf
        "weight fifo": memory(w, cfg.fifo_depth),
        "PE array's weight fifo": memory(2 * w, cfg.fifo_depth),  # pairs of words (dma.h stream_pairs)
        # epilogue.h etab: a bank per PE row and depthwise lane, single-port distributed RAM (64 x 1 per LUT)
        "epilogue tables": {"bram18": 0, "lut": (cfg.pe_rows + cfg.dw_lanes * cfg.dw_engine)
                            * math.ceil(16 * cfg.epi_entries / 64)},
        "axi ports": {"bram18": axi_ports(cfg) * BRAM18_PER_AXI_PORT, "lut": 0},
    }


# The templates' runtime-indexed reads of the activation memory per engine function: each is a read site
# that a memory of two banks follows with a word-wide 2:1 multiplexer (tests/estimate/test_act_read_sites.py
# counts them in the templates, a helper's read once per call)
ACT_READ_SITES = {"conv_engine": 2, "lut_engine": 2, "gap_engine": 1, "layernorm_engine": 3, "dma_store": 1,
                  "concat_engine": 1, "dwconv_engine": 1, "linear_attention_engine": 5, "add_engine": 2,
                  "act_matmul": 2, "act_matmul_nn": 2, "softmax_rows": 3, "token_layernorm": 3,
                  "add_const_engine": 1}
# the HwConfig flag that builds an engine (the others are always built)
ENGINE_FLAG = {"concat_engine": "concat_engine", "dwconv_engine": "dw_engine", "linear_attention_engine": "att_engine",
               "add_engine": "add_engine", "act_matmul": "tf", "act_matmul_nn": "tf", "softmax_rows": "tf",
               "token_layernorm": "tf", "add_const_engine": "tf"}


def act_read_sites(cfg) -> int:
    """The runtime-indexed reads of the activation memory in the engines ``cfg`` builds."""
    return sum(n for f, n in ACT_READ_SITES.items() if f not in ENGINE_FLAG or getattr(cfg, ENGINE_FLAG[f]))


def activation_memory(cfg) -> dict:
    """The activation memory: one bank, or two (even and odd words) when the PE array writes two-word tiles
    (conv_pe.h, word.h write_pair). Two banks put a 2:1 multiplexer of a word after every runtime-indexed
    read (a LUT6 selects two bits)."""
    w, banks = 8 * cfg.lanes, cfg.tile_words
    depth = math.ceil(cfg.act_words / banks)
    mux = (banks - 1) * act_read_sites(cfg) * math.ceil(w / 2)
    if cfg.act_uram:
        return {"bram18": 0, "uram": banks * uram(w, depth), "lut": mux}
    mem = memory(w, depth, banks)
    return {"bram18": mem["bram18"], "lut": mem["lut"] + mux, "uram": 0}


def dsp_per_requant(acc_bits: int) -> int:
    """DSPs of one requantizer of an ACC_BITS-bit accumulator (acc x an int32 multiplier)."""
    return 2 if acc_bits <= 27 else 4


def units(cfg) -> dict:
    L, d = cfg.lanes, cfg.att_d_max
    dw_lanes = cfg.dw_lanes if cfg.dw_engine else 0  # an engine not built (HwConfig.dw_engine, att_engine)
    rows, att = (cfg.att_rows, 1) if cfg.att_engine else (0, 0)
    att_outs = max(cfg.att_dividers, rows) if att else 0
    return {
        # products of the PE array, the depthwise window (lanes x taps), attention loops 1 (rows x a word
        # of v) and 3 (rows x D_MAX, and ksum)
        "mac": cfg.pe_rows * cfg.pe_cols + dw_lanes * cfg.dw_multipliers + rows * min(d, L) + rows * (d + 1),
        # products that share a DSP with another (each saves one): the PE array's, and with ATT_PACK the
        # attention's rows x a word of v (loop 1) and rows x D_MAX of q kv (loop 3; q ksum is not packed)
        "packed": cfg.pe_rows // 2 * cfg.pe_cols + att * cfg.att_pack * rows * (min(d, L) + d) // 2,
        # requantizers of accumulators: the PE rows, depthwise lanes, the attention's kv (a row's rows columns
        # per cycle), ksum, den and num, the pool
        "requant": cfg.pe_rows + dw_lanes + att * (rows + 2) + att_outs + 1,
        "requant_wide": 1,                        # the LayerNorm's
        "att_numer": att_outs,                    # the attention's 2 num ATT_MULT: 17 x 32 bits, two DSPs each
        "add_lane": L * cfg.add_engine,           # two 17 x 24-bit products each, shared over the II = 2 cycles
        "res_lane": L * cfg.res,                  # the PE array's residual add: two such products each, every write
        "divider": 1 + 1,                         # gap, layernorm: 64-bit dividers
        "qdiv16": cfg.att_dividers * att,         # the attention's exact dividers (ClampedDiv<16, 48>)
        "lane": (2 + cfg.dw_engine + cfg.concat_engine) * L,  # lane muxes of the depthwise, table, add, concat units
        "engine": ENGINES - (1 - cfg.dw_engine) - (1 - cfg.att_engine) - (1 - cfg.add_engine)
                  - (1 - cfg.concat_engine),  # their control
    }


def estimate_resources(cfg) -> dict:
    u = units(cfg)
    dsp = (u["mac"] - u["packed"] + dsp_per_requant(cfg.acc_bits) * u["requant"]
           + DSP_PER_REQUANT * u["requant_wide"] + 2 * u["att_numer"] + u["add_lane"] + 2 * u["res_lane"]
           + 3 * 4  # the LayerNorm's 3
           + (DSP_PER_QDIV_DIVISOR if u["qdiv16"] else 0))
    lut = (LUT["mac"] * u["mac"] + LUT["packed"] * u["packed"] + LUT["requant"] * (u["requant"] + u["requant_wide"])
           + LUT["divider"] * u["divider"] + LUT["qdiv16"] * u["qdiv16"]
           + LUT["lane"] * (u["lane"] + u["add_lane"] + u["res_lane"]) + LUT["axi_port"] * axi_ports(cfg)
           + LUT["control"]
           + LUT["engine"] * u["engine"])
    ff = (FF["mac"] * u["mac"] + FF["packed"] * u["packed"] + FF["requant"] * (u["requant"] + u["requant_wide"])
          + FF["divider"] * u["divider"] + FF["qdiv16"] * u["qdiv16"]
          + FF["lane"] * (u["lane"] + u["add_lane"] + u["res_lane"]) + FF["axi_port"] * axi_ports(cfg)
          + FF["control"]
          + FF["engine"] * u["engine"])
    # the depthwise engine's registers: two K x K windows and two K x K filter sets of L-byte words; the
    # selection of the window's new column from the K rotating line-buffer banks (K - 1 K:1 multiplexers of
    # a word: a LUT6 selects 4 inputs); the decoding of each product's operand
    if cfg.dw_engine:
        window_bits = 2 * cfg.dw_k ** 2 * 8 * cfg.lanes
        ff += 2 * window_bits
        lut += (cfg.dw_k - 1) * 8 * cfg.lanes * math.ceil(cfg.dw_k / 4)
        lut += LUT_PER_DECODER * cfg.dw_lanes * cfg.dw_k ** 2  # each product's operand: width, sign and lane pick
        # with folds, each multiplier's operands (a 17-bit code, an 8-bit weight) chosen among its positions
        folds = math.ceil(cfg.dw_k ** 2 / cfg.dw_multipliers)
        lut += cfg.dw_lanes * cfg.dw_multipliers * 25 * math.ceil((folds - 1) / 3)
        ff += cfg.dw_lanes * cfg.acc_bits * (folds > 1)  # the folds' partial sums
        if cfg.dw_pairs:  # inside the built engine's branch
            # a pair's second word: its two filter sets and its parameters (this tile's and the next's, 3 x
            # 32 bits a lane); each product's operands (a 16-bit code, an 8-bit weight) and each lane's
            # parameters chosen between the pair's two words (2:1 multiplexers, two bits per LUT6), and the
            # pair's read (word.h read_pair): each of its two words chosen from the two banks
            ff += window_bits + 2 * 3 * 32 * cfg.lanes
            lut += (cfg.dw_lanes * cfg.dw_multipliers * (16 + 8) // 2 + cfg.dw_lanes * 3 * 32 // 2
                    + 2 * 8 * cfg.lanes // 2)
    if cfg.res and cfg.tile_words == 2:  # conv_pe.h's residual pixel pairs: a pair's two summed words held, and
        ff += 2 * 8 * cfg.lanes          # its residual words' read (read_pair: each word chosen from two banks)
        lut += 2 * 8 * cfg.lanes // 2
    if cfg.tile_words == 2:  # conv_pe.h's input-word pairs and pixel pairs: the upper rows' operands chosen
        # from the pair's second word (a 9-bit 2:1 multiplexer per column), the pair's read (each word from
        # two banks), the L sums of two rows' accumulators before the requantizers (input-word pairs)
        lut += cfg.pe_cols * 9 // 2 + 8 * cfg.lanes + cfg.lanes * cfg.acc_bits
    if cfg.att_engine:  # linear_attention.h: a token's sums held for its outputs beside the next token's rows
        ff += (cfg.att_d_max + 1) * cfg.acc_bits
    bufs = buffers(cfg)
    act = activation_memory(cfg)
    bram = sum(b["bram18"] for b in bufs.values()) + act["bram18"]
    lut += sum(b["lut"] for b in bufs.values()) + act["lut"]
    if cfg.tf:
        tf = transformer_resources(cfg)
        dsp, bram, lut, ff = dsp + tf["dsp"], bram + tf["bram18"], lut + tf["lut"], ff + tf["ff"]
    return {"dsp": dsp, "bram18": bram, "uram": act["uram"], "lut": lut, "ff": ff,
            "activation_bram18": act["bram18"], "activation_uram": act["uram"],
            "buffer_bram18": bram - act["bram18"]}


def softmax_unit_resources(lanes: int, entries: int, rows_max: int) -> dict:
    """The softmax unit (hls_templates/vitflow/softmax.h) on its own: one DSP per lane (e r, 17 x 25 bits,
    fits a DSP48E2's 27 x 18), the row's pipelined 64-bit divider, the exp table in one distributed-RAM bank
    per lane, the three per-row buffers (max, sum, reciprocal), and per lane its table lookup, max and sum
    tree share and output clamp."""
    bufs = [memory(17, entries, lanes), memory(32, rows_max), memory(32, rows_max), memory(25, rows_max)]
    return {"dsp": lanes,
            "bram18": sum(b["bram18"] for b in bufs),
            "lut": LUT["mac"] * lanes + LUT["divider"] + 2 * LUT["lane"] * lanes + LUT["engine"]
                   + sum(b["lut"] for b in bufs),
            "ff": FF["mac"] * lanes + FF["divider"] + 2 * FF["lane"] * lanes + FF["engine"]}


def token_layernorm_resources(lanes: int, dividers: int, c_max: int, tokens_max: int) -> dict:
    """The token LayerNorm unit (hls_templates/vitflow/token_layernorm.h) on its own: L multipliers of the
    variance pass (18 x 18 bits: one DSP each), per output lane a clamped small-quotient divider
    (requant.h ClampedDiv) and the numerator's two products (d a: 18 x 17 bits, one DSP; sigma b: 22 x 32
    bits, two), the divisor's products, the coefficient banks and the per-token sum, variance and sigma
    buffers."""
    bufs = [memory(32, c_max // dividers, 2 * dividers)] + [memory(64, tokens_max)] * 3
    return {"dsp": lanes + 3 * dividers + DSP_PER_QDIV_DIVISOR,
            "bram18": sum(b["bram18"] for b in bufs),
            "lut": LUT["mac"] * lanes + (LUT["qdiv"] + LUT["requant"]) * dividers + LUT["lane"] * lanes
                   + LUT["engine"] + sum(b["lut"] for b in bufs),
            "ff": FF["mac"] * lanes + (FF["qdiv"] + FF["requant"]) * dividers + FF["lane"] * lanes + FF["engine"]}


def act_matmul_resources(lanes: int, rows: int, depth: int, banks: int, acc_bits: int = 32) -> dict:
    """One activation-product unit (hls_templates/vitflow/act_matmul.h): rows x L products, two per DSP
    (dsp_pack.h), ``rows`` requantizers, and B's buffer in ``banks`` banks of ``depth`` L-byte words
    (act_matmul: ``rows`` banks; act_matmul_nn: L)."""
    macs = rows * lanes
    buf = memory(8 * lanes, depth, banks)
    return {"dsp": macs // 2 + dsp_per_requant(acc_bits) * rows, "bram18": buf["bram18"],
            "lut": LUT["mac"] * macs + LUT["packed"] * macs // 2 + LUT["requant"] * rows + LUT["engine"] + buf["lut"],
            "ff": FF["mac"] * macs + FF["requant"] * rows + FF["engine"]}


def transformer_resources(cfg) -> dict:
    """The softmax transformer's engines (vitflow/transformer.h), built when cfg.tf: the softmax and token
    LayerNorm units, the two activation-product units (A B^T and A B) and the position add (eltwise.h
    add_const_engine, residual.h's lane arithmetic at II = 1: two 17 x 24-bit products per lane, two DSPs)."""
    parts = [softmax_unit_resources(cfg.lanes, cfg.sm_entries, cfg.sm_rows),
             token_layernorm_resources(cfg.lanes, cfg.tln_div, cfg.tln_c, cfg.tln_tokens),
             act_matmul_resources(cfg.lanes, cfg.mm_rows, cfg.mm_depth, cfg.mm_rows, cfg.acc_bits),
             act_matmul_resources(cfg.lanes, cfg.mm_rows, cfg.mmv_depth, cfg.lanes, cfg.acc_bits),
             {"dsp": 2 * cfg.lanes, "bram18": 0, "lut": LUT["lane"] * cfg.lanes + LUT["engine"],
              "ff": FF["lane"] * cfg.lanes + FF["engine"]}]
    return {k: sum(p[k] for p in parts) for k in ("dsp", "bram18", "lut", "ff")}
