"""Concatenations done in place (flow/hls/concat_in_place.py): exact on random multi-scale blocks, only where
the producers and readers can take views, and planned as one region with no operation. The C-simulation of
the placed blocks is in test_templates.py (test_concatenations_in_place)."""

from dataclasses import replace

import numpy as np
import pytest

from flow.errors import FlowError
from flow.estimate.fit import fitted_config
from flow.hls.concat_in_place import concats_in_place, place_concats, view_codes
from flow.hls.epilogues import as_configured, check_fused, fuse_epilogues
from flow.hls.project import check_fits, plan_for
from flow.lower.program import Layer
from flow.reference import run_program

from .random_programs import random_concat_block


def _block(seed: int, identity: bool = True, bits: int = 8):
    """A random block whose concatenation's first table is (or is not) the identity, of ``bits``-bit codes."""
    rng = np.random.default_rng(seed)
    while True:
        block = random_concat_block(rng)
        tab = block.layers[3].blobs["table0"]
        lo = block.layers[3].attrs["in_min"][0]
        if block.tensors["y"].bits == bits and np.array_equal(tab, lo + np.arange(tab.size)) == identity:
            return block


def _run(program, seed=0):
    x = program.tensors["x"]
    return run_program(program, {"x": np.random.default_rng(seed).integers(*x.range, size=x.shape, endpoint=True)})


def test_placed_blocks_compute_every_tensor_of_the_original():
    for seed in range(8):
        block = _block(seed)
        placed = place_concats(block, 256)
        concat = placed.layer("concat")
        assert concat.attrs["in_place"] and concats_in_place(placed) == 1
        # the rescaled input: its table is the grouped convolution's epilogue, which writes the output's codes
        assert placed.layer("mix").outputs == ["concat:in1"] and "b" not in placed.tensors
        assert placed.layer("mix").attrs["epilogue"]["kind"] == "concat"
        assert placed.layer("qkv").outputs == ["a"] and "epilogue" not in placed.layer("qkv").attrs
        env = _run(block, seed)
        check_fused(block, placed, [env])  # b too: the codes the epilogue looks up
        got = view_codes(placed, env)["concat:in1"]
        assert np.array_equal(got, env["y"][block.tensors["a"].shape[0]:])


def test_the_plan_gives_the_concatenation_one_region_and_no_operation():
    block = place_concats(_block(3), 256)
    cfg = fitted_config(block, 32, lanes=16)
    plan = plan_for(block, cfg)
    assert cfg.concat_engine == 0 and "concat" not in [op.kind for op in plan.ops]
    y, a, b = (plan.layouts[t] for t in ("y", "a", "concat:in1"))
    assert plan.onchip["a"] == plan.onchip["concat:in1"] == plan.onchip["y"]
    assert (a.lead, b.lead) == (0, a.words_per_pixel) and a.pixel_words == b.pixel_words == y.words_per_pixel
    base = plan.onchip["y"][0]
    ops = {op.fields["LAYER"]: op.fields for op in plan.ops if op.kind in ("conv", "dwconv")}
    qkv, agg, mix = (ops[i] for i in range(3))
    # the producers write the output's pixels, each from its first word; the depthwise reads the first view
    assert (qkv["OUT"], qkv["CW_OUT"], qkv["TILES"]) == (base, y.words_per_pixel, a.words_per_pixel)
    assert (mix["OUT"], mix["CW_OUT"], mix["TILES"]) == (base + a.words_per_pixel, y.words_per_pixel,
                                                         b.words_per_pixel)
    assert (agg["IN0"], agg["CW_IN"]) == (base, y.words_per_pixel)
    # no other tensor shares the region while any of the three is live: from qkv to the last reader (out)
    for t, (addr, words) in plan.onchip.items():
        if t not in ("a", "concat:in1", "y", "x"):
            assert addr >= base + y.words or addr + words <= base, t


def test_without_epilogue_tables_only_identity_inputs_go_in_place():
    block = _block(4)
    assert place_concats(block, 0) is block  # the rescale needs the tables
    assert place_concats(block, 128) is block  # 256 entries do not fit 128


