"""The cycle model equals the cycles the C-simulation counts, on every layer of a whole model."""

import pytest

from flow.estimate.cycles import latencies, layer_cycles
from flow.hls.csim import compile_csim, run_csim
from flow.hls.project import HwConfig, write_project
from flow.lower import lower_qonnx
from flow.parts import get_part
from flow.reference import run_program
from flow.reference.compare import activation_quants


def _csim_cycles(qonnx_path, image, tmp_path, cfg):
    program = lower_qonnx(qonnx_path)
    codes = activation_quants(qonnx_path)[program.inputs[0]].codes(image)
    env = run_program(program, {program.inputs[0]: codes}, dump_internal=False)
    write_project(program, [env], tmp_path / "hls", get_part("xczu9eg"), 200, cfg)
    result = run_csim(tmp_path / "hls", compile_csim(tmp_path / "hls"))
    assert result["bit_exact"]
    return program, result["cycles"]


@pytest.mark.parametrize("cfg", [HwConfig(), HwConfig(pe_rows=8, pe_cols=4, dw_lanes=4, elt_lanes=2, att_rows=4)],
                         ids=["16x16", "8x4"])
def test_cycle_model_equals_csim_on_every_b0_layer(exported_b0, tmp_path, cfg):
    q, path, images = exported_b0
    if not q.scheme.po2_scales:
        pytest.skip("one scale setting is enough: cycles do not depend on the values")
    program, counted = _csim_cycles(path, images[0].numpy(), tmp_path, cfg)
    assert len(counted) == len(program.layers) == 97
    for layer in program.layers:
        assert layer_cycles(layer, program, cfg) == counted[layer.name], layer.name


def test_latencies_come_from_the_template_header():
    assert set(latencies()) >= {"fill_copy", "fill_mac", "div_latency", "isqrt_latency"}
