"""The resource model's read sites of the activation memory (resources.ACT_READ_SITES: a two-bank memory
puts a multiplexer after each) against the templates themselves: every runtime-indexed read `act[...]` in
an engine function, and a helper's read (a method taking the memory) once per call of the helper."""

import re
from importlib import resources as ir
from pathlib import Path

from flow.estimate.resources import ACT_READ_SITES, ENGINE_FLAG, act_read_sites
from flow.hls.project import HwConfig

FUNCTION = re.compile(r"^(?:inline |static )?(?:void|int|bool) (\w+)\(")
METHOD = re.compile(r"^\s+(?:\w+ )?\w+ (\w+)\(Mem<[^&]*&act")


def _reads(code: str) -> int:
    """`act[...]` reads on a line of code (not the writes `act[...] = ...`)."""
    n = 0
    for hit in re.finditer(r"\bact\[", code):
        rest, depth, j = code[hit.end():], 1, 0
        while depth and j < len(rest):
            depth += {"[": 1, "]": -1}.get(rest[j], 0)
            j += 1
        after = rest[j:].lstrip()
        n += not (after.startswith("=") and not after.startswith("=="))
    return n


def template_read_sites() -> dict:
    """Engine function -> its read sites, from hls_templates/vitflow/*.h."""
    sites = {}
    for path in sorted(Path(str(ir.files("flow.hls_templates"))).joinpath("vitflow").glob("*.h")):
        helpers, owner = {}, None  # helper method -> its reads; the function each line belongs to
        lines = [l.split("//")[0] for l in path.read_text().splitlines()]
        for line in lines:
            if FUNCTION.match(line):
                owner = FUNCTION.match(line).group(1)
            elif METHOD.match(line):
                owner = ("helper", METHOD.match(line).group(1))
            if owner is not None and _reads(line):
                if isinstance(owner, tuple):
                    helpers[owner[1]] = helpers.get(owner[1], 0) + _reads(line)
                else:
                    sites[owner] = sites.get(owner, 0) + _reads(line)
        owner = None
        for line in lines:  # each call of a reading helper, in the function that calls it
            if FUNCTION.match(line):
                owner = FUNCTION.match(line).group(1)
            for name, n in helpers.items():
                if owner and re.search(rf"\.{name}\(act\b", line):
                    sites[owner] = sites.get(owner, 0) + n
    return sites


def test_the_resource_models_read_sites_are_the_templates():
    assert template_read_sites() == ACT_READ_SITES
    assert set(ENGINE_FLAG) <= set(ACT_READ_SITES)


def test_only_the_engines_built_count():
    full = HwConfig(tf=1, concat_engine=1, dw_engine=1, att_engine=1, add_engine=1)
    bare = HwConfig(tf=0, concat_engine=0, dw_engine=0, att_engine=0, add_engine=0)
    assert act_read_sites(full) == sum(ACT_READ_SITES.values())
    assert act_read_sites(bare) == sum(n for f, n in ACT_READ_SITES.items() if f not in ENGINE_FLAG)
