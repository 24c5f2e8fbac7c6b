"""The cycle model: the time of each operation of a memory plan, from its audited counts
(flow/estimate/counts.py: iterations, fills, beats) and the latencies of hls_templates/vitflow/cycles.h.

An operation (one descriptor) takes:
  fetch    burst latency + the descriptor's beats + the copy loop's fill;
  then, for a layer with a weight stream, the loader and the engine run side by side (DATAFLOW): the
  engine waits a burst latency for the first words, then takes the longer of its own cycles (II x
  iterations + the fill of each loop execution) and the stream's beats at the DDR rate (a word of two or
  more beats comes over two ports, the weight and the descriptor port, vitflow/dma.h);
  for a DMA transfer: a burst latency, then the longer of its loop and its beats at the DDR rate;
  otherwise the engine's cycles.
The DDR rate: one beat per cycle per port (the PS-PL high-performance ports each carry one beat per cycle),
and all the ports together no more than the part's DDR bandwidth.
What this leaves out, and only a Vitis run can give: the engines' header reads between loop executions
(one cycle per tile), stalls of the AXI interconnect under other traffic, and the achieved clock.
"""

import math

from .counts import op_parts
from .latencies import latencies

STREAM_PORTS = ("wgt", "desc", "wgt2", "wgt3")  # the ports a weight stream may read (vitflow/dma.h)


def ddr_cycles_per_beat(part, clock_mhz: float, beat_bytes: int) -> float:
    """Cycles per beat at the part's DDR bandwidth, whatever the ports (below 1 when DDR outruns a port)."""
    return clock_mhz * 1e6 * beat_bytes / (part.ddr_bandwidth_gbps * 1e9)


def transfer_cycles(beats: list, cpb: float) -> int:
    """Cycles to move ``beats`` (one count per port, the ports side by side): a beat per cycle per port, all
    of them within the DDR bandwidth."""
    return math.ceil(max(max(beats), sum(beats) * cpb))


def op_time(op, plan, cfg, cpb: float, lat: dict | None = None) -> dict:
    """{"cycles", "compute", "ddr", "fill"}: an operation's cycles and how they split into engine work,
    DDR-bound waiting and latency (fills and burst starts); ``lat``: latencies() (or a calibrated copy)."""
    lat = lat or latencies()
    burst = lat["burst_latency"]
    desc, stream, engine = op_parts(op, plan, cfg, lat)
    fetch = burst + desc.cycles + desc.fill
    engine_cycles = engine.cycles + engine.fill
    if op.kind in ("load", "store"):
        ddr = transfer_cycles([engine.beats["act"]], cpb)
        body = burst + max(engine_cycles, ddr)
    elif stream.beats["wgt"]:
        ddr = transfer_cycles([stream.beats[p] for p in STREAM_PORTS], cpb) + stream.fill
        body = burst + max(engine_cycles, ddr)
    else:
        ddr, body = 0, engine_cycles
    compute = engine.cycles
    ddr_wait = max(0, ddr - engine_cycles) if ddr else 0
    total = fetch + body
    return {"cycles": total, "compute": compute, "ddr": ddr_wait, "fill": total - compute - ddr_wait,
            "beats": desc.beats["desc"] + sum(stream.beats[p] for p in STREAM_PORTS)
            + engine.beats["act"]}


def program_time(plan, program, cfg, part, clock_mhz: float, lat: dict | None = None) -> dict:
    """Per layer (and "io" for the program's input and output transfers): cycles, their split, DDR beats
    and the bound (the largest share); and the frame's total cycles."""
    cpb = ddr_cycles_per_beat(part, clock_mhz, plan.beat_bytes)
    # every layer has a row: one with no operation (a concatenation done in place) takes no cycles
    rows = {l.name: {"cycles": 0, "compute": 0, "ddr": 0, "fill": 0, "beats": 0, "descriptors": 0}
            for l in program.layers}
    for op in plan.ops:
        key = program.layers[op.layer].name if op.layer >= 0 else "io"
        t = op_time(op, plan, cfg, cpb, lat)
        row = rows.setdefault(key, {"cycles": 0, "compute": 0, "ddr": 0, "fill": 0, "beats": 0, "descriptors": 0})
        for k in ("cycles", "compute", "ddr", "fill", "beats"):
            row[k] += t[k]
        row["descriptors"] += 1
    for row in rows.values():
        row["bound"] = max(("compute", "ddr", "fill"), key=lambda k: row[k])
    return {"layers": rows, "cycles": sum(r["cycles"] for r in rows.values())}