def _identities(block):
    """``block`` with both of its concatenation's tables the identity (no epilogue needed)."""
    concat = block.layers[3]
    for k in range(2):
        lo = concat.attrs["in_min"][k]
        concat.blobs[f"table{k}"] = (lo + np.arange(concat.blobs[f"table{k}"].size)).astype(np.int16)
    return block


def _wide_block(dw_bits: int):
    """A block of 12-bit codes (16-bit elements), identity tables, whose depthwise writes ``dw_bits``."""
    for seed in range(100):
        block = _block(seed, bits=12)
        if block.tensors["d"].bits == dw_bits:
            return _identities(block)
    raise AssertionError("no such block")


def test_identity_tables_need_no_epilogue_and_wide_codes_go_in_place():
    block = _wide_block(12)
    placed = place_concats(block, 0)
    assert placed.layer("concat").attrs["in_place"] and placed.layer("mix").outputs == ["b"]
    check_fused(block, placed, [_run(block)])


@pytest.mark.parametrize("change", ["table_reader", "rescaled_read_twice", "second_input", "narrowing_dw"])
def test_what_cannot_take_a_view_stays_a_copy(change):
    if change == "narrowing_dw":  # 16-bit codes into an 8-bit depthwise: two input words an output word
        block = _wide_block(8)
    else:
        block = _block(5, identity=change != "rescaled_read_twice")  # a rescaled a that the depthwise reads too
    if change == "table_reader":  # a table unit would read a at its own words per pixel
        block.layers.append(Layer("tap", "relu", ["a"], ["t"], {"in_min": -128},
                                  {"table": np.arange(-128, 128, dtype=np.int16)}))
        block.tensors["t"] = block.tensors["a"]
        block.outputs.append("t")
    elif change == "second_input":  # a convolution reading a as its second input (a residual's place)
        conv = block.layers[4]
        block.layers[4] = Layer(conv.name, conv.kind, [conv.inputs[0], "a"], conv.outputs, conv.attrs, conv.blobs)
    block.check()
    assert place_concats(block, 256) is block


def test_the_design_remembers_whether_its_concatenations_are_copies():
    """A design fitted to the copies (the search may choose them) runs them as copies; one fitted to the
    placed program places them again (flow/steps/hls.py configures the program by the design)."""
    block = fuse_epilogues(_block(7))
    copies, placed = (fitted_config(p, 32, lanes=16) for p in (block, place_concats(block, 256)))
    assert (copies.in_place_elements, copies.concat_engine) == (0, 1)
    assert (placed.in_place_elements, placed.concat_engine) == (int(np.prod(block.tensors["y"].shape)), 0)
    assert concats_in_place(as_configured(block, replace(copies, epi_entries=256))) == 0  # tables to place with
    assert concats_in_place(as_configured(block, replace(placed, epi_entries=256))) == 1


def test_only_the_concatenations_the_design_chose_go_in_place():
    """The search may place only the smaller concatenations (a larger one pinned on chip would send other
    tensors to DDR): a size limit in output elements, which the design fitted to the program records and
    the project repeats."""
    block = _block(8)
    size = int(np.prod(block.tensors["y"].shape))
    assert place_concats(block, 256, size - 1) is block
    placed = place_concats(block, 256, size)
    assert concats_in_place(placed) == 1
    cfg = fitted_config(placed, 32, lanes=16)
    assert cfg.in_place_elements == size
    assert concats_in_place(as_configured(block, cfg)) == 1
    assert concats_in_place(as_configured(block, replace(cfg, in_place_elements=size - 1))) == 0


def test_a_design_without_the_concat_unit_refuses_a_copy():
    block = _block(6)
    cfg = fitted_config(place_concats(block, 256), 32, lanes=16)
    assert cfg.concat_engine == 0
    with pytest.raises(FlowError, match=r"without the concat engine \(CONCAT_ENGINE=0\)"):
        check_fits(block, cfg)
