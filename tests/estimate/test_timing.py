"""The cycle model's time of an operation, worked out by hand from its counts and the latencies."""

import math

import numpy as np

from flow.estimate.counts import op_parts
from flow.estimate.latencies import latencies
from flow.estimate.timing import ddr_cycles_per_beat, op_time, transfer_cycles
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
    # 32 -> 32 channels at L = 16: 2 output tiles, each reading the 2 input words of 16 pixels; a tile's
    # stream is 2 header words (the header and its padding) + 12 parameter words + 16 rows x 2 words = 46
    # words of one beat, read as 23 pairs over the weight and the descriptor port (dma.h stream_pairs)
    assert stream.beats["wgt"] == stream.beats["desc"] == stream.iterations == 46
    assert stream.bursts["wgt"] == stream.bursts["desc"] == 1 and stream.beats["wgt2"] == 0
    # loops: load tile 0 (44 words after its header: 22 pairs), tile 0 (max(32 MACs, 22)), tile 1 (32 MACs)
    assert engine.iterations == 22 + 32 + 32 and engine.entries == 3
    assert engine.fill == 3 * lat["depth_conv"] and desc.beats["desc"] == 16
    t = op_time(op, plan, HwConfig(lanes=16), cpb=1.0)
    burst = lat["burst_latency"]
    fetch = burst + 16 + lat["depth_copy"]
    engine_time = 86 + 3 * lat["depth_conv"]
    # the two ports' 92 beats at one DDR beat per cycle (cpb = 1)
    assert t["cycles"] == fetch + burst + max(engine_time, 92 + lat["depth_copy"])


def test_the_pe_arrays_stream_of_two_beat_words_comes_over_four_ports():
    # L = 32 on 16-byte beats: a pair's four beats on the weight, descriptor, wgt2 and wgt3 ports
    program = _pointwise(cin=64, cout=64)
    plan = plan_memory(program, 32, 1 << 20)
    op = next(op for op in plan.ops if op.kind == "conv")
    lat = latencies()
    desc, stream, engine = op_parts(op, plan, HwConfig(lanes=32))
    words = op.fields["W_WORDS"]  # 2 tiles x (2 header words + 12 parameters + 32 rows x 2 input words)
    assert words == 2 * (2 + 12 + 64)
    for p in ("wgt", "desc", "wgt2", "wgt3"):
        assert stream.beats[p] == words // 2 and stream.bursts[p] == 1
    assert stream.iterations == words // 2
    t = op_time(op, plan, HwConfig(lanes=32), cpb=0.25)
    burst = lat["burst_latency"]
    fetch = burst + 16 + lat["depth_copy"]
    engine_time = engine.cycles + engine.fill
    assert t["cycles"] == fetch + burst + max(engine_time, words // 2 + lat["depth_copy"])


def test_ddr_rate_is_a_beat_per_cycle_per_port_within_the_ddr_bandwidth():
    fast = ddr_cycles_per_beat(get_part("xczu9eg"), 200, 16)
    assert fast == 200e6 * 16 / 19.2e9  # DDR outruns a port 6 times
    assert transfer_cycles([100], fast) == 100 and transfer_cycles([100, 100], fast) == 100
    slow = ddr_cycles_per_beat(get_part("xc7z020"), 400, 8)  # 3.2 GB/s of two ports against the part's DDR
    assert slow > 0.5
    assert transfer_cycles([100, 100], slow) == math.ceil(200 * slow) > 100
