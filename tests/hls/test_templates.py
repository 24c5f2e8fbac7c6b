"""Each HLS template, C-simulated (g++ + hls4ml's ap_types) with the II audit on, on random shapes and
values per layer kind: bit-exact against the numpy integer reference (flow/reference/kernels.py), every
loop audit-clean at its II, and every count the audit makes (iterations, II cycles, loop entries and fills,
DDR beats and bursts per port) equal to the cycle model's (flow/estimate/counts.py). Three accelerators:
L = 16 and 32 bytes per word with 16-byte AXI beats (a word is one and two beats), and L = 8 with the
8-byte beats of Zynq-7000; PE arrays and depthwise lanes narrower than the word (rows in passes, input
lanes in splits) on each; the linear attention's products two per DSP on the first two, one per DSP on
the third; depthwise filters in folds of 9 and 4 window positions on the first and the third; a PE array of
2 L rows (tiles of two output words) on the third; residual adds as the PE array's epilogue on all three
(its add engine built too).

Fuzzing: each case has its own fixed seed (from its kind, case number and the test), printed with the kind
and case in every failure message, so one case reruns alone. VITFLOW_FUZZ_CASES=N sets the cases per kind
and accelerator (default 10: 30 per kind); the slow test runs 500 per kind. Every case's inputs hold the
edge codes too: a row of the minimal code, one of the maximal and one of the zero code."""

import os
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from flow.errors import FlowError
from flow.estimate.counts import attention_shape, layer_counts
from flow.hls.concat_in_place import place_concats
from flow.hls.csim import compile_csim, run_csim
from flow.hls.epilogues import fuse_epilogues
from flow.hls.image import build_image
from flow.hls.project import HwConfig, plan_for, write_data, write_project
from flow.hls.residual_epilogues import fuse_residual_adds
from flow.parts import get_part
from flow.reference import run_program

from .random_programs import MAKERS, random_concat_block, random_mbconv, random_program, random_residual_conv

CASES = int(os.environ.get("VITFLOW_FUZZ_CASES", "10"))  # per kind and accelerator
SLOW_CASES = 500  # per kind, over the three accelerators
STRIPED = ("conv", "dwconv", "hardswish", "relu", "add", "concat")
ACCELERATORS = {  # id: (part, configuration fitting every random layer)
    "L16": ("xczu9eg", HwConfig(lanes=16, pe_rows=4, pe_cols=8, dw_lanes=8, dw_taps=9, wdepth=1024, tab_entries=4096, sh_words=8, att_d_max=16, att_rows=4,
                                att_dividers=2, act_words=8192, epi_entries=256, att_pack=1, res=1)),
    "L32": ("xczu9eg", HwConfig(lanes=32, pe_rows=32, pe_cols=16, dw_lanes=32, wdepth=512, tab_entries=4096, sh_words=4, att_d_max=16, att_rows=8,
                                att_dividers=16, act_words=8192, epi_entries=256, att_pack=1, res=1)),
    "L8": ("xc7z020", HwConfig(lanes=8, pe_rows=16, pe_cols=8, dw_lanes=2, dw_taps=4, wdepth=2048, tab_entries=4096, sh_words=16, att_d_max=16, att_rows=2,
                               att_dividers=1, act_words=16384, beat_bytes=8, epi_entries=256, res=1, dw_pairs=1)),
}


@pytest.fixture(scope="module", params=list(ACCELERATORS))
def accelerator(request, tmp_path_factory):
    """(configuration, compiled testbench): the layer sequence is data, so every random program runs on one
    binary per configuration."""
    part, cfg = ACCELERATORS[request.param]
    project = tmp_path_factory.mktemp(f"hls_{request.param}")
    program = random_program("relu", np.random.default_rng(0))
    env = run_program(program, {"x0": np.zeros(program.tensors["x0"].shape, np.int64)})
    write_project(program, [env], project, get_part(part), 200, cfg)
    return cfg, compile_csim(project)


def _seeded(*parts) -> tuple:
    """(seed, its generator) of one case, from its kind, number and test."""
    seed = zlib.crc32("/".join(str(p) for p in parts).encode())
    return seed, np.random.default_rng(seed)


