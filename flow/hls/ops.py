"""An operation of the memory plan: one descriptor of the program image (flow/hls/layout.py)."""

from dataclasses import dataclass


@dataclass
class Op:
    kind: str                 # a descriptor kind (flow/hls/layout.py KINDS)
    layer: int                # program layer index; -1 for the program's input and output transfers
    role: str                 # "layer", "io" or "check"
    fields: dict              # descriptor fields by name
    stream: str | None = None  # the layer whose weight stream this operation reads
    tiles: tuple = ()          # conv and linear: (first input word, input words) per output tile
    stream_offset: int = 0     # words into the layer's stream where this operation's part starts (a q/k/v
                               # projection runs as one convolution per output and head)
