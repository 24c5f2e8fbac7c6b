"""A two-block DeiT (tests/conftest.py's exported_deit, power-of-two and free scales) on the accelerator:
the design the exploration picks for xczu9eg (the patch embedding on the image's patches, GELU fused into
the first MLP linear), its project C-simulated on real images under the II audit,
every layer's output (each of q, k and v too) equal to the integer reference's, and the audit's counts
equal to the cycle model's, layer by layer."""

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


def test_deit_runs_bit_exact_and_counted_on_the_accelerator(exported_deit, tmp_path):
    _, path, images = exported_deit
    program = lower_qonnx(path)
    part = get_part("xczu9eg")
    # as `flow build` does (flow/steps/hls.py): the patch embedding on the image's patches, the activations
    # fused into their producers as the estimate chose
    patched, spec = on_patches(program)
    assert spec is not None and patched.layers[0].attrs["kernel"] == [1, 1]
    est = explore(patched, part, 200)
    cfg = with_config(est)
    assert cfg.tf == 1 and est["fps"] > 0
    fused = as_configured(patched, cfg)
    assert [l.attrs["epilogue"]["kind"] for l in fused.layers if "epilogue" in l.attrs] == ["gelu"] * 2
    quant = activation_quants(path)[program.inputs[0]]
    envs = [with_patches(run_program(program, {program.inputs[0]: quant.codes(x.numpy())}, dump_internal=False),
                         spec) for x in images[:2]]
    image = write_project(fused, envs, tmp_path / "hls", part, 200, cfg, patches=spec)
    kinds = {op.kind for op in image.plan.ops}
    assert {"add_const", "softmax", "token_layernorm", "matmul", "requant", "linear"} <= kinds
    result = run_csim(tmp_path / "hls", compile_csim(tmp_path / "hls"))
    assert result["bit_exact"] and result["layers_exact"] == len(fused.layers) == result["layers"]
    model = layer_counts(image.plan, fused, cfg, check=True)
    assert model == result["counts"]


def test_heads_narrower_than_a_word_choose_a_word_they_fill(tmp_path):
    """Heads of 16 channels merge into tokens only in words of at most 16 lanes: the exploration skips the
    wider words (whose layout it cannot make) and the design it picks runs bit-exact."""
    import torch

    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.models import DeiTSpec, QuantScheme
    from flow.models.zoo import build_from_spec
    from flow.quantize import make_quant_config, quantize_model

    torch.manual_seed(0)
    spec = DeiTSpec("deit_test", embed_dim=64, depth=1, heads=4)
    fp = build_from_spec(spec, num_classes=10, resolution=32, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("test", 32, count=4)[0]
    q = quantize_model(fp, images, make_quant_config({"calib_images": 4, "po2_scales": True}))
    path = export_clean_qonnx(q, tmp_path / "q")
    program = lower_qonnx(path)
    part = get_part("xczu9eg")
    patched, patches = on_patches(program)
    est = explore(patched, part, 200)
    cfg = with_config(est)
    assert cfg.lanes <= 16
    quant = activation_quants(path)[program.inputs[0]]
    env = run_program(program, {program.inputs[0]: quant.codes(images[0].numpy())}, dump_internal=False)
    hw = as_configured(patched, cfg)
    write_project(hw, [with_patches(env, patches)], tmp_path / "hls", part, 200, cfg, patches=patches)
    result = run_csim(tmp_path / "hls", compile_csim(tmp_path / "hls"))
    assert result["bit_exact"] and result["layers_exact"] == len(hw.layers)


def test_two_scale_softmax_and_gelu_run_bit_exact(tmp_path):
    """TSPTQ's value-aware two scales (W6A6, power-of-two scales) on the GELU and softmax outputs: the
    softmax unit rounds the codes above the fine range to the coarse scale, the attn v product reads
    them as unsigned bytes, and the design runs bit-exact and counted."""
    import torch

    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.models import DeiTSpec, QuantScheme
    from flow.models.zoo import build_from_spec
    from flow.quantize import make_quant_config, quantize_model

    torch.manual_seed(0)
    spec = DeiTSpec("deit_test", embed_dim=64, depth=1, heads=2)
    fp = build_from_spec(spec, num_classes=10, resolution=32, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("test", 32, count=4)[0]
    q = quantize_model(fp, images, make_quant_config({"calib_images": 4, "po2_scales": True, "value_two_scale": True,
                                                      "act_bits": 6, "weight_bits": 6}))
    path = export_clean_qonnx(q, tmp_path / "q")
    program = lower_qonnx(path)
    softmax = next(l for l in program.layers if l.kind == "softmax")
    assert softmax.attrs["two_shift"] >= 1
    part = get_part("xczu9eg")
    patched, patches = on_patches(program)
    est = explore(patched, part, 200)
    cfg = with_config(est)
    quant = activation_quants(path)[program.inputs[0]]
    env = run_program(program, {program.inputs[0]: quant.codes(images[0].numpy())}, dump_internal=False)
    coded = env[softmax.outputs[0]]
    assert (coded > softmax.attrs["fine_max"]).any()  # the coarse region is exercised
    hw = as_configured(patched, cfg)
    image = write_project(hw, [with_patches(env, patches)], tmp_path / "hls", part, 200, cfg, patches=patches)
    result = run_csim(tmp_path / "hls", compile_csim(tmp_path / "hls"))
    assert result["bit_exact"] and result["layers_exact"] == len(hw.layers)
    assert layer_counts(image.plan, hw, cfg, check=True) == result["counts"]


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