def _inputs(program, rng) -> dict:
    """Random codes over each input's range, with the edges: in a feature map, one row of the minimal code,
    one of the maximal and one of the zero code (the zero point), each at a random row."""
    out = {}
    for n in program.inputs:
        t = program.tensors[n]
        x = rng.integers(*t.range, size=t.shape, endpoint=True)
        if x.ndim == 3:
            for code in (t.range[0], t.range[1], t.zero_point):
                x[:, int(rng.integers(0, x.shape[1])), :] = code
        else:
            x[int(rng.integers(0, x.size))] = t.range[0]
            x[int(rng.integers(0, x.size))] = t.range[1]
        out[n] = x
    return out


def _check(program, env, cfg, exe, folder: Path, what: str) -> dict:
    image = build_image(program, plan_for(program, cfg))
    write_data(image, program, folder / "data", [env])
    result = run_csim(folder, exe)
    assert result["bit_exact"], (what, result.get("first_mismatch"))
    assert result["counts"] == layer_counts(image.plan, program, cfg, check=True), what
    return result


def _fuzz(kind, accelerator, tmp_path, cases, test):
    cfg, exe = accelerator
    for case in range(cases):
        seed, rng = _seeded(test, kind, case, cfg.lanes)
        what = f"{kind} case {case} seed {seed} (L={cfg.lanes})"
        try:
            program = random_program(kind, rng)
            env = run_program(program, _inputs(program, rng))
            _check(program, env, cfg, exe, tmp_path / f"case{case}", f"{what}: {program.layers[0].attrs}")
        except (FlowError, ValueError, KeyError, IndexError) as exc:  # the case names itself, whatever broke
            raise AssertionError(f"{what}: {type(exc).__name__}: {exc}") from exc


@pytest.mark.parametrize("kind", list(MAKERS))
def test_template_bit_exact_audited_and_counted(kind, accelerator, tmp_path):
    _fuzz(kind, accelerator, tmp_path, CASES, "fuzz")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(MAKERS))
