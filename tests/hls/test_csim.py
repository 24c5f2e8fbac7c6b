"""flow.hls.csim's reports of a C-simulation that does not end normally: a crash or a kill names the signal
and the layer the run was in (the testbench announces each descriptor as it starts, vitflow/audit.h)."""

import json
import subprocess

import numpy as np
import pytest

from flow.errors import FlowError
from flow.estimate.fit import fitted_config
from flow.hls.cosim import cosim_program
from flow.hls.csim import compile_csim, run_csim
from flow.hls.layout import DESC_WORDS
from flow.hls.project import write_project
from flow.parts import get_part

FAKE = """#!/bin/sh
echo "run desc 0 layer 0 kind 0"
echo "run desc 1 layer 1 kind 3"
echo "run desc 2 layer 2 kind 1"
kill -{signal} $$
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    prog, env = cosim_program(1, 32)
    out = tmp_path_factory.mktemp("csim") / "hls"
    write_project(prog, [env], out, get_part("xczu9eg"), 200, fitted_config(prog, lanes=16, att_dividers=1))
    return out


@pytest.mark.parametrize("sig,says", [("SEGV", "crashed with SIGSEGV"), ("KILL", "was killed by SIGKILL"),
                                      ("ABRT", "crashed with SIGABRT")])
def test_a_crash_names_the_signal_and_the_layer(project, tmp_path, sig, says):
    fake = tmp_path / "tb"
    fake.write_text(FAKE.format(signal=sig))
    fake.chmod(0o755)
    layer = json.loads((project / "cosim" / "tensors.json").read_text())["layers"][2]["name"]
    with pytest.raises(FlowError, match=rf"^C-simulation of img0 {says} in layer {layer} \(descriptor 2\)$"):
        run_csim(project, fake, data="cosim")


def test_the_testbench_announces_each_descriptor(project):
    exe = compile_csim(project)
    r = subprocess.run([str(exe), str(project / "cosim"), str(project / "cosim" / "img0")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout[-500:]
    started = [l for l in r.stdout.splitlines() if l.startswith("run desc ")]
    n = np.fromfile(project / "cosim" / "check.desc", dtype="<i4").size // DESC_WORDS
    assert len(started) == n and started[0].startswith("run desc 0 layer ")
