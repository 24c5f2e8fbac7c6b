"""The program image the accelerator runs: descriptors, weight streams, and the DDR activation area.

- ``desc`` / ``check_desc``: one DESC_WORDS-word descriptor per operation of the memory plan (the check
  program also stores every on-chip layer output to DDR, for the layer-by-layer comparison);
- ``weights``: every layer's weight stream (flow/hls/streams.py), one after another, in AXI beats, and
  ``weights_desc`` the beats the descriptor port reads, which the host appends to the descriptors (the
  descriptor port is idle while a layer runs). The conv PE array's streams go two words a cycle over
  min(4, 2 L / BEAT) ports (vitflow/dma.h stream_pairs): the weight port, the descriptor port and, at
  L >= 2 BEAT, wgt2 and wgt3, which read the weight buffer again through their own HP ports, each part
  after the weight port's. Any other stream goes a word a cycle: when a word is two beats or more, its even
  beats through the weight port and its odd ones through the descriptor port. W_OFF and W_OFF_D give each
  stream's first beat in the two buffers;
- the DDR activation area: a region per program input and output, per tensor kept in DDR, and per layer
  output (the check program's dumps), each in the tensor's on-chip word layout.
"""

from dataclasses import dataclass

import numpy as np

from .layout import DESC_WORDS, ROLES, encode
from .memory_plan import MemoryPlan
from .streams import PAIRED, pack_stream


@dataclass
class Image:
    plan: MemoryPlan
    desc: np.ndarray          # (operations, DESC_WORDS) int32, the program
    check_desc: np.ndarray    # the program with every layer output stored to DDR
    weights: np.ndarray       # (beats, BEAT) uint8: the weight buffer (the weight port's, wgt2's and wgt3's beats)
    weights_desc: np.ndarray  # (beats, BEAT) uint8: the beats the descriptor port reads (after the descriptors)
    stream_beats: dict        # (layer name, first word of a part) -> (W_OFF, W_OFF_D) of that stream part

    @property
    def beat_bytes(self) -> int:
        return self.plan.beat_bytes


def _parts(plan: MemoryPlan) -> dict:
    """layer name -> its stream's parts as the operations read them: [(first word, words)] in order (a q/k/v
    projection's heads each read their own part; any other stream is one part)."""
    parts = {}
    for op in plan.ops + plan.check_ops:
        if op.stream:
            parts.setdefault(op.stream, set()).add((op.stream_offset, op.fields["W_WORDS"]))
    return {name: sorted(p) for name, p in parts.items()}


def port_beats(words: np.ndarray, lanes: int, beat: int, paired: bool) -> list:
    """A stream part's beats on each port that reads it (vitflow/dma.h), in the order each port reads them:
    [weight port, descriptor port, wgt2, wgt3], as many as it uses. A paired part (the PE array's): beat j
    of each pair (its first word's beats, then its second's) on port j % P, P = min(4, 2 L / BEAT). Any
    other: with words of two beats or more, a word's even beats on the weight port and its odd ones on the
    descriptor port; else all on the weight port."""
    per = lanes // beat
    flat = np.asarray(words, dtype=np.uint8).reshape(-1, beat)
    if paired:
        ports = weight_ports(lanes, beat)
        by_port = flat.reshape(len(words) // 2, 2 * per // ports, ports, beat)
        return [by_port[:, :, p].reshape(-1, beat) for p in range(ports)]
    return [flat[0::2], flat[1::2]] if split_streams_of(lanes, beat) else [flat]


def word_port_offsets(words: int, lanes: int, beat: int) -> tuple:
    """(weight port beats, descriptor port beats) of the first ``words`` words of a stream that is not
    paired: where a part starting ``words`` in begins on each port (port_beats' split)."""
    beats = words * (lanes // beat)
    return (beats // 2, beats // 2) if split_streams_of(lanes, beat) else (beats, 0)


def build_image(program, plan: MemoryPlan) -> Image:
    """Each stream part's beats go to the weight buffer (the weight port's, then wgt2's and wgt3's, one after
    another: the loader reads them at W_OFF, W_OFF + q and W_OFF + 2 q) and to the descriptor port's area
    (at W_OFF_D)."""
    lanes, beat = plan.lanes, plan.beat_bytes
    parts = _parts(plan)
    wgt, dsc, where = [], [], {}
    n_wgt = n_dsc = 0
    for layer in program.layers:
        if not plan.stream_words[layer.name]:
            continue
        words = pack_stream(layer, plan.layouts, lanes, plan.tile_words)
        paired = layer.kind in PAIRED
        cuts = parts.get(layer.name, [(0, len(words))]) if paired else [(0, len(words))]
        if paired and (sum(n for _, n in cuts) != len(words) or any(o % 2 or n % 2 for o, n in cuts)):
            raise AssertionError(f"{layer.name}: stream parts {cuts} do not tile its {len(words)} words in pairs")
        for first, n in cuts:
            by_port = port_beats(words[first:first + n], lanes, beat, paired)
            where[(layer.name, first)] = (n_wgt, n_dsc)
            for k, b in enumerate(by_port):
                if k == 1:
                    dsc.append(b)
                    n_dsc += len(b)
                else:
                    wgt.append(b)
                    n_wgt += len(b)
    weights = np.concatenate(wgt) if wgt else np.zeros((2, beat), np.uint8)
    weights_desc = np.concatenate(dsc) if dsc else np.zeros((0, beat), np.uint8)

    def encoded(ops):
        rows = []
        for op in ops:
            fields = dict(op.fields)
            fields["ROLE"] = ROLES.index(op.role)
            if op.stream and program.layer(op.stream).kind in PAIRED:
                fields["W_OFF"], fields["W_OFF_D"] = where[(op.stream, op.stream_offset)]
            elif op.stream:  # a whole stream, a word per cycle over one port or two
                w_off, d_off = where[(op.stream, 0)]
                w_skip, d_skip = word_port_offsets(op.stream_offset, lanes, beat)
                fields["W_OFF"], fields["W_OFF_D"] = w_off + w_skip, d_off + d_skip
            rows.append(encode(op.kind, fields))
        return np.asarray(rows, dtype=np.int64).astype(np.int32).reshape(-1, DESC_WORDS)

    return Image(plan, encoded(plan.ops), encoded(plan.check_ops), weights, weights_desc, where)


def split_streams_of(lanes: int, beat: int) -> bool:
    """Whether a word is two beats or more: a stream not the PE array's then goes through two ports, a
    word's even beats on the weight port and its odd ones on the descriptor port (vitflow/dma.h)."""
    return lanes // beat >= 2


def split_streams(plan: MemoryPlan) -> bool:
    """split_streams_of the plan's words and beats."""
    return split_streams_of(plan.lanes, plan.beat_bytes)


def weight_ports(lanes: int, beat: int) -> int:
    """Ports the PE array's stream reads at once (dma.h stream_pairs): 4 when a word is two beats or more
    (the top then has the masters wgt2 and wgt3), else 2."""
    return min(4, 2 * (lanes // beat))


def axi_masters(lanes: int, beat: int) -> int:
    """The top's AXI masters: descriptors, weights, activations, and wgt2, wgt3 with four weight ports."""
    return 5 if weight_ports(lanes, beat) == 4 else 3


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
    from .concat_in_place import view_codes

    env = view_codes(program, env)  # the codes a producer writes into a concatenation done in place
    return ddr_area(image, {t: env[t] for t in image.plan.ddr if t in env})
