"""The program image the accelerator runs: descriptors, weight streams, and the DDR activation area.

- ``desc`` / ``check_desc``: one DESC_WORDS-word descriptor per operation of the memory plan (the check
  program also stores every on-chip layer output to DDR, for the layer-by-layer comparison);
- ``weights``: every layer's weight stream (flow/hls/streams.py), one after another, in AXI beats. When a
  word is two or more beats, the streams are read through two ports, two beats a cycle (vitflow/dma.h):
  ``weights`` holds the even beats of every word and ``weights_desc`` the odd ones, which the host appends
  to the descriptors (the descriptor port is idle while a layer runs); W_OFF indexes both halves alike;
- the DDR activation area: a region per program input and output, per tensor kept in DDR, and per layer
  output (the check program's dumps), each in the tensor's on-chip word layout.
"""

from dataclasses import dataclass

import numpy as np

from .layout import DESC_WORDS, ROLES, encode
from .memory_plan import MemoryPlan
from .streams import pack_stream


@dataclass
class Image:
    plan: MemoryPlan
    desc: np.ndarray          # (operations, DESC_WORDS) int32, the program
    check_desc: np.ndarray    # the program with every layer output stored to DDR
    weights: np.ndarray       # (beats, BEAT) uint8: the weight port's beats
    weights_desc: np.ndarray  # (beats, BEAT) uint8: the beats the descriptor port reads (none if unsplit)
    stream_beats: dict        # layer name -> first beat of its weight stream (in each half when split)

    @property
    def beat_bytes(self) -> int:
        return self.plan.beat_bytes


def build_image(program, plan: MemoryPlan) -> Image:
    lanes, beat = plan.lanes, plan.beat_bytes
    split = split_streams(plan)
    parts, offsets, off = [], {}, 0
    for layer in program.layers:
        if plan.stream_words[layer.name]:
            words = pack_stream(layer, plan.layouts, lanes, plan.tile_words)
            offsets[layer.name] = off
            parts.append(words.reshape(-1, beat))
            off += plan.beats(len(words)) // (2 if split else 1)
    beats = np.concatenate(parts) if parts else np.zeros((2, beat), np.uint8)
    weights, weights_desc = (beats[0::2], beats[1::2]) if split else (beats, beats[:0])

    def encoded(ops):
        rows = []
        for op in ops:
            fields = dict(op.fields)
            fields["ROLE"] = ROLES.index(op.role)
            if op.stream:  # a part of a stream (a q/k/v projection's head) starts op.stream_offset words in
                fields["W_OFF"] = offsets[op.stream] + plan.beats(op.stream_offset) // (2 if split else 1)
            rows.append(encode(op.kind, fields))
        return np.asarray(rows, dtype=np.int64).astype(np.int32).reshape(-1, DESC_WORDS)

    return Image(plan, encoded(plan.ops), encoded(plan.check_ops), weights, weights_desc, offsets)


def split_streams(plan: MemoryPlan) -> bool:
    """Whether the weight streams go through two ports: a word is two or more beats (vitflow/dma.h)."""
    return plan.lanes // plan.beat_bytes >= 2


def _region(image: Image, tensor: str) -> tuple:
    off, beats = image.plan.ddr[tensor]
    return off * image.beat_bytes, beats * image.beat_bytes


def ddr_area(image: Image, tensors: dict) -> np.ndarray:
    """The DDR activation area (bytes) with ``tensors`` (name -> codes) in their regions, zeros elsewhere."""
    area = np.zeros(image.plan.ddr_beats * image.beat_bytes, dtype=np.uint8)
    for name, codes in tensors.items():
        start, size = _region(image, name)
        words = image.plan.layouts[name].pack(codes).reshape(-1)
        area[start:start + words.size] = words
    return area


def ddr_mask(image: Image, program) -> np.ndarray:
    """1 where the check program's DDR area must equal the reference: every element byte of every region."""
    mask = np.zeros(image.plan.ddr_beats * image.beat_bytes, dtype=np.uint8)
    for name in image.plan.ddr:
        start, _ = _region(image, name)
        m = image.plan.layouts[name].mask().reshape(-1)
        mask[start:start + m.size] = m
    return mask


def extract(image: Image, area: np.ndarray, tensor: str) -> np.ndarray:
    """A tensor's codes from a DDR activation area (bytes) after a check run."""
    start, _ = _region(image, tensor)
    lay = image.plan.layouts[tensor]
    return lay.unpack(np.asarray(area[start:start + lay.words * lay.lanes]).reshape(lay.words, lay.lanes))


def input_area(image: Image, program, env: dict) -> np.ndarray:
    return ddr_area(image, {t: env[t] for t in program.inputs})


def golden_area(image: Image, program, env: dict) -> np.ndarray:
    return ddr_area(image, {t: env[t] for t in image.plan.ddr if t in env})
