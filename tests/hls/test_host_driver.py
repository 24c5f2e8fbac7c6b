"""The host driver (hls_templates/host/vitflow_driver.py, copied into every project) run here against the
C simulation built as a shared library, behind the interface the board's PYNQ device has: on B0 r64 and
two real Fashion-MNIST images, its decoded outputs equal the integer reference's; its checks of the
bitstream's hardware handoff, of a run that does not finish and of ap_return."""

import importlib.util
import json
import time

import numpy as np
import pytest

from flow.config import make_config
from flow.data import load_fashion_mnist
from flow.estimate.fit import fitted_config
from flow.hls.cosim import cosim_program
from flow.hls.csim import compile_csim_library
from flow.hls.project import write_project
from flow.parts import get_part
from flow.reference.compare import activation_quants
from flow.reference.executor import run_program
from flow.steps.estimate import step_estimate
from flow.steps.export import step_export
from flow.steps.hls import step_generate_hls
from flow.steps.lower import step_lower
from flow.steps.model import step_build_model
from flow.steps.quantize import step_quantize
from flow.steps.state import BuildState


def _driver(project):
    spec = importlib.util.spec_from_file_location("vitflow_driver", project / "host" / "vitflow_driver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def b0_r64(tmp_path_factory):
    """`flow build`'s steps for EfficientViT-B0 at 64 x 64 on xczu9eg, up to the generated project."""
    cfg = make_config(model="efficientvit_b0", resolution=64, calib=8,
                      quantization={"act_calibrator": "minmax", "bias_correction": False})
    st = BuildState(cfg=cfg, staging=tmp_path_factory.mktemp("b0_r64"))
    for step in (step_build_model, step_quantize, step_export, step_lower, step_estimate, step_generate_hls):
        step(st)
    return st


def test_driver_on_the_csim_library_equals_the_integer_reference(b0_r64):
    project = b0_r64.staging / "hls"
    drv = _driver(project)
    acc = drv.Accelerator(drv.open_device(project / "data", csim=compile_csim_library(project)), project / "data")
    program, name_in = b0_r64.program, b0_r64.program.inputs[0]
    quant = activation_quants(b0_r64.qonnx_path)[name_in]
    images = load_fashion_mnist("test", 64, count=2)[0]  # real images the calibration never saw
    for x in images:
        codes = quant.codes(x.numpy())
        ref = run_program(program, {name_in: codes}, dump_internal=False)
        got = acc.run(codes=codes)["outputs"]
        assert set(got) == set(program.outputs)
        for name in program.outputs:
            assert got[name].dtype == np.int64 and np.array_equal(got[name], ref[name]), name
    assert acc.check("img0") == 0  # the check program: every layer's output, byte for byte


@pytest.fixture
def small(tmp_path):
    """The co-simulation program's project (one small layer of each kind the design runs), its library and driver."""
    prog, env = cosim_program(1, 32)
    out = tmp_path / "hls"
    write_project(prog, [env], out, get_part("xczu9eg"), 200, fitted_config(prog, lanes=32, att_dividers=1))
    return out, _driver(out), env, prog


def test_unknown_descriptor_kind_is_reported(small):
    project, drv, env, prog = small
    acc = drv.Accelerator(drv.open_device(project / "data", csim=compile_csim_library(project)), project / "data")
    assert np.array_equal(acc.run(codes=env[prog.inputs[0]])["outputs"][prog.outputs[0]], env[prog.outputs[0]])
    acc.images[False][0][:4] = np.frombuffer(np.int32(99).tobytes(), np.uint8)  # descriptor 0: kind 99
    with pytest.raises(drv.DriverError, match="descriptor 0 has a kind this bitstream does not know"):
        acc.run(codes=env[prog.inputs[0]])


def test_a_run_that_never_finishes_times_out(small):
    project, drv, env, prog = small

    class Stuck(drv.CsimDevice):
        def __init__(self):
            meta = json.loads((project / "data" / "tensors.json").read_text())
            self.registers = drv.register_map(meta["weight_ports"])
            self.regs = dict.fromkeys(self.registers.values(), 0)
            self.buffers, self.next_address = [], self.BASE

        def write(self, offset, value):  # ap_start is taken, ap_done never comes
            self.regs[offset] = value & ~drv.AP_START if offset == 0 else value

    t0 = time.monotonic()
    with pytest.raises(drv.DriverError, match="did not finish within 0.2 s"):
        drv.Accelerator(Stuck(), project / "data").run(codes=env[prog.inputs[0]], timeout=0.2)
    assert time.monotonic() - t0 < 5


HWH = """<?xml version="1.0" encoding="UTF-8"?>
<EDKSYSTEM><MODULES>
<MODULE FULLNAME="/zynq_ultra_ps_e_0" INSTANCE="zynq_ultra_ps_e_0" MODTYPE="zynq_ultra_ps_e"/>
<MODULE FULLNAME="/vitflow_top_0" INSTANCE="{ip}" MODTYPE="vitflow_top" VLNV="xilinx.com:hls:vitflow_top:1.0">
<MEMORYMAP><ADDRESSBLOCKS><ADDRESSBLOCK NAME="Reg" INTERFACE="s_axi_control"><REGISTERS>
{registers}
</REGISTERS></ADDRESSBLOCK></ADDRESSBLOCKS></MEMORYMAP>
</MODULE></MODULES></EDKSYSTEM>
"""


def _hwh(path, drv, ip="vitflow_top_0", moved=None, drop=None):
    regs = []
    for name, off in drv.REGISTERS.items():
        if name == drop:
            continue
        off = moved[1] if moved and moved[0] == name else off
        regs.append(f'<REGISTER NAME="{name}"><PROPERTY NAME="ADDRESS_OFFSET" VALUE="{off:#x}"/>'
                    f'<PROPERTY NAME="SIZE" VALUE="32"/></REGISTER>')
    path.write_text(HWH.format(ip=ip, registers="\n".join(regs)))
    return path


def test_hardware_handoff_check(small, tmp_path):
    _, drv, _, _ = small
    drv.check_hwh(_hwh(tmp_path / "a.hwh", drv))  # the layout Vitis gives the top: accepted
    with pytest.raises(drv.DriverError, match=r"desc_1 at 0x20, expected 0x18.*different builds"):
        drv.check_hwh(_hwh(tmp_path / "b.hwh", drv, moved=("desc_1", 0x20)))
    with pytest.raises(drv.DriverError, match="n_desc missing"):
        drv.check_hwh(_hwh(tmp_path / "c.hwh", drv, drop="n_desc"))
    with pytest.raises(drv.DriverError, match=r"has no IP 'vitflow_top_0' \(instances: other_0, zynq_ultra_ps_e_0\)"):
        drv.check_hwh(_hwh(tmp_path / "d.hwh", drv, ip="other_0"))
    with pytest.raises(drv.DriverError, match="cannot read the hardware handoff"):
        drv.check_hwh(tmp_path / "missing.hwh")


def test_command_line_on_the_csim(small, capsys):
    project, drv, env, prog = small
    lib = compile_csim_library(project)
    assert drv.main(["--csim", str(lib), "--data", str(project / "data"), "--check"]) == 0
    assert "every layer matches the integer reference" in capsys.readouterr().out
    np.save(project / "x.npy", env[prog.inputs[0]])
    assert drv.main(["--csim", str(lib), "--data", str(project / "data"), "--codes", str(project / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{prog.outputs[0]} {env[prog.outputs[0]].reshape(-1).tolist()}")


def test_a_view_decodes_as_the_flow_lays_it_out():
    """A concatenation's input done in place (tensor_layout.py view): the driver's own layout code (it runs
    on the board without flow) packs and decodes it as TensorLayout does."""
    from pathlib import Path

    from flow.hls.tensor_layout import TensorLayout

    spec = importlib.util.spec_from_file_location(
        "vitflow_driver", Path(__file__).parents[2] / "hls_templates" / "host" / "vitflow_driver.py")
    drv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(drv)
    host = TensorLayout((40, 3, 2), 1, True, (24, 16), 16)
    view = TensorLayout((16, 3, 2), 1, True, (16,), 16).view_in(host, 2)
    codes = np.random.default_rng(0).integers(-128, 128, size=(16, 3, 2))
    t = {"shape": [16, 3, 2], "eb": 1, "signed": True, "segments": [16], "lead": view.lead, "stride": view.stride,
         "beat": 0}
    packed = view.pack(codes).reshape(-1)
    assert np.array_equal(drv.words(codes, t, 16), packed)
    assert np.array_equal(drv.decode(packed, t, {"lanes": 16, "beat_bytes": 16}), codes)
