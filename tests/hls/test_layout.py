"""The accelerator's layer kinds: a program with layers it has no engine for (a DeiT's) is refused in one
line by the estimate and by project generation, before either plans anything."""

import pytest

from flow.errors import FlowError
from flow.hls.layout import unsupported_layers


def test_deit_program_is_refused_by_the_hardware_stages(exported_deit, tmp_path):
    from flow.estimate.dse import explore
    from flow.hls.project import write_project
    from flow.lower import lower_qonnx
    from flow.parts import get_part

    _, path, _ = exported_deit
    program = lower_qonnx(path)
    kinds = {what for _, what in unsupported_layers(program)}
    assert kinds == {"add_const", "conv on tokens", "gelu", "linear on tokens", "matmul", "requant", "softmax"}
    message = (r"the accelerator has no engine for 23 of the program's 33 layers \(add_const, conv on tokens, gelu, "
               r"linear on tokens, matmul, requant, softmax: a softmax transformer's\)")
    with pytest.raises(FlowError, match=message):
        explore(program, get_part("xczu9eg"))
    with pytest.raises(FlowError, match=message):
        write_project(program, [], tmp_path / "hls", get_part("xczu9eg"), 200.0)
    assert not (tmp_path / "hls").exists()

