"""The accelerator's descriptor kinds: every kind of layer a program can hold has a descriptor kind
(flow/hls/layout.py), and every descriptor kind an engine in the cycle model (flow/estimate/counts.py) and a
case in the top's dispatch (vitflow/accelerator.h)."""

import re

from flow.estimate.counts import ENGINES
from flow.hls.layout import KINDS, layout_header
from flow.hls.project import templates_dir
from flow.lower.program import KINDS as PROGRAM_KINDS


def test_every_program_kind_has_a_descriptor_kind_and_an_engine():
    assert set(PROGRAM_KINDS) <= set(KINDS)
    assert set(KINDS) == set(ENGINES)
    top = (templates_dir() / "vitflow" / "accelerator.h").read_text()
    dispatched = set(re.findall(r"case KIND_(\w+):", top))
    assert dispatched == {k.upper() for k in KINDS}
    header = layout_header()
    assert all(f"#define KIND_{k.upper()} {i}\n" in header for i, k in enumerate(KINDS))
