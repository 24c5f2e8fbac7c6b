"""The cycle model's counts equal what the C-simulation's audit counts (iterations, II cycles, loop entries
and fills, DDR beats and bursts per port) on every layer of a whole model, on two accelerators."""

import pytest

from flow.estimate.counts import layer_counts
from flow.estimate.fit import fitted_config
from flow.hls.csim import compile_csim, run_csim
from flow.hls.project import write_project
from flow.lower import lower_qonnx
from flow.parts import get_part
from flow.reference import run_program
from flow.reference.compare import activation_quants


def csim_counts(qonnx_path, image, tmp_path, cfg, part="xczu9eg"):
    """(program, plan, C-simulated counts per layer) of the model on ``cfg``, bit-exact first."""
    program = lower_qonnx(qonnx_path)
    codes = activation_quants(qonnx_path)[program.inputs[0]].codes(image)
    env = run_program(program, {program.inputs[0]: codes}, dump_internal=False)
    p = get_part(part)
    image_ = write_project(program, [env], tmp_path / "hls", p, p.default_clock_mhz, cfg)
    result = run_csim(tmp_path / "hls", compile_csim(tmp_path / "hls"))
    assert result["bit_exact"] and result["layers_exact"] == len(program.layers)
    return program, image_.plan, result["counts"]


@pytest.mark.parametrize("lanes,part", [(16, "xczu9eg"), (8, "xc7z020")], ids=["L16", "L8-zynq"])
def test_model_counts_equal_csim_on_every_b0_layer(exported_b0, tmp_path, lanes, part):
    q, path, images = exported_b0
    if not q.scheme.po2_scales:
        pytest.skip("one scale setting is enough: the counts do not depend on the values")
    program = lower_qonnx(path)
    cfg = fitted_config(program, lanes=lanes, att_rows=4, beat_bytes=get_part(part).beat_bytes)
    program, plan, counted = csim_counts(path, images[0].numpy(), tmp_path, cfg, part)
    model = layer_counts(plan, program, cfg, check=True)
    assert len(program.layers) == 97 and set(model) == set(counted)
    for name in model:
        assert model[name] == counted[name], name
