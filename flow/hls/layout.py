"""The accelerator's descriptor format: one descriptor of DESC_WORDS int32 per operation of the program
image (a layer, a row stripe of a layer, or a DMA transfer), burst-read into registers by the top.

The field order below is the one source of truth: the generated header vitflow_layout.h gives the C++
side the same indices (FIELD_<NAME> for the common fields, <GROUP>_<NAME> for the others, e.g. CONV_CW_IN)
and kind numbers (KIND_<NAME>).

Common fields: KIND; LAYER (program layer index, -1 for the program's input and output transfers); ROLE
(ROLES: the layer's own work, a program input/output transfer, or a check-only dump); W_OFF, W_WORDS, W_OFF_D
(the weight stream: its first beat in the weight memory, its length in words, and its first beat among
those the descriptor port reads after the descriptors, flow/hls/image.py); IN0, IN1, OUT (word addresses in the
on-chip activation memory); OUT_LO, OUT_HI (output code range); EB_* (element bytes, 1 or 2) and SGN_*
(signedness) of the inputs and the output.
"""

DESC_WORDS = 64
KINDS = ["conv", "dwconv", "linear", "hardswish", "relu", "add", "concat", "gap", "layernorm", "linear_attention",
         "load", "store", "gelu", "requant", "add_const", "softmax", "token_layernorm", "matmul"]
ROLES = ["layer", "io", "check"]
COMMON = ["KIND", "LAYER", "ROLE", "W_OFF", "W_WORDS", "W_OFF_D", "IN0", "IN1", "OUT", "OUT_LO", "OUT_HI", "EB_IN0",
          "EB_IN1", "EB_OUT", "SGN_IN0", "SGN_IN1"]
