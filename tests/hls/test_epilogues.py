"""Activations fused into the engine that produces their input (flow/hls/epilogues.py): exact on random
MBConv blocks, and only where the pair can fuse. The fused engines' C-simulation is in test_templates.py."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.estimate.fit import fitted_config
from flow.hls.epilogues import as_configured, check_fused, epilogue_entries, fuse_epilogues
from flow.hls.project import plan_for
from flow.lower.program import Layer, Program
from flow.reference import run_program

from .random_programs import random_mbconv


def _run(program, rng):
    x = rng.integers(*program.tensors["x"].range, size=program.tensors["x"].shape, endpoint=True)
    return run_program(program, {"x": x})


def test_fused_blocks_compute_every_tensor_of_the_original():
    rng = np.random.default_rng(7)
    for _ in range(12):
        block = random_mbconv(rng)
        fused = fuse_epilogues(block)
        assert [l.name for l in fused.layers][:3] == ["expand", "dw", "project"]
        assert fused.layers[0].outputs == ["e1"] and fused.layers[1].outputs == ["d1"]
        assert "e0" not in fused.tensors and "d0" not in fused.tensors
        assert epilogue_entries(fused) == 256 and fused.meta["fused_epilogues"] == 2
        check_fused(block, fused, [_run(block, rng)])  # includes e0 and d0, the codes the engines look up


def test_check_fused_catches_a_wrong_table():
    rng = np.random.default_rng(8)
    block = random_mbconv(rng)
    fused = fuse_epilogues(block)
    fused.layers[0].blobs["epilogue_table"] = np.roll(fused.layers[0].blobs["epilogue_table"], 1)
    with pytest.raises(FlowError, match="changed tensor 'e1'"):
        check_fused(block, fused, [_run(block, rng)])


def _pair(**change) -> Program:
    block = random_mbconv(np.random.default_rng(9))
    layers = block.layers
    for key, value in change.items():
        if key == "per_channel":
            layers[1].blobs["table"] = np.stack([layers[1].blobs["table"]] * block.tensors["e0"].shape[0])
        if key == "second_reader":  # the depthwise also reads the pre-activation codes (a concat would)
            layers.append(Layer("tap", "relu", ["e0"], ["t"], {"in_min": -128}, {"table": layers[1].blobs["table"]}))
            block.tensors["t"] = block.tensors["e0"]
            block.outputs.append("t")
    block.check()
    return block


@pytest.mark.parametrize("change", ["per_channel", "second_reader"])
def test_what_does_not_fuse_stays(change):
    block = _pair(**{change: True})
    fused = fuse_epilogues(block)
    assert fused.layer("expand").outputs == ["e0"] and "act0" in [l.name for l in fused.layers]
    assert fused.layer("dw").attrs["epilogue"]["layer"] == "act1"  # the other pair still fuses


def test_the_configuration_decides():
    block = random_mbconv(np.random.default_rng(10))
    fused = fuse_epilogues(block)
    cfg = fitted_config(fused, lanes=16)
    assert cfg.epi_entries == 256 and as_configured(block, cfg).layers[0].attrs["epilogue"]
    plain = fitted_config(block, lanes=16)
    assert plain.epi_entries == 0 and as_configured(block, plain) is block
    with pytest.raises(FlowError, match="epilogue table exceeds EPI_ENTRIES=0"):
        plan_for(fused, plain)
