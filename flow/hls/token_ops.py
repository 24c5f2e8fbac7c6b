"""The memory plan's operations for a softmax transformer's layers (flow/lower/rules/transformer.py) whose
descriptors differ from a convolution network's: the q/k/v projection (one 1x1 convolution per output and
head, each writing its head's block of rows), the activation products, the softmax, the position add and
the LayerNorm over tokens. Token tensors are stored channels last (flow/hls/tensor_layout.py); every one of
them stays on chip (the memory plan moves only row-wise tensors to DDR), so each operation reads and writes
its tensors where the plan placed them."""

from flow.errors import FlowError

from .ops import Op
from .streams import conv_tiles, conv_words, head_parts, input_word_pairs

TOKEN_OPS = ("add_const", "matmul", "softmax")  # and the split linear and the LayerNorm on tokens
LN_MAX_K = 26  # the token LayerNorm's largest K: its divisor sigma 2^K within 48 bits (token_layernorm.h)
TRANSFORMER_OPS = ("add_const", "matmul", "softmax", "token_layernorm")  # the descriptors of transformer.h


def _ceil(a, b):
    return -(-a // b)


def matmul_depth(f: dict, lanes: int, rows: int) -> int:
    """Words per bank of B an activation product (descriptor fields ``f``) needs (vitflow/act_matmul.h):
    MODE 0, B's NB rows in ``rows`` banks of ceil(T / L) words each; MODE 1, B's T rows (tokens) in L banks
    of ceil(NB / L) words each."""
    if f["MODE"] == 0:
        return _ceil(f["NB"], rows) * _ceil(f["T"], lanes)
    return _ceil(f["T"], lanes) * _ceil(f["NB"], lanes)


def check_transformer_op(name: str, op, cfg) -> None:
    """A FlowError naming what a transformer descriptor asks beyond the configuration's engines."""
    f = op.fields
    if not cfg.tf:
        raise FlowError(f"layer {name}: a softmax transformer's {op.kind}, and the accelerator is built without "
                        f"its engines (TF=0)")
    if op.kind == "softmax" and (f["ROWS"] > cfg.sm_rows or f["ENTRIES"] > cfg.sm_entries):
        raise FlowError(f"layer {name}: {f['ROWS']} softmax rows and a {f['ENTRIES']}-entry table exceed "
                        f"SM_ROWS={cfg.sm_rows} or SM_ENTRIES={cfg.sm_entries}")
    if op.kind == "token_layernorm" and (f["TOKENS"] > cfg.tln_tokens or f["C"] > cfg.tln_c or f["C"] % cfg.tln_div):
        raise FlowError(f"layer {name}: {f['TOKENS']} tokens of {f['C']} channels exceed TLN_TOKENS={cfg.tln_tokens} "
                        f"or TLN_C={cfg.tln_c}, or TLN_DIV={cfg.tln_div} does not divide them")
    if op.kind == "matmul":
        need, have = matmul_depth(f, cfg.lanes, cfg.mm_rows), (cfg.mmv_depth if f["MODE"] else cfg.mm_depth)
        if need > have:
            raise FlowError(f"layer {name}: the product's B takes {need} words per bank, "
                            f"{'MMV' if f['MODE'] else 'MM'}_DEPTH={have}")


def token_ops(plan, layer, index: int, common: dict) -> list:
    """The operations of ``layer`` (program layer ``index``), with the ``common`` descriptor fields."""
    lay = plan.layouts
    kind, a = layer.kind, layer.attrs
    x, y = lay[layer.inputs[0]], lay[layer.outputs[0]]
    f = dict(common, IN0=plan.onchip[layer.inputs[0]][0], OUT=plan.onchip[layer.outputs[0]][0])
    stream = layer.name if f["W_WORDS"] else None
    if kind == "linear":
        return _head_projections(plan, layer, index, f)
    if kind in ("matmul", "softmax") and x.eb != 1:
        raise FlowError(f"layer {layer.name}: the {kind} unit reads 8-bit codes, not {8 * x.eb}-bit")
    if kind == "matmul":
        b = lay[layer.inputs[1]]
        if b.eb != 1:
            raise FlowError(f"layer {layer.name}: the matmul unit reads 8-bit codes, not {8 * b.eb}-bit")
        heads = x.shape[0]
        f.update(IN1=plan.onchip[layer.inputs[1]][0], HEADS=heads, A_HEAD=x.words // heads, B_HEAD=b.words // heads,
                 MULT=int(layer.blobs["mult"][0]), SHIFT=int(layer.blobs["shift"][0]), NA=x.shape[1],
                 OUT_STRIDE=y.words_per_pixel)
        if a["transpose_b"]:  # q k^T: B's rows are k's tokens, the inner dimension the head's channels
            f.update(MODE=0, NB=b.shape[1], T=x.shape[2], OUT_HEAD=y.words // heads)
        else:  # attn v, merged into tokens: head h's channels at word h of each token's d-channel words
            f.update(MODE=1, NB=b.shape[2], T=x.shape[2], OUT_HEAD=b.words_per_pixel)
        return [Op("matmul", index, "layer", f)]
    if kind == "softmax":
        f.update(ROWS=x.height, N=x.channels, ENTRIES=layer.blobs["table"].size, RECIP_BITS=a["recip_bits"],
                 SHIFT=a["shift"], OUT_MAX=a["out_max"], TWO_SHIFT=a.get("two_shift", 0),
                 FINE_MAX=a.get("fine_max", 0), COARSE_MAX=a.get("coarse_max", 0))
        return [Op("softmax", index, "layer", f, stream)]
    if kind == "add_const":
        m = layer.blobs["mult"]
        f.update(WORDS=y.words, PAD_WORDS=a["pad_tokens"] * y.words_per_pixel, M0=int(m[0]), M1=int(m[1]),
                 SHIFT=a["shift"], SGN_IN1=1, EB_IN1=y.eb)
        return [Op("add_const", index, "layer", f, stream)]
    if kind == "layernorm":
        if "in_shift" in layer.blobs:
            raise FlowError(f"layer {layer.name}: the token LayerNorm takes no per-channel input shifts")
        if x.eb != 1 or x.channels % plan.lanes:
            raise FlowError(f"layer {layer.name}: the token LayerNorm reads 8-bit tokens of whole {plan.lanes}-byte "
                            f"words; {x.channels} channels of {8 * x.eb} bits")
        if a["k"] > LN_MAX_K or y.eb != 1:
            raise FlowError(f"layer {layer.name}: the token LayerNorm divides by sigma 2^K with K <= {LN_MAX_K} into "
                            f"8-bit codes (vitflow/token_layernorm.h); K = {a['k']}, {8 * y.eb}-bit output")
        f.update(TOKENS=x.height, C=x.channels, K=a["k"])
        return [Op("token_layernorm", index, "layer", f, stream)]
    raise FlowError(f"layer {layer.name}: no accelerator operation for {kind}")


def _head_projections(plan, layer, index: int, f: dict) -> list:
    """The q/k/v projection: per output and head a 1x1 convolution over the N tokens, writing the head's
    (N, d) rows contiguously (head h at h N ceil(d / lanes) words), its part of the layer's stream."""
    x = plan.layouts[layer.inputs[0]]
    ops, offset = [], 0
    for part, tensor, head, block in head_parts(layer, plan.layouts):
        words = conv_words(part, x, block, plan.lanes, plan.tile_words)
        g = dict(f, W_WORDS=words, OUT=plan.onchip[tensor][0] + head * block.words, H_IN=x.height, W_IN=1,
                 CW_IN=x.words_per_pixel, IN_ROW0=0, ROW_BEGIN=0, ROW_END=x.height, W_OUT=1,
                 CW_OUT=block.words_per_pixel, OUT_ROW0=0, KH=1, KW=1, SH=1, SW=1, PT=0, PL=0,
                 TILES=block.words_per_pixel,
                 KSPLIT=int(input_word_pairs(part, x, block, plan.tile_words)))  # as its stream is packed
        ops.append(Op("linear", index, "layer", g, layer.name, tuple(conv_tiles(part, x, block, plan.tile_words)), offset))
        offset += words
    return ops