def test_template_fuzz_500_per_kind(kind, accelerator, tmp_path):
    _fuzz(kind, accelerator, tmp_path, -(-SLOW_CASES // len(ACCELERATORS)), "fuzz500")


@pytest.mark.parametrize("kind", STRIPED)
def test_layers_through_ddr_in_row_stripes(kind, accelerator, tmp_path):
    """With room for a few rows only, the input and output move to DDR and the layer runs in row stripes:
    still bit-exact and counted (each case that cannot fit even one stripe is an error naming the need)."""
    cfg, exe = accelerator
    striped = 0
    for case in range(CASES):
        seed, rng = _seeded("stripes", kind, case, cfg.lanes)
        program = random_program(kind, rng)
        env = run_program(program, _inputs(program, rng))
        need = plan_for(program, cfg).act_words
        for share in (0.7, 0.5, 0.35):  # the most room that still moves a tensor to DDR and fits its stripes
            small = replace(cfg, act_words=int(need * share))
            try:
                plan = plan_for(program, small)
            except FlowError as exc:
                assert "nothing more to move there" in str(exc)
                continue
            _check(program, env, small, exe, tmp_path / f"case{case}_{share}", f"{kind} case {case} seed {seed} {share}")
            striped += bool(plan.spilled)
            break
    assert striped >= 2, f"only {striped} of {CASES} {kind} cases went through DDR"


def test_fused_mbconv_blocks(accelerator, tmp_path):
    """Random MBConv blocks with their activations fused into the expand and depthwise engines (epilogue.h)
    and their residual add into the projection (conv_pe.h RES) when the word lets it: the fused block's every
    layer bit-exact against the unfused block's reference, audit-clean and counted; once more with room for
    a few rows only, so that the block's tensors go through DDR in row stripes."""
    cfg, exe = accelerator
    striped, residual = 0, 0
    for case in range(CASES):
        seed, rng = _seeded("mbconv", case, cfg.lanes)
        block = random_mbconv(rng)
        fused = fuse_epilogues(block)
        assert [l.kind for l in fused.layers][:2] == ["conv", "dwconv"] and len(fused.layers) == len(block.layers) - 2
        fused = fuse_residual_adds(fused, cfg.lanes)
        if block.layers[-1].kind == "add" and "residual" in fused.layers[-1].attrs:
            assert [l.kind for l in fused.layers] == ["conv", "dwconv", "conv"]
            residual += 1
        env = run_program(block, _inputs(block, rng))
        what = f"mbconv case {case} seed {seed}"
        _check(fused, env, cfg, exe, tmp_path / f"case{case}", what)
        small = replace(cfg, act_words=int(plan_for(fused, cfg).act_words * 0.6))
        try:
            plan = plan_for(fused, small)
        except FlowError as exc:
            assert "nothing more to move there" in str(exc)
            continue
        _check(fused, env, small, exe, tmp_path / f"case{case}_striped", what + " striped")
        striped += bool(plan.spilled)
    assert striped >= 2, f"only {striped} of {CASES} blocks went through DDR"
    assert residual >= 2, f"only {residual} of {CASES} blocks fused their residual add"


@pytest.mark.parametrize("accelerator", ["L8"], indirect=True)
def test_a_pixel_of_one_iteration_writes_its_two_words_at_once(accelerator, tmp_path):
    """A PE array of 2 L rows and L columns (tiles of two output words) on a convolution whose tile takes one
    iteration a pixel (one input word, a 1 x 1 kernel): both words leave in that iteration, one to each bank
    of the activation memory (word.h write_pair). Bit-exact, audit-clean (the pair one access) and counted
    at one iteration a pixel, beside cases whose pixels take more."""
    cfg, exe = accelerator
    assert cfg.tile_words == 2 and cfg.pe_cols == cfg.lanes
    paths = {"pair": 0, "later": 0}
    for case in range(400):
        seed, rng = _seeded("pair", case, cfg.lanes)
        program = random_program("conv", rng)
        plan = plan_for(program, cfg)
        (op,) = [o for o in plan.ops if o.kind == "conv"]
        if op.fields["TILES"] < 2:
            continue
        rows = plan.tile_words * (cfg.lanes // op.fields["EB_OUT"])
        per = -(-rows // cfg.pe_rows) * op.fields["KH"] * op.fields["KW"]
        path = "pair" if min(nw for _, nw in op.tiles) * per == 1 else "later"
        if paths[path] >= 4:
            continue
        paths[path] += 1
        _check(program, run_program(program, _inputs(program, rng)), cfg, exe, tmp_path / f"case{case}",
               f"pair case {case} seed {seed} ({path})")
        if min(paths.values()) >= 4:
            break
    assert min(paths.values()) >= 4, paths


@pytest.mark.parametrize("accelerator", ["L8"], indirect=True)
def test_depthwise_tile_pairs(accelerator, tmp_path):
    """On a design with tile pairs (DW_PAIRS = 1: the activation memory's two banks), a depthwise layer of
    equal element widths and an even number of output words runs two words a tile (dwconv.h): each pair's
    input words one read of each bank, the windows walked once. Bit-exact, audit-clean and counted at the
    pair's iterations, fewer than two single tiles'; strided and not, with folds (DW_TAPS = 4) and passes
    (DW_LANES = 2); the layers the pairs cannot take (odd words, a width change) run as single tiles."""
    cfg, exe = accelerator
    assert cfg.dw_pairs and cfg.tile_words == 2
    seen = {"pair s1": 0, "pair s2": 0, "single": 0}
    for case in range(400):
        seed, rng = _seeded("dwpair", case, cfg.lanes)
        program = random_program("dwconv", rng)
        plan = plan_for(program, cfg)
        (op,) = [o for o in plan.ops if o.kind == "dwconv"]
        path = f"pair s{op.fields['SH']}" if op.fields.get("DW_PAIR") else "single"
        if seen.get(path, 4) >= 4:
            continue
        seen[path] += 1
        _check(program, run_program(program, _inputs(program, rng)), cfg, exe, tmp_path / f"case{case}",
               f"dw pair case {case} seed {seed} ({path})")
        if path != "single":  # the pair's iterations: fewer than the same layer's single tiles
            single = layer_counts(plan, program, replace(cfg, dw_pairs=0), check=True)
            paired = layer_counts(plan, program, cfg, check=True)
            name = program.layers[op.layer].name
            assert paired[name]["iterations"] < single[name]["iterations"], (case, seed)
        if min(seen.values()) >= 4:
            break
    assert min(seen.values()) >= 4, seen


@pytest.mark.parametrize("accelerator", ["L8"], indirect=True)
def test_input_word_pairs(accelerator, tmp_path):
    """A layer whose last tile has one output word on a PE array of 2 L rows, with an even number of input
    words there, takes them in pairs (conv_pe.h KSPLIT): the idle half of the rows multiplies the odd words
    and row r's code comes from rows r and L + r. Bit-exact, audit-clean (a step's two words one read of
    each bank) and counted at half the steps; pointwise and k x k kernels, 16-bit inputs, linear layers and
    fused residual adds all occur."""
    cfg, exe = accelerator
    assert cfg.tile_words == 2
    seen = set()
    for case in range(300):
        seed, rng = _seeded("input word pairs", case, cfg.lanes)
        kind = ("conv", "linear", "residual")[case % 3]
        program = random_residual_conv(rng) if kind == "residual" else random_program(kind, rng)
        program = fuse_residual_adds(program, cfg.lanes) if kind == "residual" else program
        ops = [o for o in plan_for(program, cfg).ops if o.fields.get("KSPLIT")]
        if not ops:
            continue
        f = ops[0].fields
        new = {kind, "k x k" if f["KH"] * f["KW"] > 1 else "1 x 1", f"{8 * f['EB_IN0']}-bit input",
               "residual fused" if f.get("RES") else "no residual"} - seen
        if not new:
            continue
        seen |= new
        env = run_program(program, _inputs(program, rng))
        _check(program, env, cfg, exe, tmp_path / f"case{case}", f"input word pairs case {case} seed {seed}")
    need = {"conv", "linear", "1 x 1", "k x k", "8-bit input", "16-bit input", "residual fused", "no residual"}
    assert need <= seen, sorted(need - seen)


@pytest.mark.parametrize("accelerator", ["L8"], indirect=True)
def test_pixel_pairs(accelerator, tmp_path):
    """A 1 x 1 stride-1 convolution of one input and one output word a pixel on a PE array of 2 L rows
    computes two neighbouring pixels an iteration over the two halves of rows (conv_pe.h PPAIR): their input
    words one read, their output words one write, each of one port of each bank. Bit-exact, audit-clean and
    counted at half the pixels, on chip and in row stripes through DDR, and on an array of L / 2 columns (a
    pixel of two splits, its two words written at its last)."""
    cfg, exe = accelerator
    narrow = replace(cfg, pe_cols=cfg.lanes // 2)
    program = random_program("relu", np.random.default_rng(0))
    write_project(program, [run_program(program, {"x0": np.zeros(program.tensors["x0"].shape, np.int64)})],
                  tmp_path / "narrow", get_part("xc7z020"), 100, narrow)
    narrow_exe = compile_csim(tmp_path / "narrow")
    done = {"on chip": 0, "striped": 0, "narrow": 0}
    for case in range(400):
        seed, rng = _seeded("pixel pairs", case, cfg.lanes)
        program = random_program("conv", rng)
        if not any(o.fields.get("PPAIR") for o in plan_for(program, cfg).ops):
            continue
        env = run_program(program, _inputs(program, rng))
        _check(program, env, cfg, exe, tmp_path / f"case{case}", f"pixel pairs case {case} seed {seed}")
        done["on chip"] += 1
        if done["narrow"] < 2:
            _check(program, env, narrow, narrow_exe, tmp_path / f"case{case}n", f"pixel pairs case {case} narrow")
            done["narrow"] += 1
        small = replace(cfg, act_words=int(plan_for(program, cfg).act_words * 0.5))
        try:
            plan = plan_for(program, small)
        except FlowError:
            continue
        if plan.spilled and any(o.fields.get("PPAIR") for o in plan.ops):
            _check(program, env, small, exe, tmp_path / f"case{case}s", f"pixel pairs case {case} seed {seed} striped")
            done["striped"] += 1
        if min(done.values()) >= 2:
            break
    assert min(done.values()) >= 2, done


def test_attention_outputs_beside_the_next_tokens_rows(accelerator, tmp_path):
    """The linear attention's output loop (linear_attention.h loop 3) computes a token's outputs beside the
    next token's rows, in periods of max(row steps, output steps): bit-exact, audit-clean (a q read, a read
    back and a write never meet in one iteration) and counted, on groups whose outputs overlap the rows and,
    on the 32-byte word, groups whose single output step reads a word back and so keeps its own iteration."""
    cfg, exe = accelerator
    paths = set()
    for case in range(6):
        seed, rng = _seeded("attention periods", case, cfg.lanes)
        program = random_program("linear_attention", rng)
        _check(program, run_program(program, _inputs(program, rng)), cfg, exe, tmp_path / f"case{case}",
               f"attention case {case} seed {seed}")
        (op,) = [o for o in plan_for(program, cfg).ops if o.kind == "linear_attention"]
        steps, outs = attention_shape(op.fields, cfg)
        block, lanes_out, obl = op.fields["OUT_BLOCK_LANES"], cfg.lanes // op.fields["EB_OUT"], 0
        for _ in range(op.fields["G"]):
            paths.add("read back alone" if obl > 0 and outs == 1 else "overlap")
            obl = (obl + block) % lanes_out if block else 0
    assert "overlap" in paths and ("read back alone" in paths or cfg.lanes != 32), paths


def test_residual_add_as_the_pe_arrays_epilogue(accelerator, tmp_path):
    """Random convolutions whose output a residual add takes (either operand), the add fused into the PE
    array (conv_pe.h RES) wherever the word lets it: bit-exact, audit-clean and counted, as the unfused pair
    is; pixels of one iteration (a stall reads the residual; with two banks, one output word a pixel and even
    pixels, in pixel pairs: a pair's residual words one read, its outputs one write, conv_pe.h), tiles of one
    output word and of two (two residual reads before the first write) all occur."""
    cfg, exe = accelerator
    paths = set()
    for case in range(2 * CASES):
        seed, rng = _seeded("residual", case, cfg.lanes)
        program = random_residual_conv(rng)
        fused = fuse_residual_adds(program, cfg.lanes)
        env = run_program(program, _inputs(program, rng))
        what = f"residual case {case} seed {seed}"
        if fused is program:
            paths.add("unfused")
            _check(program, env, cfg, exe, tmp_path / f"case{case}", what)
            continue
        assert [l.kind for l in fused.layers] == ["conv"] and fused.layers[0].outputs == ["y"]
        _check(fused, env, cfg, exe, tmp_path / f"case{case}", what)
        plan = plan_for(fused, cfg)
        op = next(o for o in plan.ops if o.fields.get("RES"))
        rows = plan.tile_words * (cfg.lanes // op.fields["EB_OUT"])
        per = -(-rows // cfg.pe_rows) * -(-cfg.lanes // cfg.pe_cols) * op.fields["KH"] * op.fields["KW"]
        pixels = (op.fields["ROW_END"] - op.fields["ROW_BEGIN"]) * op.fields["W_OUT"]
        pairs = plan.tile_words > 1 and op.fields["TILES"] == 1 and op.fields["CW_OUT"] == 1 and pixels % 2 == 0
        paths.add(("pixel pairs" if pairs else "stall") if min(nw for _, nw in op.tiles) * per == 1 else
                  "two words" if plan.tile_words > 1 and op.fields["TILES"] > 1 else "one word")
    need = {"one word", "unfused"} | ({"two words"} if cfg.tile_words > 1 else set())
    if cfg.pe_rows >= cfg.lanes and cfg.pe_cols == cfg.lanes:  # a pixel of one input word takes one iteration
        need |= {"stall", "pixel pairs"} if cfg.tile_words > 1 else {"stall"}
    assert need <= paths, f"paths {sorted(paths)} of {2 * CASES} cases"


def test_concatenations_in_place(accelerator, tmp_path):
    """Random multi-scale blocks (a convolution, a depthwise one and a grouped 1 x 1 feeding a concatenation)
    with the concatenation done in place wherever it can be: the producers write its pixels (views: their
    CW_OUT its words per pixel, their OUT past the words before theirs), the depthwise reads the first
    input through its view, the rescaling table runs as the grouped convolution's epilogue, and no operation
    is left for the concatenation. Every layer bit-exact against the unplaced block's reference (the views
    included), audit-clean and counted; the blocks left as copies run too."""
    cfg, exe = accelerator
    placed = 0
    for case in range(CASES):
        seed, rng = _seeded("concat", case, cfg.lanes)
        block = random_concat_block(rng)
        hw = place_concats(block, cfg.epi_entries)
        what = f"concat case {case} seed {seed}"
        _check(hw, run_program(block, _inputs(block, rng)), cfg, exe, tmp_path / f"case{case}", what)
        if hw is not block:
            placed += 1
            assert "concat" not in [op.kind for op in plan_for(hw, cfg).ops], what
    assert CASES // 4 <= placed < CASES, f"{placed} of {CASES} concatenations went in place"
