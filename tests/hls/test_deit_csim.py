"""A two-block DeiT (tests/conftest.py's exported_deit, power-of-two and free scales) on the accelerator:
the design the exploration picks for xczu9eg (the patch embedding on the image's patches, GELU fused into
the first MLP linear), its project C-simulated on real images under the II audit,
every layer's output (each of q, k and v too) equal to the integer reference's, and the audit's counts
equal to the cycle model's, layer by layer; the project's co-simulation program, token branch included, runs
bit-exact too. The design has no depthwise or linear-attention engine, and its co-simulation program none of
those layers."""

from dataclasses import replace

from flow.estimate.counts import layer_counts
from flow.estimate.dse import explore, with_config
from flow.hls.csim import compile_csim, run_csim
from flow.hls.epilogues import as_configured
from flow.hls.input_patches import on_patches, with_patches
from flow.hls.project import write_project
from flow.lower import lower_qonnx
from flow.parts import get_part
from flow.reference.compare import activation_quants
from flow.reference.executor import run_program

from ..models.deit_cases import quantized_deit


def _on_chosen_design(program, path, images, folder, adjust=None) -> dict:
    """As `flow build` does (flow/steps/hls.py): the patch embedding on the image's patches, the design the
    exploration picks for xczu9eg at 200 MHz, the activations fused into their producers as it chose; the
    project written for ``images`` and C-simulated; ``adjust`` (a function of the chosen configuration) makes
    another design from it. {patched, patches, est, cfg, hw, envs, image, result}."""
    part = get_part("xczu9eg")
    patched, patches = on_patches(program)
    est = explore(patched, part, 200)
    cfg = adjust(with_config(est)) if adjust else with_config(est)
    hw = as_configured(patched, cfg)
    quant = activation_quants(path)[program.inputs[0]]
    envs = [run_program(program, {program.inputs[0]: quant.codes(x.numpy())}, dump_internal=False) for x in images]
    image = write_project(hw, [with_patches(env, patches) for env in envs], folder, part, 200, cfg, patches=patches)
    exe = compile_csim(folder)
    return {"patched": patched, "patches": patches, "est": est, "cfg": cfg, "hw": hw, "envs": envs,
            "image": image, "result": run_csim(folder, exe), "exe": exe}


def test_deit_runs_bit_exact_and_counted_on_the_accelerator(exported_deit, tmp_path):
    _, path, images = exported_deit
    program = lower_qonnx(path)
    run = _on_chosen_design(program, path, images[:2], tmp_path / "hls")
    fused, cfg, result = run["hw"], run["cfg"], run["result"]
    assert run["patches"] is not None and run["patched"].layers[0].attrs["kernel"] == [1, 1]
    assert cfg.tf == 1 and run["est"]["fps"] > 0
    assert cfg.dw_engine == cfg.att_engine == 0  # a DeiT has no depthwise conv or linear attention
    assert [l.attrs["epilogue"]["kind"] for l in fused.layers if "epilogue" in l.attrs] == ["gelu"] * 2
    kinds = {op.kind for op in run["image"].plan.ops}
    assert {"add_const", "softmax", "token_layernorm", "matmul", "requant", "linear"} <= kinds
    assert result["bit_exact"] and result["layers_exact"] == len(fused.layers) == result["layers"]
    model = layer_counts(run["image"].plan, fused, cfg, check=True)
    assert model == result["counts"]
    # the co-simulation program's token branch: Vitis' RTL co-simulation exercises the transformer engines
    cosim = run_csim(tmp_path / "hls", run["exe"], data="cosim")
    assert cosim["bit_exact"] and cosim["layers_exact"] == cosim["layers"]
    assert {"patch0", "pos0", "tln0", "qkv0", "qk0", "softmax0", "av0", "cls0", "head0"} <= set(cosim["counts"])
    # the residual adds run inside the projections that produce them when the design has the epilogue
    assert cfg.res and fused.meta["fused_residual_adds"] == run["est"]["fused_residual_adds"] > 0
    assert "add2" not in cosim["counts"]
    assert not {"dwconv0", "dwconv1", "attention0"} & set(cosim["counts"]) and "conv4" in cosim["counts"]


