"""Design-space exploration and the estimate report."""

import dataclasses
import json

import pytest

from flow.errors import FlowError
from flow.estimate.dse import DEFAULT_LIMITS, estimate, explore, fitted_config
from flow.estimate.report import write_report
from flow.estimate.resources import estimate_resources
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
    assert best["fps"] > 0 and best["gops"] > 0 and len(best["layers"]) == len(program.layers)
    assert best["compute_bound_layers"] + best["memory_bound_layers"] == len(program.layers)
    smaller = fitted_config(program, pe_rows=4, pe_cols=4, dw_lanes=4, elt_lanes=2)
    assert estimate(program, smaller, p, p.default_clock_mhz)["fps"] <= best["fps"]
    write_report(best, tmp_path)
    assert json.loads((tmp_path / "estimate.json").read_text())["part"] == part
    assert "| layer | kind |" in (tmp_path / "estimate.md").read_text()
    assert (tmp_path / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_part_too_small_is_an_error_naming_the_resource(program):
    p = get_part("xc7z020")
    tiny = dataclasses.replace(p, resources={**p.resources, "dsp": 40})
    with pytest.raises(FlowError, match=r"no design fits xc7z020: the smallest .* needs \d+ DSP of 40 \(80% limit\)"):
        explore(program, tiny, tiny.default_clock_mhz)


def test_resources_grow_with_the_array():
    small, big = estimate_resources(fitted_config_stub(4)), estimate_resources(fitted_config_stub(16))
    assert all(big[k] >= small[k] for k in ("dsp", "bram18", "lut", "ff"))
    assert big["dsp"] - small["dsp"] >= 16 * 16 - 4 * 4


def fitted_config_stub(n):
    from flow.hls.project import HwConfig

    return HwConfig(pe_rows=n, pe_cols=n)
