"""Write the Vitis HLS project for a program: firmware (templates + generated config/layout headers +
top), the program image (descriptors, weight streams, DDR activation area per test image), the
C-simulation testbench, a co-simulation program with its own vectors, run_hls.tcl (csim, csynth, cosim,
IP export), the Vivado block-design script and a PYNQ host driver.

project/
  firmware/   vitflow/*.h (the templates), vitflow_config.h, vitflow_layout.h, vitflow_top.{h,cpp}
  tb/         tb_vitflow.cpp, beat_bytes.h
  data/       program.desc, check.desc (descriptors), weights.bin and weights_desc.bin (the weight streams'
              beats on the weight port and on the descriptor port, after the descriptors), ddr_mask.bin,
              tensors.json (each tensor's DDR region and layout); img<i>/ddr_in.bin, ddr_golden.bin
  cosim/      the same for the co-simulation program (one small layer of each kind the design runs)
  host/       vitflow_driver.py (the driver: on the board with PYNQ, or here on the C simulation built as
              csim/libvitflow_csim.so from csim_lib.cpp)
  run_hls.tcl, vivado/build_bitstream.tcl
  design.json the design as the model sees it: part, clock, HwConfig, the modeled resources and the
              co-simulation run's modeled cycles (what `flow report` holds a lab run against)
"""

import json
import shutil
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from flow.errors import FlowError
from flow.estimate.counts import dw_stream
from flow.lower.requant import ADD_MULT_BITS

from .image import axi_masters, build_image, ddr_mask, golden_area, input_area, weight_ports
from .layout import DESC_WORDS, layout_header
from .memory_plan import plan_memory
from .residual_epilogues import residual_iterations
from .token_ops import TRANSFORMER_OPS, check_transformer_op
from .scripts import run_hls_tcl, vivado_tcl
from .streams import tile_words

TOP = "vitflow_top"


@dataclass(frozen=True)
class HwConfig:
    """Compile-time parallelism and buffer sizes of the accelerator (vitflow_config.h). The buffer sizes
    are fitted to a program by flow.estimate.fit.fitted_config."""
    lanes: int = 16          # L: activation word bytes; the element units' lanes
    pe_rows: int = 16        # conv PE array: output channels per cycle (even, divides L or is 2 L; two per DSP)
    pe_cols: int = 16        # conv PE array: input byte lanes per cycle (even, divides L)
    dw_lanes: int = 16       # depthwise channels per cycle (divides L)
    wdepth: int = 64         # weight words per PE row and tile: the largest input words x taps
    dw_k: int = 5            # largest depthwise kernel side: a dw_k x dw_k window, dw_k line-buffer rows
    dw_taps: int = 0         # depthwise multipliers per lane (a k x k filter in ceil(k^2 / dw_taps) folds); 0: dw_k^2
    dw_cols: int = 64        # words per depthwise line-buffer row: the largest streamed row (dwconv.h)
    tab_entries: int = 256   # largest lookup table (2^bits of its input)
    sh_words: int = 1        # words of the LayerNorm's channel shifts
    att_d_max: int = 32      # largest attention head dimension
    att_rows: int = 4        # attention rows per cycle
    att_dividers: int = 1    # exact dividers of the attention unit; 0: shift-only (log2 divisors only)
    acc_bits: int = 32
    act_words: int = 4096    # words of the on-chip activation memory
    fifo_depth: int = 128    # words of the weight FIFO between the loader and an engine
    beat_bytes: int = 16     # AXI beat: 16 on Zynq UltraScale+ (128-bit HP ports), 8 on Zynq-7000
    act_uram: int = 0        # 1: the activation memory in UltraRAM
    epi_entries: int = 0     # largest table fused into the conv/depthwise engines (epilogue.h); 0: no fusion
    dw_engine: int = 1       # 1: the depthwise engine is built; 0: not (a program without depthwise convs)
    att_engine: int = 1      # 1: the linear-attention engine is built; 0: not (a program without it)
    att_pack: int = 0        # 1: the attention's products two per DSP (its v, kv codes int8, q, k tables 9-bit)
    res: int = 0             # 1: residual adds run as the conv PE array's epilogue (conv_pe.h RES)
    add_engine: int = 1      # 1: the add engine is built; 0: not (every add runs as a convolution's epilogue)
    concat_engine: int = 1   # 1: the concat unit is built; 0: not (every concatenation in place: concat_in_place.py)
    in_place_elements: int = 0  # concatenations of at most this many output elements are done in place; 0: none
    dw_pairs: int = 0        # 1: the depthwise engine runs tile pairs (dwconv.h PAIRS; needs pe_rows = 2 lanes)
    # a softmax transformer's engines (vitflow/transformer.h), built when tf = 1
    tf: int = 0              # 1: the program has token layers (softmax, token LayerNorm, products, position add)
    mm_rows: int = 2         # activation products: output columns per cycle (even, divides L)
    mm_depth: int = 1        # words per bank of the A B^T product's B buffer (MM_ROWS banks)
    mmv_depth: int = 1       # words per bank of the A B product's B buffer (L banks)
    sm_rows: int = 1         # rows of the largest softmax (heads x tokens)
    sm_entries: int = 256    # entries of the softmax's exp table
    tln_div: int = 1         # token LayerNorm outputs per cycle (its dividers; divides L)
    tln_c: int = 8           # largest token LayerNorm width (channels, a multiple of tln_div, <= 512)
    tln_tokens: int = 1      # largest token count of a token LayerNorm

    @property
    def dw_multipliers(self) -> int:
        """Depthwise multipliers per lane (dwconv.h TAPS): dw_taps, or the whole dw_k x dw_k window."""
        return self.dw_taps or self.dw_k ** 2

    @property
    def tile_words(self) -> int:
        """Output words per conv PE array tile (conv_pe.h TW)."""
        return tile_words(self.pe_rows, self.lanes)

    def header(self) -> str:
        return ("// Generated by flow.hls.project: compile-time parameters of the accelerator.\n#pragma once\n"
                + "".join(f"#define VITFLOW_{k.upper()} {int(v)}\n" for k, v in asdict(self).items()))