FIELDS = {
    # conv PE array and depthwise engine; ROW_BEGIN..ROW_END: the output rows this descriptor computes,
    # IN_ROW0 / OUT_ROW0: the rows held at IN0 / OUT (a row stripe); TILES: output words per pixel;
    # EPI_ENTRIES, EPI_MIN: the epilogue table's entries (0: none) and first code (vitflow/epilogue.h);
    # RES = 1: a residual add as epilogue (vitflow/conv_pe.h): each output word of codes c in OUT_LO..OUT_HI
    # becomes clamp(round_half_even((c RES_MC + r RES_MR) / 2^RES_SHIFT), RES_LO, RES_HI), r the residual's
    # word RES_DELTA words past the output's (IN1's element width and signedness: EB_IN1, SGN_IN1);
    # DW_PAIR = 1: a depthwise layer in tile pairs (vitflow/dwconv.h: two output words a tile); KSPLIT = 1:
    # the last tile's input words in pairs over the PE array's two halves of rows; PPAIR = 1: two pixels at
    # once over the two halves (vitflow/conv_pe.h)
    "conv": ["H_IN", "W_IN", "CW_IN", "IN_ROW0", "ROW_BEGIN", "ROW_END", "W_OUT", "CW_OUT", "OUT_ROW0", "KH", "KW",
             "SH", "SW", "PT", "PL", "TILES", "EPI_ENTRIES", "EPI_MIN", "RES", "RES_DELTA", "RES_MC", "RES_MR",
             "RES_SHIFT", "RES_LO", "RES_HI", "DW_PAIR", "KSPLIT", "PPAIR"],
    "lut": ["PIXELS", "CW_IN", "CW_OUT", "IN_MIN", "ENTRIES", "PER_CHANNEL"],
    # add_const: the second operand is the weight stream (a constant tensor), the first is zero for the
    # first PAD_WORDS output words (the class token's row, vitflow/eltwise.h)
    "add": ["WORDS", "M0", "M1", "SHIFT", "PAD_WORDS"],
    "concat": ["PIXELS", "CW_A", "CW_B", "IN_MIN0", "IN_MIN1", "ENTRIES0", "ENTRIES1"],
    "gap": ["PIXELS", "CW_IN", "DIV", "DIV_LAST", "MULT", "SHIFT", "HW"],
    "layernorm": ["C", "K", "SH_WORDS"],
    "linear_attention": ["G", "D", "N", "IN_MIN", "ENTRIES", "EXP_ENTRIES", "CW_IN", "CW_OUT", "WS_IN", "WS_OUT",
                         "BLOCK_LANES", "OUT_BLOCK_LANES", "TAB_EB", "TAB_SGN"] +
                        [f"{r}_{f}" for r in ("KV", "KSUM", "NUM", "DEN", "ATT") for f in ("MULT", "SHIFT", "LO", "HI")],
    "dma": ["DDR_OFF", "WORDS", "ADDR"],  # DDR_OFF in beats of the activation port, ADDR a word address
    # a softmax transformer's units: ROWS rows of N codes (vitflow/softmax.h); TOKENS tokens of C channels
    # (vitflow/token_layernorm.h); per head h of HEADS, rows of A at IN0 + h A_HEAD, of B at IN1 + h B_HEAD,
    # output rows at OUT + h OUT_HEAD every OUT_STRIDE words; MODE 0: A B^T over T (q k^T, NB rows of B),
    # MODE 1: A B with B's T rows of NB codes (attn v) (vitflow/act_matmul.h); the softmax's TWO_SHIFT > 0:
    # two scales on its output, the codes above FINE_MAX rounded to the coarse scale (at most COARSE_MAX)
    "softmax": ["ROWS", "N", "ENTRIES", "RECIP_BITS", "SHIFT", "OUT_MAX", "TWO_SHIFT", "FINE_MAX", "COARSE_MAX"],
    "token_ln": ["TOKENS", "C", "K"],
    "matmul": ["MODE", "HEADS", "NA", "NB", "T", "A_HEAD", "B_HEAD", "OUT_HEAD", "OUT_STRIDE", "MULT", "SHIFT"],
}
GROUP = {"conv": "conv", "dwconv": "conv", "linear": "conv", "hardswish": "lut", "relu": "lut", "add": "add",
         "concat": "concat", "gap": "gap", "layernorm": "layernorm", "linear_attention": "linear_attention",
         "load": "dma", "store": "dma", "gelu": "lut", "requant": "lut", "add_const": "add", "softmax": "softmax",
         "token_layernorm": "token_ln", "matmul": "matmul"}
assert all(len(COMMON) + len(f) <= DESC_WORDS for f in FIELDS.values())


def field_index(group: str, name: str) -> int:
    if name in COMMON:
        return COMMON.index(name)
    return len(COMMON) + FIELDS[group].index(name)


def layout_header() -> str:
    """vitflow_layout.h: kind numbers and descriptor field indices for the C++ side."""
    lines = ["// Generated by flow.hls.layout: descriptor layout of the vitflow program image.", "#pragma once",
             f"#define DESC_WORDS {DESC_WORDS}"]
    lines += [f"#define KIND_{k.upper()} {i}" for i, k in enumerate(KINDS)]
    lines += [f"#define ROLE_{r.upper()} {i}" for i, r in enumerate(ROLES)]
    lines += [f"#define FIELD_{n} {i}" for i, n in enumerate(COMMON)]
    for group, names in FIELDS.items():
        lines += [f"#define {group.upper()}_{n} {field_index(group, n)}" for n in names]
    return "\n".join(lines) + "\n"


def encode(kind: str, fields: dict) -> list:
    """The DESC_WORDS int32 words of one descriptor; a field missing from ``fields`` is 0."""
    group = GROUP[kind]
    words = [0] * DESC_WORDS
    words[field_index(group, "KIND")] = KINDS.index(kind)
    for name, value in fields.items():
        v = int(value)
        if not -2 ** 31 <= v < 2 ** 31:
            raise ValueError(f"descriptor field {name}={v} does not fit 32 bits")
        words[field_index(group, name)] = v
    return words
