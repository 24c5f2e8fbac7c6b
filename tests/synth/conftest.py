import pytest

from flow.estimate.fit import fitted_config
from flow.hls.cosim import cosim_program
from flow.hls.project import write_project
from flow.parts import get_part


@pytest.fixture
def project(tmp_path):
    """A generated project (the co-simulation program, L = 16, on xczu9eg at 200 MHz), as `flow build`
    leaves hls/; its model figures in design.json (DSP 422, BRAM18 84, LUT 65,304, FF 81,648)."""
    prog, env = cosim_program(1, 32)
    out = tmp_path / "hls"
    write_project(prog, [env], out, get_part("xczu9eg"), 200, fitted_config(prog, lanes=16, att_dividers=1))
    return out