def templates_dir() -> Path:
    return Path(str(resources.files("flow.hls_templates")))


def _top_sources(cfg: HwConfig, depths: dict) -> tuple:
    four = weight_ports(cfg.lanes, cfg.beat_bytes) == 4
    extra = "const vitflow::beat_t *wgt2, const vitflow::beat_t *wgt3, " if four else ""
    wgt23_names = ", `wgt2`, `wgt3`" if four else ""
    masters = (("Five", ", the weight buffer again twice (the PE array's stream, two words a cycle)") if four
               else ("Three", ""))
    h = f"""// Generated by flow.hls.project: the accelerator's top function.
#pragma once
#include "vitflow_config.h"
#include "vitflow/accelerator.h"

// Ports the conv PE array's weight stream reads at once (vitflow/dma.h stream_pairs): with 4, the top has
// wgt2 and wgt3, which the host points at the weight buffer too
#define VITFLOW_WGT_PORTS {4 if four else 2}

// Runs descriptors [0, n_desc) of `desc`; weight streams from `wgt`{wgt23_names} and from `desc` past its
// n_desc descriptors (n_desc must be the whole program's count, as the host passes it); the DDR activation
// area `ddr`. Returns -1, or the index of a descriptor of unknown kind.
int {TOP}(const vitflow::beat_t *desc, const vitflow::beat_t *wgt, {extra}vitflow::beat_t *ddr, int n_desc);
"""
    impl = "uram" if cfg.act_uram else "bram"
    wgt23 = "".join(f"#pragma HLS INTERFACE m_axi port = {p} offset = slave bundle = gmem_{p} depth = {depths['wgt']} "
                    "max_read_burst_length = 256 num_read_outstanding = 2\n" for p in ("wgt2", "wgt3")) if four else ""
    w2, w3 = ("wgt2", "wgt3") if four else ("wgt", "wgt")  # two ports: never read (dma.h PORTS = 2)
    # two-word tiles: a pixel of one iteration writes both words in one cycle (vitflow/word.h write_pair). The
    # audit keeps the memory one bank of two ports, where every runtime-indexed access (a port of each bank
    # in synthesis) and each pair counts one access: so the pragma is synthesis-only
    banks = ("    // two banks, even and odd words: the PE array writes a pixel's two output words at once\n"
             "#ifdef __SYNTHESIS__\n#pragma HLS ARRAY_PARTITION variable = act cyclic factor = 2 dim = 1\n#endif\n"
             if cfg.tile_words == 2 else "")
    cpp = f"""// Generated by flow.hls.project: the accelerator's top function; the layer sequence is data (desc).
#include "{TOP}.h"

typedef vitflow::Accelerator<VITFLOW_LANES, VITFLOW_PE_ROWS, VITFLOW_PE_COLS, VITFLOW_DW_LANES, VITFLOW_WDEPTH, VITFLOW_DW_K, VITFLOW_DW_COLS, VITFLOW_TAB_ENTRIES, VITFLOW_SH_WORDS,
                             VITFLOW_ATT_D_MAX, VITFLOW_ATT_ROWS, VITFLOW_ATT_DIVIDERS, VITFLOW_ACC_BITS,
                             VITFLOW_ACT_WORDS, VITFLOW_FIFO_DEPTH, VITFLOW_EPI_ENTRIES, VITFLOW_TF, VITFLOW_MM_ROWS,
                             VITFLOW_MM_DEPTH, VITFLOW_MMV_DEPTH, VITFLOW_SM_ROWS, VITFLOW_SM_ENTRIES, VITFLOW_TLN_DIV, VITFLOW_TLN_C,
                             VITFLOW_TLN_TOKENS, VITFLOW_DW_ENGINE, VITFLOW_ATT_ENGINE, VITFLOW_ATT_PACK,
                             VITFLOW_DW_TAPS, VITFLOW_RES, VITFLOW_ADD_ENGINE, VITFLOW_CONCAT_ENGINE,
                             VITFLOW_DW_PAIRS>
    Acc;

int {TOP}(const vitflow::beat_t *desc, const vitflow::beat_t *wgt, {extra}vitflow::beat_t *ddr, int n_desc) {{
// {masters[0]} masters, each on its own bundle (its own HP port): descriptors (and, after them, weight
// beats: vitflow/dma.h), weight streams{masters[1]},
// activations. The depths are the co-simulation program's buffers (cosim/), exactly; they size nothing in
// hardware.
#pragma HLS INTERFACE m_axi port = desc offset = slave bundle = gmem_desc depth = {depths['desc']} max_read_burst_length = 256 num_read_outstanding = 2
#pragma HLS INTERFACE m_axi port = wgt offset = slave bundle = gmem_wgt depth = {depths['wgt']} max_read_burst_length = 256 num_read_outstanding = 2
{wgt23}#pragma HLS INTERFACE m_axi port = ddr offset = slave bundle = gmem_act depth = {depths['ddr']} max_read_burst_length = 256 max_write_burst_length = 256 num_read_outstanding = 2 num_write_outstanding = 2
#pragma HLS INTERFACE s_axilite port = n_desc
#pragma HLS INTERFACE s_axilite port = return
    // The on-chip activation memory: words of L bytes (one wide word per address), two ports, a read
    // latency of 3 cycles across its cascade of RAMs (vitflow/cycles.h counts it in every pipeline's depth).
    VITFLOW_BUFFER1(vitflow::Word<VITFLOW_LANES>, act, VITFLOW_ACT_WORDS);
    VITFLOW_AGGREGATE(act);
    VITFLOW_STORAGE(act, ram_t2p, {impl}, 3);
{banks}    return Acc::run(VITFLOW_AXI_PORT(const vitflow::beat_t, desc, VITFLOW_PORT_DESC),
                    VITFLOW_AXI_PORT(const vitflow::beat_t, wgt, VITFLOW_PORT_WGT),
                    VITFLOW_AXI_PORT(const vitflow::beat_t, {w2}, VITFLOW_PORT_WGT2),
                    VITFLOW_AXI_PORT(const vitflow::beat_t, {w3}, VITFLOW_PORT_WGT3),
                    VITFLOW_AXI_PORT(vitflow::beat_t, ddr, VITFLOW_PORT_ACT), n_desc, act);
}}
"""
    return h, cpp


