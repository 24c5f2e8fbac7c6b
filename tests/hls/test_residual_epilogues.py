"""Residual adds fused into the convolution that produces one of their operands (flow/hls/residual_epilogues.py):
exact on random pairs, only where the pair can fuse, and decided by the configuration. The fused engine's
C-simulation is in test_templates.py."""

import copy
from dataclasses import replace

import numpy as np
import pytest

from flow.errors import FlowError
from flow.estimate.fit import fitted_config
from flow.estimate.resources import estimate_resources
from flow.hls.epilogues import as_configured, check_fused
from flow.hls.project import plan_for
from flow.hls.residual_epilogues import fuse_residual_adds, residual_adds
from flow.lower.program import Layer
from flow.reference import run_program

from .random_programs import random_residual_conv


def _run(program, rng):
    return run_program(program, {t: rng.integers(*program.tensors[t].range, size=program.tensors[t].shape,
                                                 endpoint=True) for t in program.inputs})


def _fusing(seed: int, lanes: int = 16):
    rng = np.random.default_rng(seed)
    while True:
        program = random_residual_conv(rng)
        fused = fuse_residual_adds(program, lanes)
        if fused is not program:
            return program, fused, rng


def test_fused_pairs_compute_every_tensor_of_the_original():
    for seed in range(12):
        program, fused, rng = _fusing(seed)
        (conv,) = fused.layers
        assert conv.inputs == ["x", "r"] and conv.outputs == ["y"] and "p" not in fused.tensors
        res = conv.attrs["residual"]
        add = program.layer("add")
        k = add.inputs.index("p")  # the multipliers follow the operands, whichever the convolution's is
        assert (res["mult_conv"], res["mult_res"]) == (int(add.blobs["mult"][k]), int(add.blobs["mult"][1 - k]))
        assert residual_adds(fused) == 1 and fused.meta["fused_residual_adds"] == 1
        check_fused(program, fused, [_run(program, rng)])  # includes p, the codes the add takes


def test_check_fused_catches_a_wrong_multiplier():
    program, fused, rng = _fusing(3)
    fused.layers[0].attrs["residual"]["mult_res"] += 1 << 20
    with pytest.raises(FlowError, match="changed tensor 'y'"):
        check_fused(program, fused, [_run(program, rng)])


def test_what_does_not_fuse_stays():
    program, _, _ = _fusing(4)
    # a second reader of the convolution's codes keeps them a tensor: the add runs on its engine
    program.layers.append(Layer("tap", "add", ["p", "p"], ["t"], {"shift": 31}, {"mult": np.ones(2, np.int32)}))
    program.tensors["t"] = program.tensors["y"]
    program.outputs.append("t")
    program.check()
    assert fuse_residual_adds(program, 16) is program
    # a layer of several output words whose pixel takes fewer than 4 iterations: a 1 x 1 convolution of one
    # input word per pixel into two output words
    rng = np.random.default_rng(5)
    while True:
        pair = random_residual_conv(rng)
        x, y = pair.tensors["x"], pair.tensors["y"]
        conv = pair.layer("conv")
        if conv.attrs["kernel"] == [1, 1] and x.bits <= 8 and x.shape[0] <= 16 and 16 < y.shape[0] and y.bits <= 8:
            break
    assert fuse_residual_adds(pair, 16) is pair


def test_the_configuration_decides():
    program, fused, _ = _fusing(6)
    cfg = fitted_config(fused, lanes=16)
    # the residual add is built, and the add engine only for the co-simulation program's add if it stays
    assert cfg.res == 1 and as_configured(program, cfg).layers[0].attrs["residual"]
    plain = fitted_config(program, lanes=16)
    assert plain.res == 0 and plain.add_engine == 1 and as_configured(program, plain) is program
    with pytest.raises(FlowError, match=r"residual add as epilogue, on an accelerator without it \(RES=0\)"):
        plan_for(fused, plain)
    with pytest.raises(FlowError, match=r"without the add engine \(ADD_ENGINE=0\)"):
        plan_for(program, replace(cfg, add_engine=0))
    # a product is one DSP (multipliers below 2^24): the add engine's lanes share one over their two cycles;
    # the epilogue's take both every write
    both, res_only = estimate_resources(replace(cfg, add_engine=1)), estimate_resources(replace(cfg, add_engine=0))
    assert both["dsp"] - res_only["dsp"] == cfg.lanes
    assert res_only["dsp"] - estimate_resources(replace(cfg, res=0, add_engine=1))["dsp"] == cfg.lanes


def test_an_add_multiplier_of_more_than_24_bits_is_refused():
    # residual.h multiplies in one 25 x 18 DSP: a program lowered with wider add multipliers would compute
    # other codes in hardware than in the reference, so the project refuses it, fused or not
    program, fused, _ = _fusing(6)
    cfg = fitted_config(fused, lanes=16)
    plan_for(fused, cfg)
    wide = copy.deepcopy(fused)
    wide.layers[0].attrs["residual"]["mult_res"] = 1 << 24
    with pytest.raises(FlowError, match=r"the add's multipliers \[\d+, 16777216\] must lie in 1 \.\. 2\^24 - 1"):
        plan_for(wide, cfg)
    unfused = copy.deepcopy(program)
    unfused.layer("add").blobs["mult"] = np.array([1 << 25, 3])
    with pytest.raises(FlowError, match=r"layer add: the add's multipliers"):
        plan_for(unfused, replace(cfg, add_engine=1))
