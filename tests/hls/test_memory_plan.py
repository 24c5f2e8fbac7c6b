"""The memory plan: live tensors never overlap, dead ones share words; what does not fit moves to DDR and
its layers run in row stripes covering every row once; the check program adds a store per layer output."""

import numpy as np
import pytest

from flow.errors import FlowError
from flow.hls.memory_plan import plan_memory
from flow.lower.program import Layer, Program, TensorInfo
from flow.lower.ranges import analyse_ranges


def _chain(h=8, w=8, c=16):
    """x -> conv 3x3 -> hardswish -> dwconv 3x3 -> add (with the hardswish output) -> y"""
    rng = np.random.default_rng(0)

    def conv(name, x, y, groups):
        cin = c // groups
        kind = "dwconv" if groups > 1 else "conv"
        return Layer(name, kind, [x], [y], {"in_channels": c, "out_channels": c, "kernel": [3, 3], "stride": [1, 1],
                                            "pad": [1] * 4, "groups": groups, "in_shape": [c, h, w], "out_shape": [c, h, w]},
                     {"weight": rng.integers(-5, 5, (c, cin, 3, 3)).astype(np.int8), "bias": np.zeros(c, np.int32),
                      "mult": np.ones(c, np.int32), "shift": np.full(c, 4, np.int32)})
    t = {n: TensorInfo((c, h, w), 8, True, 1.0) for n in ("x", "a", "b", "d", "y")}
    layers = [conv("conv0", "x", "a", 1),
              Layer("hs", "hardswish", ["a"], ["b"], {"in_min": -128, "entries": 256, "rows": 1},
                    {"table": np.arange(-128, 128).astype(np.int16)}),
              conv("dw", "b", "d", c),
              Layer("add0", "add", ["d", "b"], ["y"], {"shift": 1}, {"mult": np.ones(2, np.int32)})]
    p = Program("chain", ["x"], ["y"], t, layers)
    analyse_ranges(p, 32)
    return p


def _live(program, name):
    idx = {t: i for i, l in enumerate(program.layers) for t in l.outputs}
    idx.update({t: -1 for t in program.inputs})
    last = max([i for i, l in enumerate(program.layers) if name in l.inputs] + [idx[name]])
    return idx[name], len(program.layers) if name in program.outputs else last


def test_live_tensors_never_overlap_and_dead_ones_share():
    p = _chain()
    plan = plan_memory(p, 16, 1 << 20)
    assert not plan.spilled and len(plan.ops) == 1 + 4 + 1  # load x, four layers, store y
    names = list(p.tensors)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (sa, ea), (sb, eb) = _live(p, a), _live(p, b)
            (pa, wa), (pb, wb) = plan.onchip[a], plan.onchip[b]
            if sa <= eb and sb <= ea:
                assert pa + wa <= pb or pb + wb <= pa, (a, b)
    assert plan.act_words < sum(w for _, w in plan.onchip.values())  # x and a are dead by the add: reused
    kinds = [op.kind for op in plan.check_ops]
    assert kinds == ["load", "conv", "store", "hardswish", "store", "dwconv", "store", "add", "store"]


def test_what_does_not_fit_goes_through_ddr_in_row_stripes():
    p = _chain()
    need = plan_memory(p, 16, 1 << 20).act_words
    plan = plan_memory(p, 16, need // 2)
    assert plan.spilled and plan.act_words <= need // 2
    for layer in p.layers:
        if layer.name not in plan.stripes:
            continue
        ops = [op for op in plan.ops if op.layer == p.layers.index(layer) and op.kind == layer.kind]
        covered = [r for op in ops for r in range(op.fields.get("ROW_BEGIN", 0), op.fields.get("ROW_END", 0))]
        if layer.kind in ("conv", "dwconv"):
            assert covered == list(range(8)), layer.name  # every output row once, in order
    loads = [op for op in plan.ops if op.kind == "load" and op.role == "layer"]
    assert loads and all(op.fields["WORDS"] > 0 for op in loads)


def test_nothing_left_to_move_is_an_error_naming_the_need():
    with pytest.raises(FlowError, match=r"the activations need [\d,]+ words of 16 bytes on chip and 10 are available"):
        plan_memory(_chain(), 16, 10)