def attention_packs(program, layer) -> bool:
    """Whether ``layer``'s products pack two per DSP (linear_attention.h PACK, dsp_pack.h): its v codes (the
    input's) and kv codes signed 8-bit, its q and k tables within the shared operand's 9 bits."""
    x, kv = program.tensors[layer.inputs[0]], layer.attrs["quant"]["kv"]["range"]
    tables = np.concatenate([layer.blobs["q_table"].ravel(), layer.blobs["k_table"].ravel()]).astype(np.int64)
    return (x.bits <= 8 and x.signed and -128 <= kv[0] and kv[1] <= 127
            and -256 <= int(tables.min()) and int(tables.max()) <= 255)


def check_fits(program, cfg: HwConfig) -> None:
    for name in ("pe_rows", "pe_cols", "dw_lanes"):
        v = getattr(cfg, name)
        if name == "pe_rows" and v == 2 * cfg.lanes:  # two output words per tile (conv_pe.h)
            continue
        if v < 1 or cfg.lanes % v or v & (v - 1):
            raise FlowError(f"{name.upper()}={v} must be a power of two dividing the {cfg.lanes}-byte word"
                            + (" (or, PE_ROWS, twice it)" if name == "pe_rows" else ""))
    for name in ("pe_rows", "pe_cols"):  # rows pair on a DSP, columns pair a 16-bit code's bytes (conv_pe.h)
        if getattr(cfg, name) < 2:
            raise FlowError(f"{name.upper()}={getattr(cfg, name)}: the PE array needs at least 2")
    for name in ("lanes", "att_d_max", "tab_entries", "att_rows"):  # the templates index them with masks
        v = getattr(cfg, name)
        if v < 1 or v & (v - 1):
            raise FlowError(f"{name.upper()}={v} must be a power of two")
    if cfg.dw_engine and not 0 <= cfg.dw_taps <= cfg.dw_k ** 2:
        raise FlowError(f"DW_TAPS={cfg.dw_taps} must be 0 (DW_K^2) or at most DW_K^2 = {cfg.dw_k ** 2}")
    if cfg.dw_pairs and (cfg.tile_words != 2 or not cfg.dw_engine):  # a pair's two reads: one port of each bank
        raise FlowError(f"DW_PAIRS=1 reads a pair of words from the activation memory's two banks: PE_ROWS="
                        f"{cfg.pe_rows} must be twice the {cfg.lanes}-byte word, with the depthwise engine built")
    if cfg.att_engine and cfg.att_rows > cfg.att_d_max:  # kv's rows and columns go in ATT_ROWS-wide steps
        raise FlowError(f"ATT_ROWS={cfg.att_rows} exceeds ATT_D_MAX={cfg.att_d_max}")
    if cfg.att_pack and cfg.att_d_max < 2:
        raise FlowError(f"ATT_PACK=1 pairs the attention's columns: ATT_D_MAX={cfg.att_d_max} must be at least 2")
    if cfg.tf and (cfg.mm_rows < 2 or cfg.mm_rows % 2 or cfg.lanes % cfg.mm_rows or cfg.lanes % cfg.tln_div
                   or cfg.lanes < 8 or cfg.tln_c > 512 or cfg.tln_c % cfg.tln_div):
        raise FlowError(f"MM_ROWS={cfg.mm_rows} must be even and divide the {cfg.lanes}-byte word (of at least 8), "
                        f"TLN_DIV={cfg.tln_div} divide it and TLN_C={cfg.tln_c} (at most 512)")
    if program.meta.get("ranges", {}).get("acc_bits_needed", 0) > cfg.acc_bits:
        raise FlowError(f"the program needs {program.meta['ranges']['acc_bits_needed']}-bit accumulators, "
                        f"the accelerator is configured with {cfg.acc_bits}")
    for layer in program.layers:
        a = layer.attrs
        for kind, built, flag in (("dwconv", cfg.dw_engine, "DW_ENGINE"), ("add", cfg.add_engine, "ADD_ENGINE"),
                                  ("linear_attention", cfg.att_engine, "ATT_ENGINE"),
                                  ("concat", cfg.concat_engine, "CONCAT_ENGINE")):
            if layer.kind == kind and not built and not a.get("in_place"):
                raise FlowError(f"layer {layer.name}: the accelerator is configured without the {kind} engine "
                                f"({flag}=0)")
        if "residual" in a and not cfg.res:
            raise FlowError(f"layer {layer.name}: a residual add as epilogue, on an accelerator without it (RES=0)")
        add_mults = ([a["residual"]["mult_conv"], a["residual"]["mult_res"]] if "residual" in a
                     else layer.blobs["mult"] if layer.kind in ("add", "add_const") else [])
        if any(not 0 < int(m) < 1 << ADD_MULT_BITS for m in np.ravel(add_mults)):
            raise FlowError(f"layer {layer.name}: the add's multipliers {[int(m) for m in np.ravel(add_mults)]} "
                            f"must lie in 1 .. 2^{ADD_MULT_BITS} - 1 (one DSP a product, residual.h); "
                            f"lower the program again")
        if layer.kind == "linear_attention":
            for role in ("kv", "ksum", "num"):  # linear_attention.h holds them in 17-bit registers
                lo, hi = a["quant"][role]["range"]
                if lo < -(1 << 16) or hi >= 1 << 16:
                    raise FlowError(f"layer {layer.name}: the attention's {role} codes [{lo}, {hi}] exceed 16 bits")
            if cfg.att_pack and not attention_packs(program, layer):
                raise FlowError(f"layer {layer.name}: the attention packs two products per DSP (ATT_PACK=1), "
                                f"which needs signed 8-bit v and kv codes and q, k tables within -256..255")
            if a["dim"] > cfg.att_d_max:
                raise FlowError(f"layer {layer.name}: head dimension {a['dim']} exceeds ATT_D_MAX={cfg.att_d_max}")
            if not cfg.att_dividers and a.get("divisor") != "log2":
                raise FlowError(f"layer {layer.name} divides exactly, but the attention unit is shift-only "
                                f"(ATT_DIVIDERS=0; quantize with log2_divisor: true)")
            if a.get("divisor", "exact") == "exact":  # linear_attention.h's ClampedDiv<16, 48>
                lo, hi = a["quant"]["att"]["range"]
                divisor = (2 * a["quant"]["den"]["range"][1] + 1) << max(0, int(layer.blobs["att_shift"][0]))
                if hi - lo >= 1 << 16 or divisor >= 1 << 48:
                    raise FlowError(f"layer {layer.name}: the attention's exact division takes outputs of at most "
                                    f"16 bits and divisors below 2^48; range [{lo}, {hi}], divisor up to {divisor}")
        if layer.kind in ("conv", "linear") and layer.blobs["weight"].dtype.itemsize != 1:
            raise FlowError(f"layer {layer.name}: {a.get('weight_bits')}-bit weights; the accelerator packs int8 weights")
        if layer.kind == "dwconv" and max(a["kernel"]) > cfg.dw_k:
            raise FlowError(f"layer {layer.name}: a {a['kernel']} depthwise filter exceeds DW_K={cfg.dw_k}")


