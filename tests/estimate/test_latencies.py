"""The cycle model's latencies come from the templates: each pipelined loop's depth and target II from its
own declaration, and its C label (its name in Vitis' reports) equal to its audit name."""

import re
from importlib import resources

from flow.estimate.latencies import latencies, template_loops


def test_every_pipelined_loop_is_labelled_with_its_audit_name():
    folder = resources.files("flow.hls_templates") / "vitflow"
    seen = []
    for path in folder.iterdir():
        if not path.name.endswith(".h") or path.name == "audit.h":
            continue
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"\s*VITFLOW_LOOP\((\w+), VITFLOW_DEPTH_\w+\);", line)
            if m:
                assert re.match(rf"\s*{m[1]}: for \(", lines[i + 1]), (path.name, lines[i + 1])
                seen.append(m[1])
    assert sorted(seen) == sorted(template_loops()) and len(seen) == len(set(seen)) == 37


def test_depths_and_iis_are_the_templates():
    loops, lat = template_loops(), latencies()
    assert loops["conv_tile"] == {"depth": lat["depth_conv"], "ii": 1, "template": "conv_pe.h"}
    assert loops["add"]["ii"] == 2 and loops["gap"]["depth"] == lat["depth_div"]
    assert lat["loops"]["dw_tile"] == (lat["depth_dw"], 1)
