"""The cycle model's time of an operation, worked out by hand from its counts and the latencies."""

import numpy as np

from flow.estimate.counts import op_parts
from flow.estimate.latencies import latencies
from flow.estimate.timing import ddr_cycles_per_beat, op_time
from flow.hls.memory_plan import plan_memory
from flow.hls.project import HwConfig
from flow.lower.program import Layer, Program, TensorInfo
from flow.parts import get_part


def _pointwise(cin=32, cout=32, hw=4):
    w = np.ones((cout, cin, 1, 1), np.int8)
    layer = Layer("pw", "conv", ["x"], ["y"], {"kernel": [1, 1], "stride": [1, 1], "pad": [0] * 4, "groups": 1,
                                              "in_shape": [cin, hw, hw], "out_shape": [cout, hw, hw]},
                  {"weight": w, "bias": np.zeros(cout, np.int32), "mult": np.ones(cout, np.int32),
                   "shift": np.zeros(cout, np.int32)})
    t = {"x": TensorInfo((cin, hw, hw), 8, True, 1.0), "y": TensorInfo((cout, hw, hw), 8, True, 1.0)}
    return Program("p", ["x"], ["y"], t, [layer])


def test_a_pointwise_conv_by_hand():
    program = _pointwise()
    plan = plan_memory(program, 16, 1 << 20)
    op = next(op for op in plan.ops if op.kind == "conv")
    lat = latencies()
    desc, stream, engine = op_parts(op, plan, HwConfig(lanes=16))
    # 32 -> 32 channels at L = 16: 2 output tiles, each reading the 2 input words of 16 pixels;
    # a tile's stream is 1 header + 12 parameter words + 16 rows x 2 words = 45 words of one beat
    assert stream.beats["wgt"] == 90 and stream.bursts["wgt"] == 1
    # loops: load tile 0 (44 words after its header), tile 0 (max(32 MACs, 44 loads)), tile 1 (32 MACs)
    assert engine.iterations == 44 + 44 + 32 and engine.entries == 3
    assert engine.fill == 3 * lat["depth_conv"] and desc.beats["desc"] == 16
    t = op_time(op, plan, HwConfig(lanes=16), cpb=1.0)
    burst = lat["burst_latency"]
    fetch = burst + 16 + lat["depth_copy"]
    engine_time = 120 + 3 * lat["depth_conv"]
    assert t["cycles"] == fetch + burst + max(engine_time, 90 + lat["depth_copy"])


def test_ddr_rate_is_a_beat_per_cycle_unless_the_part_is_slower():
    assert ddr_cycles_per_beat(get_part("xczu9eg"), 200, 16) == 1.0  # 19.2 GB/s > 3.2 GB/s of one port
    assert ddr_cycles_per_beat(get_part("xc7z020"), 100, 8) == 1.0   # 2.1 GB/s > 0.8 GB/s
    assert ddr_cycles_per_beat(get_part("xc7z020"), 400, 8) > 1.0