def check_plan(program, cfg: HwConfig, plan) -> None:
    """What the plan asks of the buffers the configuration sizes."""
    for op in plan.ops:
        if op.kind in ("conv", "linear"):
            taps = op.fields["KH"] * op.fields["KW"]
            need = max(nw for _, nw in op.tiles) * taps
            if need > cfg.wdepth:
                raise FlowError(f"layer {program.layers[op.layer].name}: {need} weight words per PE row exceed "
                                f"the on-chip weight buffer (WDEPTH={cfg.wdepth})")
        if op.fields.get("RES"):
            _check_residual(program.layers[op.layer].name, op, cfg, plan)
        if op.kind == "dwconv":
            _, cols, sub = dw_stream(op.fields)
            if cols * sub > cfg.dw_cols:
                raise FlowError(f"layer {program.layers[op.layer].name}: a depthwise row of {cols * sub} words "
                                f"exceeds the line buffer (DW_COLS={cfg.dw_cols})")
        if op.kind in TRANSFORMER_OPS:
            check_transformer_op(program.layers[op.layer].name, op, cfg)
            continue
        entries = max((op.fields.get(k, 0) for k in ("ENTRIES", "ENTRIES0", "ENTRIES1", "EXP_ENTRIES")), default=0)
        if entries > cfg.tab_entries:
            raise FlowError(f"layer {program.layers[op.layer].name}: a {entries}-entry table exceeds "
                            f"TAB_ENTRIES={cfg.tab_entries}")
        if op.fields.get("EPI_ENTRIES", 0) > cfg.epi_entries:
            raise FlowError(f"layer {program.layers[op.layer].name}: a {op.fields['EPI_ENTRIES']}-entry epilogue "
                            f"table exceeds EPI_ENTRIES={cfg.epi_entries} (0: an accelerator without fused tables)")
        if op.kind == "linear_attention":
            lanes_in = cfg.lanes // plan.layouts[program.layers[op.layer].inputs[0]].eb
            lanes_out = cfg.lanes // plan.layouts[program.layers[op.layer].outputs[0]].eb
            if lanes_in % cfg.att_rows or lanes_out % cfg.att_rows or lanes_out % max(cfg.att_dividers, 1):
                raise FlowError(f"layer {program.layers[op.layer].name}: ATT_ROWS={cfg.att_rows} and "
                                f"ATT_DIVIDERS={cfg.att_dividers} must divide the words' {lanes_in} and {lanes_out} lanes")
        if op.kind == "layernorm" and op.fields["SH_WORDS"] > cfg.sh_words:
            raise FlowError(f"layer {program.layers[op.layer].name}: {op.fields['SH_WORDS']} shift words exceed "
                            f"SH_WORDS={cfg.sh_words}")
    if plan.act_words > cfg.act_words:
        raise FlowError(f"the activations need {plan.act_words} words on chip, the accelerator has {cfg.act_words}")


