"""Design-space exploration, the resource model and the estimate report."""

import dataclasses
import json
import math

import pytest

from flow.errors import FlowError
from flow.estimate.dse import DEFAULT_LIMITS, SPACE, _word_space, estimate, explore, program_variants, with_config
from flow.estimate.fit import fitted_config
from flow.estimate.report import write_report
from flow.estimate.resources import bram18, estimate_resources
from flow.hls.concat_in_place import concats_in_place
from flow.hls.epilogues import as_configured, fuse_epilogues
from flow.hls.residual_epilogues import fuse_residual_adds
from flow.hls.project import HwConfig
from flow.lower import lower_qonnx
from flow.parts import get_part


@pytest.fixture(scope="module")
def program(exported_b0):
    return lower_qonnx(exported_b0[1])


@pytest.mark.parametrize("part", ["xczu9eg", "xc7z020"])
def test_chosen_design_fits_and_is_the_fastest_that_does(program, part, tmp_path):
    p = get_part(part)
    best = explore(program, p, p.default_clock_mhz)
    for key, limit in DEFAULT_LIMITS.items():
        assert best["resources"][key] <= limit * p.resources[key]
    fused = fuse_epilogues(program)
    ladders = program_variants(program)  # (all concatenations in place, fewer, ..., none), fused or not
    chosen = ladders[0][0] if best["fused_epilogues"] else ladders[-1][0]
    variants = [v for ladder in ladders for v in ladder]
    assert best["fused_epilogues"] in (0, len(program.layers) - len(fused.layers))
    assert (best["config"]["epi_entries"] > 0) == (best["fused_epilogues"] > 0)
    with_adds = fuse_residual_adds(chosen, best["config"]["lanes"])  # and the residual adds, if chosen
    chosen = with_adds if best["fused_residual_adds"] else chosen
    assert best["fused_residual_adds"] in (0, with_adds.meta.get("fused_residual_adds", 0))
    assert best["config"]["res"] == (best["fused_residual_adds"] > 0)
    assert best["fps"] > 0 and best["gops"] > 0 and len(best["layers"]) == len(chosen.layers)
    # the project runs the program the search timed: its concatenations in place, or copies, as chosen
    assert concats_in_place(as_configured(program, with_config(best))) == best["concats_in_place"]
    assert sum(best["bounds"].values()) == len(chosen.layers)
    assert abs(sum(best["cycle_share"].values()) - 1) < 1e-9
    for variant in variants:  # every other fitting point of the space, fused or not, is no faster
        for lanes in (8, 16, 32):
            if lanes % p.beat_bytes == 0:
                for v in (variant, fuse_residual_adds(variant, lanes)):
                    designs, _, _ = _word_space(v, p, p.default_clock_mhz, DEFAULT_LIMITS, 32, lanes, True)
                    assert all(fps <= best["fps"] * (1 + 1e-9) for fps, _, _ in designs)
                    # depthwise tile pairs read the two banks that only two-word PE tiles give
                    assert all(cfg.tile_words == 2 for _, _, cfg in designs if cfg.dw_pairs)
    assert best["candidates"] > 5  # the search weighed several designs (few fit xc7z020's 220 DSPs)
    act = best["activations"]
    assert act["words"] == best["config"]["act_words"] and act["bytes"] == act["words"] * best["config"]["lanes"]
    write_report(best, tmp_path)
    assert json.loads((tmp_path / "estimate.json").read_text())["part"] == part
    md = (tmp_path / "estimate.md").read_text()
    assert "| layer | kind |" in md and "On-chip activation memory" in md
    assert (tmp_path / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_clock_is_chosen_among_the_parts(program):
    """Without a clock the search weighs each of the part's (200/250/300 MHz on xczu9eg); above 200 MHz
    the logic stays at most 70% full, and a clock gains at most its ratio (DDR beats take more cycles)."""
    p = get_part("xczu9eg")
    best, at200 = explore(program, p), explore(program, p, 200)
    assert best["clocks"] == [200, 250, 300] and best["clock_mhz"] == 300 and at200["clocks"] == [200]
    assert at200["fps"] < best["fps"] <= 1.5 * at200["fps"] * (1 + 1e-9)
    assert best["limits"]["lut"] == best["limits"]["ff"] == 0.7 and at200["limits"]["lut"] == 0.8
    assert best["utilisation"]["lut"] <= 0.7 and best["utilisation"]["ff"] <= 0.7
    # a part whose LUTs no design keeps 70% free runs at the clock where one fits
    roomy = {k: 10.0 for k in DEFAULT_LIMITS}
    least = min(estimate_resources(cfg)["lut"] for variant in (program, fuse_epilogues(program))
                for lanes in SPACE["lanes"] if lanes % p.beat_bytes == 0
                for _, _, cfg in _word_space(variant, p, 200, roomy, 32, lanes, True)[0])
    lean = dataclasses.replace(p, resources={**p.resources, "lut": int(least / 0.75)})
    assert explore(program, lean)["clock_mhz"] == 200


def test_a_part_with_little_block_ram_keeps_activations_in_ddr(program):
    p = get_part("xc7z020")
    roomy = explore(program, p, p.default_clock_mhz)
    assert not roomy["activations"]["in_ddr"]
    # the same part with block RAM for the buffers and a third of the activations of the leanest design of
    # any word: no design then holds all of its activations
    need = []
    for lanes, variant in ((n, v) for n in SPACE["lanes"] for ladder in program_variants(program) for v in ladder):
        if lanes % p.beat_bytes == 0:
            designs, _, _ = _word_space(variant, p, p.default_clock_mhz, DEFAULT_LIMITS, 32, lanes, True)
            need += [r["buffer_bram18"] + r["activation_bram18"] / 3
                     for r in (estimate_resources(cfg) for _, _, cfg in designs)]
    bram = math.ceil(min(need) / 0.8)
    tight = dataclasses.replace(p, resources={**p.resources, "bram18": bram})
    est = explore(program, tight, tight.default_clock_mhz)
    assert est["activations"]["in_ddr"] and est["activations"]["stripes"]
    assert est["resources"]["bram18"] <= 0.8 * bram and est["fps"] < roomy["fps"]


def test_a_part_too_small_is_an_error_naming_the_resource(program):
    p = get_part("xc7z020")
    tiny = dataclasses.replace(p, resources={**p.resources, "dsp": 40})
    with pytest.raises(FlowError, match=r"no design fits xc7z020: the smallest .* needs \d+ DSP of 40 \(80% limit\)"):
        explore(program, tiny, tiny.default_clock_mhz)


def test_resources_grow_with_the_word():
    small = estimate_resources(HwConfig(lanes=8, pe_rows=8, pe_cols=8, dw_lanes=8))
    big = estimate_resources(HwConfig(lanes=32, pe_rows=32, pe_cols=32, dw_lanes=32))
    assert all(big[k] >= small[k] for k in ("dsp", "bram18", "lut", "ff"))
    assert big["dsp"] - small["dsp"] >= (32 * 32 - 8 * 8) // 2  # the PE array: a DSP per two products


def test_the_pe_array_takes_a_dsp_per_pair_of_rows():
    cfg = HwConfig(lanes=32, pe_rows=32, pe_cols=32, dw_lanes=32)
    half = dataclasses.replace(cfg, pe_rows=16)
    assert estimate_resources(cfg)["dsp"] - estimate_resources(half)["dsp"] == 16 // 2 * 32 + 16 * 4  # + requantizers
    assert bram18(256, 512) == 8 and bram18(8, 2048) == 1 and bram18(16, 1024) == 1


def test_estimate_reports_the_activation_memory(program):
    cfg = fitted_config(program, lanes=16)
    est = estimate(program, cfg, get_part("xczu9eg"), 200)
    assert est["activations"]["bram18"] == estimate_resources(cfg)["activation_bram18"] > 0
    assert est["ddr_beats"] == sum(r["beats"] for r in est["layers"]) + est["io"]["beats"]


def test_the_weight_rows_are_a_bank_per_pe_row():
    # conv_pe.h: ROWS banks of 2 x (L / ROWS) x WDEPTH words of L bytes; a bank of 256 bits is 8 BRAM18 wide,
    # 512 deep, so fewer PE rows fill each bank's depth instead of adding width-bound banks
    from flow.estimate.resources import buffers

    cfg = HwConfig(lanes=32, pe_rows=32, pe_cols=32, dw_lanes=32, wdepth=64)
    assert buffers(cfg)["weight rows"]["bram18"] == 32 * bram18(256, 2 * 64) == 256
    assert buffers(dataclasses.replace(cfg, pe_rows=8))["weight rows"]["bram18"] == 8 * bram18(256, 2 * 4 * 64) == 64