def test_heads_narrower_than_a_word_choose_a_word_they_fill(tmp_path):
    """Heads of 16 channels merge into tokens only in words of at most 16 lanes: the exploration skips the
    wider words (whose layout it cannot make) and the design it picks runs bit-exact."""
    _, path, images = quantized_deit(tmp_path / "q", heads=4, po2_scales=True)
    run = _on_chosen_design(lower_qonnx(path), path, images[:1], tmp_path / "hls")
    assert run["cfg"].lanes <= 16
    assert run["result"]["bit_exact"] and run["result"]["layers_exact"] == len(run["hw"].layers)


def test_head_projections_on_two_word_tiles_take_their_input_words_in_pairs(tmp_path):
    """On a PE array of 2 L rows (tiles of two output words), a q/k/v projection's head of one output word
    runs its input words in pairs over the array's two halves of rows (conv_pe.h KSPLIT, the head's part of
    the stream packed so: streams.input_word_pairs): bit-exact and counted."""
    _, path, images = quantized_deit(tmp_path / "q", heads=4, po2_scales=True)
    run = _on_chosen_design(lower_qonnx(path), path, images[:1], tmp_path / "hls",
                            adjust=lambda c: replace(c, pe_rows=2 * c.lanes, res=0, add_engine=1))
    assert any(op.fields.get("KSPLIT") for op in run["image"].plan.ops if op.kind == "linear")
    result, hw = run["result"], run["hw"]
    assert result["bit_exact"] and result["layers_exact"] == len(hw.layers)
    assert layer_counts(run["image"].plan, hw, run["cfg"], check=True) == result["counts"]


def test_two_scale_softmax_and_gelu_run_bit_exact(tmp_path):
    """TSPTQ's value-aware two scales (W6A6, power-of-two scales) on the GELU and softmax outputs: the
    softmax unit rounds the codes above the fine range to the coarse scale, the attn v product reads
    them as unsigned bytes, and the design runs bit-exact and counted."""
    _, path, images = quantized_deit(tmp_path / "q", po2_scales=True, value_two_scale=True, act_bits=6,
                                     weight_bits=6)
    program = lower_qonnx(path)
    softmax = next(l for l in program.layers if l.kind == "softmax")
    assert softmax.attrs["two_shift"] >= 1
    run = _on_chosen_design(program, path, images[:1], tmp_path / "hls")
    assert (run["envs"][0][softmax.outputs[0]] > softmax.attrs["fine_max"]).any()  # the coarse region is exercised
    result, hw = run["result"], run["hw"]
    assert result["bit_exact"] and result["layers_exact"] == len(hw.layers)
    assert layer_counts(run["image"].plan, hw, run["cfg"], check=True) == result["counts"]


def test_an_eight_bit_token_stream_runs_bit_exact(tmp_path):
    """W6A6 with the token stream at 8 bits (token_bits): the adds read a 6-bit addend and the 8-bit stream,
    the token LayerNorms an 8-bit input, and the design runs bit-exact and counted."""
    _, path, images = quantized_deit(tmp_path / "q", po2_scales=True, act_bits=6, weight_bits=6, token_bits=8)
    program = lower_qonnx(path)
    assert {program.tensors[l.inputs[0]].bits for l in program.layers if l.kind == "layernorm"} == {8}
    run = _on_chosen_design(program, path, images[:1], tmp_path / "hls")
    result, hw = run["result"], run["hw"]
    assert result["bit_exact"] and result["layers_exact"] == len(hw.layers)
    assert layer_counts(run["image"].plan, hw, run["cfg"], check=True) == result["counts"]


def test_a_layernorm_shift_past_the_dividers_width_is_refused(exported_deit):
    """The token LayerNorm's small-quotient dividers take divisors sigma 2^K of at most 48 bits (K <= 26):
    a larger K is a FlowError naming the layer, not a wrong code."""
    import pytest

    from flow.errors import FlowError
    from flow.estimate.fit import UNBOUNDED
    from flow.hls.memory_plan import plan_memory
    from flow.hls.token_ops import LN_MAX_K

    program = lower_qonnx(exported_deit[1])
    ln = next(l for l in program.layers if l.kind == "layernorm")
    plan_memory(program, 32, UNBOUNDED, 16)
    ln.attrs["k"] = LN_MAX_K + 1
    with pytest.raises(FlowError, match=f"layer {ln.name}: the token LayerNorm divides by sigma 2\\^K with K <= 26"):
        plan_memory(program, 32, UNBOUNDED, 16)