def _check_residual(name: str, op, cfg: HwConfig, plan) -> None:
    """A residual add as epilogue reads the pixel's residual words in iterations that write nothing
    (conv_pe.h): a tile with a second output word must take at least 4 iterations per pixel (a tile of one
    word stalls a pixel of one iteration)."""
    f, tw = op.fields, plan.tile_words
    rows = tw * (plan.lanes // f["EB_OUT"])
    per = -(-rows // cfg.pe_rows) * f["KH"] * f["KW"] * -(-plan.lanes // cfg.pe_cols)
    for t, (_, nw) in enumerate(op.tiles):
        need = residual_iterations(tw > 1 and t * tw + 1 < f["TILES"])
        if per * nw < need:
            raise FlowError(f"layer {name}: a residual add as epilogue needs {need} iterations per pixel, tile {t} "
                            f"takes {per * nw}")


def plan_for(program, cfg: HwConfig):
    """The memory plan of ``program`` on ``cfg``, checked against its buffers."""
    check_fits(program, cfg)
    plan = plan_memory(program, cfg.lanes, cfg.act_words, cfg.beat_bytes, cfg.tile_words)
    check_plan(program, cfg, plan)
    return plan


def write_project(program, golden_envs: list, out: Path, part, clock_mhz: float, cfg: HwConfig = HwConfig(),
                  board=None, cosim=None, patches: dict | None = None):
    """Generate the project under ``out`` for ``part`` (a flow.parts.Part) on ``board`` (a flow.boards.Board
    or None); ``golden_envs``: run_program's tensors for each test image (data/img<i>/); ``cosim``: the
    co-simulation program and its reference tensors (program, env), by default flow.hls.cosim's;
    ``patches``: the first convolution's patch spec when ``program`` runs it on patches
    (flow/hls/input_patches.py; recorded for the host driver). Returns the program's Image."""
    from .cosim import cosim_program
    from .epilogues import fused_as

    if board is not None and board.part != part.part:
        raise FlowError(f"board {board.name} carries {board.part}, not {part.part}")
    if cfg.beat_bytes != part.beat_bytes:
        cfg = replace(cfg, beat_bytes=part.beat_bytes)
    plan = plan_for(program, cfg)
    image = build_image(program, plan)
    cosim_prog, cosim_env = cosim or cosim_program(cfg.att_dividers, cfg.acc_bits, bool(cfg.tf), bool(cfg.dw_engine),
                                                   bool(cfg.att_engine))
    # its activations fused as the design's are; its concatenation a copy when the design builds the concat
    # unit (so the co-simulation runs it), else in place (fit.py builds the unit when that cannot be)
    cosim_prog = fused_as(cosim_prog, cfg.epi_entries, cfg.res, cfg.lanes, 0 if cfg.concat_engine else None)
    cosim_image = build_image(cosim_prog, plan_for(cosim_prog, cfg))
    out = Path(out)
    fw, tb = out / "firmware", out / "tb"
    for folder in (fw, tb, out / "data", out / "cosim", out / "vivado", out / "host"):
        folder.mkdir(parents=True, exist_ok=True)
    src = templates_dir()
    shutil.copytree(src / "vitflow", fw / "vitflow", dirs_exist_ok=True)
    for name in ("tb_vitflow.cpp", "beat_bytes.h"):  # the testbench, and the byte <-> beat helpers it shares
        shutil.copy(src / "tb" / name, tb / name)
    (fw / "vitflow" / "vitflow_layout.h").write_text(layout_header())
    (fw / "vitflow_config.h").write_text(cfg.header())
    depths = {"desc": cosim_image.check_desc.size * 4 // cfg.beat_bytes + len(cosim_image.weights_desc),
              "wgt": len(cosim_image.weights),
              "ddr": cosim_image.plan.ddr_beats}
    h, cpp = _top_sources(cfg, depths)
    (fw / f"{TOP}.h").write_text(h)
    (fw / f"{TOP}.cpp").write_text(cpp)
    write_data(image, program, out / "data", golden_envs, patches)
    write_data(cosim_image, cosim_prog, out / "cosim", [cosim_env])
    (out / "run_hls.tcl").write_text(run_hls_tcl(TOP, part.part, clock_mhz, part.family))
    (out / "vivado" / "build_bitstream.tcl").write_text(
        vivado_tcl(TOP, part, clock_mhz, board=board, masters=axi_masters(cfg.lanes, cfg.beat_bytes)))
    if board is not None and board.xdc is not None:
        (out / "vivado" / f"{board.name}.xdc").write_text(board.xdc)
    for name in ("vitflow_driver.py", "csim_lib.cpp"):  # the host driver, and its C simulation library's ABI
        shutil.copy(src / "host" / name, out / "host" / name)
    (out / "design.json").write_text(json.dumps(design_record(cfg, part, clock_mhz, cosim_image), indent=1))
    return image


def design_record(cfg: HwConfig, part, clock_mhz: float, cosim_image) -> dict:
    """What the model says of the generated design: flow report compares a lab run with it."""
    from flow.estimate.resources import KINDS, estimate_resources
    from flow.estimate.timing import ddr_cycles_per_beat, op_time

    plan = cosim_image.plan
    cpb = ddr_cycles_per_beat(part, clock_mhz, plan.beat_bytes)
    res = estimate_resources(cfg)
    return {"top": TOP, "part": part.part, "part_name": part.name, "family": part.family, "clock_mhz": clock_mhz,
            "config": asdict(cfg), "resources": {k: res[k] for k in KINDS},
            # the co-simulation testbench runs the cosim/ program's check descriptors in one call of the top
            "cosim_cycles": sum(op_time(op, plan, cfg, cpb)["cycles"] for op in plan.check_ops)}


def write_data(image, program, data: Path, envs: list, patches: dict | None = None) -> None:
    """The program image and, per test image, the DDR activation area before (the inputs in place) and
    after (every region the reference's) a check run."""
    data.mkdir(parents=True, exist_ok=True)
    image.desc.astype("<i4").tofile(data / "program.desc")
    image.check_desc.astype("<i4").tofile(data / "check.desc")
    image.weights.tofile(data / "weights.bin")
    image.weights_desc.tofile(data / "weights_desc.bin")
    ddr_mask(image, program).tofile(data / "ddr_mask.bin")
    plan = image.plan
    tensors = {t: {"beat": off, "beats": beats, "shape": list(plan.layouts[t].shape), "eb": plan.layouts[t].eb,
                   "signed": plan.layouts[t].signed, "segments": list(plan.layouts[t].segments),
                   "tokens": plan.layouts[t].tokens, "lead": plan.layouts[t].lead, "stride": plan.layouts[t].stride}
               for t, (off, beats) in plan.ddr.items()}
    meta = {"lanes": plan.lanes, "beat_bytes": plan.beat_bytes, "ddr_beats": plan.ddr_beats, "desc_words": DESC_WORDS,
            "weight_ports": weight_ports(plan.lanes, plan.beat_bytes),
            "inputs": list(program.inputs), "outputs": list(program.outputs), "tensors": tensors,
            "layers": [{"name": l.name, "kind": l.kind, "outputs": list(l.outputs)} for l in program.layers],
            "operations": [{"kind": op.kind, "layer": op.layer, "role": op.role} for op in plan.check_ops],
            "patches": patches}
    (data / "tensors.json").write_text(json.dumps(meta, indent=1))
    for i, env in enumerate(envs):
        write_golden(image, program, env, data / f"img{i}")


def write_golden(image, program, env: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    input_area(image, program, env).tofile(folder / "ddr_in.bin")
    golden_area(image, program, env).tofile(folder / "ddr_golden.bin")
