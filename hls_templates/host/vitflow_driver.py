"""vitflow host driver (copied into a generated project as host/vitflow_driver.py): runs the accelerator
from Python, on the board with PYNQ, or on a workstation against the C simulation compiled as a shared
library (`flow` builds host/libvitflow_csim.so: flow.hls.csim.compile_csim_library). Both are devices
behind one interface (allocate, read, write), so the same Accelerator class does the same buffer
allocation and layout, register writes, start, poll with a timeout, ap_return check and output decoding.

    python3 vitflow_driver.py --bit ../vivado/vitflow.bit --data ../data [--codes input.npy] [--check]
    python3 vitflow_driver.py --csim libvitflow_csim.so --data ../data [--codes input.npy] [--check]

The input is the DDR area the flow wrote (data/img0/ddr_in.bin), or --codes: the input tensor's integer
codes (C x H x W, .npy), laid out as the accelerator reads them (the first convolution's patches when the
flow runs it on patches; the word layout of data/tensors.json). The outputs are decoded back to the
program's integer codes. With --check it runs the check program (every layer's output stored to DDR) and
compares every byte the reference defines (data/ddr_mask.bin) with data/img0/ddr_golden.bin.

Needs numpy; on the board, pynq.
"""

import argparse
import ctypes
import json
import math
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

IP = "vitflow_top_0"  # the accelerator's instance in the block design (vivado/build_bitstream.tcl)


def register_map(weight_ports: int = 2) -> dict:
    """The top's AXI-Lite registers as Vitis HLS lays them out (ap_ctrl_hs; the return value; then each
    argument: a 64-bit pointer as two words and a reserved one). With 4 weight ports (the PE array's stream
    two words a cycle, tensors.json "weight_ports") the top has the pointers wgt2 and wgt3 after wgt, which
    the host points at the weight buffer too."""
    regs = {"CTRL": 0x00, "GIER": 0x04, "IP_IER": 0x08, "IP_ISR": 0x0C, "ap_return": 0x10}
    off = 0x18
    for name in ["desc", "wgt"] + (["wgt2", "wgt3"] if weight_ports == 4 else []) + ["ddr"]:
        regs[f"{name}_1"], regs[f"{name}_2"] = off, off + 4
        off += 0xC
    regs["n_desc"] = off
    return regs


REGISTERS = register_map()  # a design whose weights take two ports
AP_START, AP_DONE = 0x1, 0x2
BUFFER_ALIGN = 64  # bytes: the m_axi ports' alignment (run_hls.tcl: -m_axi_alignment_byte_size 64)


class DriverError(Exception):
    """A run that cannot start or did not finish as it should; the message says why."""


# ---- the board's register map, from the bitstream's hardware handoff ----

def check_hwh(hwh: Path, ip: str = IP, registers: dict = REGISTERS) -> None:
    """The .hwh beside the bitstream must hold ``ip`` with every register this driver writes
    (``registers``), at the offset it writes; a DriverError lists what differs."""
    try:
        root = ET.parse(hwh).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DriverError(f"cannot read the hardware handoff {hwh}: {exc}") from None
    module = next((m for m in root.iter("MODULE") if m.get("INSTANCE") == ip), None)
    if module is None:
        found = sorted(m.get("INSTANCE") for m in root.iter("MODULE") if m.get("INSTANCE"))
        raise DriverError(f"{hwh} has no IP '{ip}' (instances: {', '.join(found)}): not a vitflow bitstream")
    regs = {}
    for r in module.findall(".//REGISTERS/REGISTER[@NAME]"):
        prop = r.find('./PROPERTY[@NAME="ADDRESS_OFFSET"]')
        if prop is not None:
            regs[r.get("NAME")] = int(prop.get("VALUE"), 0)
    wrong = [f"{name} missing" if name not in regs else f"{name} at {regs[name]:#x}, expected {off:#x}"
             for name, off in registers.items() if regs.get(name) != off]
    if wrong:
        raise DriverError(f"{hwh}: the IP's registers differ from this driver's ({'; '.join(wrong)}): the "
                          f"bitstream and the generated project are from different builds")


# ---- devices ----

class Buffer:
    """A contiguous buffer the accelerator reads or writes: ``array`` (uint8) and its device address."""

    def __init__(self, array, device_address, sync_to=None, sync_from=None):
        self.array, self.device_address = array, device_address
        self._to, self._from = sync_to, sync_from

    def sync_to_device(self):
        if self._to:
            self._to()

    def sync_from_device(self):
        if self._from:
            self._from()


class PynqDevice:
    """The accelerator on the board: the overlay's IP, buffers from pynq.allocate (physically contiguous)."""

    def __init__(self, bit: str, ip: str = IP, registers: dict = REGISTERS):
        from pynq import Overlay

        check_hwh(Path(bit).with_suffix(".hwh"), ip, registers)
        self.ip = getattr(Overlay(bit), ip)
        self.registers = registers

    def allocate(self, nbytes: int) -> Buffer:
        from pynq import allocate

        buf = allocate(shape=(nbytes,), dtype=np.uint8)
        return Buffer(buf, buf.device_address, buf.sync_to_device, buf.sync_from_device)

    def read(self, offset: int) -> int:
        return self.ip.read(offset)

    def write(self, offset: int, value: int) -> None:
        self.ip.write(offset, value)


class CsimDevice:
    """The accelerator as its C simulation, a shared library with the top's C ABI
    (vitflow_csim_run, host/csim_lib.cpp): buffers in this process at made-up device addresses, and the
    AXI-Lite registers emulated as Vitis lays them out; writing ap_start runs the top once."""

    BASE = 0x4000_0000

    def __init__(self, library: str, registers: dict = REGISTERS):
        self.lib = ctypes.CDLL(str(library))
        self.registers = registers
        self.lib.vitflow_csim_run.restype = ctypes.c_int
        self.lib.vitflow_csim_run.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p, ctypes.c_long,
                                              ctypes.c_void_p, ctypes.c_long, ctypes.c_int]
        self.regs = dict.fromkeys(registers.values(), 0)
        self.buffers, self.next_address = [], self.BASE

    def allocate(self, nbytes: int) -> Buffer:
        buf = Buffer(np.zeros(nbytes, dtype=np.uint8), self.next_address)
        self.buffers.append(buf)
        self.next_address += -(-nbytes // BUFFER_ALIGN) * BUFFER_ALIGN
        return buf

    def _buffer(self, name: str) -> Buffer:
        address = self.regs[self.registers[f"{name}_1"]] | self.regs[self.registers[f"{name}_2"]] << 32
        for b in self.buffers:
            if b.device_address == address:
                return b
        raise DriverError(f"{name}: no buffer at device address {address:#x}")

    def read(self, offset: int) -> int:
        return self.regs[offset]

    def write(self, offset: int, value: int) -> None:
        regs = self.registers
        if offset == regs["CTRL"] and value & AP_START:
            self.regs[offset] = 0
            desc, wgt, ddr = (self._buffer(n) for n in ("desc", "wgt", "ddr"))
            for extra in ("wgt2", "wgt3"):  # the library reads the weight buffer through them itself
                if f"{extra}_1" in regs and self._buffer(extra) is not wgt:
                    raise DriverError(f"{extra} must point at the weight buffer")
            ret = self.lib.vitflow_csim_run(desc.array.ctypes.data, desc.array.size, wgt.array.ctypes.data,
                                            wgt.array.size, ddr.array.ctypes.data, ddr.array.size,
                                            self.regs[regs["n_desc"]])
            self.regs[regs["ap_return"]] = ret & 0xFFFFFFFF
            self.regs[offset] = AP_DONE | 0x4  # done, idle
        elif offset == regs["IP_ISR"]:
            self.regs[offset] ^= value  # toggle on write
        else:
            self.regs[offset] = value & 0xFFFFFFFF


# ---- the program's data: input layout and output decoding (flow/hls/tensor_layout.py's, without flow) ----

def patches(x, spec):
    """The first convolution's input patches: channel (ki k + kj) C + c of pixel (i, j) is
    x[c, i s - p + ki, j s - p + kj], 0 outside the image (flow/hls/input_patches.py)."""
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = spec["kernel"], spec["stride"], spec["pad"]
    xp = np.pad(np.asarray(x, dtype=np.int64), ((0, 0), (pt, pb), (pl, pr)))
    ho, wo = spec["out_hw"]
    c = xp.shape[0]
    out = np.empty((kh * kw * c, ho, wo), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            out[(i * kw + j) * c:(i * kw + j + 1) * c] = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
    return out


def _slots(t, per_word):
    """(slot of each channel, words per pixel); a view in a concatenation done in place starts ``lead``
    words into each of its host's pixels of ``stride`` words."""
    slots, word = [], t.get("lead", 0)
    for seg in t["segments"]:
        slots.extend(word * per_word + np.arange(seg))
        word += -(-seg // per_word)
    return np.asarray(slots, dtype=np.int64), t.get("stride") or word


def _dtype(t):
    return {(1, True): np.int8, (1, False): np.uint8, (2, True): "<i2", (2, False): "<u2"}[(t["eb"], t["signed"])]


def words(codes, t, lanes):
    """A tensor's codes in its word layout: HWC, each segment of channels from a word boundary."""
    per_word = lanes // t["eb"]
    x = np.asarray(codes, dtype=np.int64).reshape(t["shape"][0], -1)
    slots, nwords = _slots(t, per_word)
    elems = np.zeros((x.shape[1], nwords * per_word), dtype=np.int64)
    elems[:, slots] = x.T
    return elems.astype(_dtype(t)).view(np.uint8).reshape(-1)


def decode(area, t, meta):
    """A tensor's integer codes (its program shape) from the DDR area."""
    per_word = meta["lanes"] // t["eb"]
    slots, nwords = _slots(t, per_word)
    pixels = math.prod(t["shape"][1:])
    start = t["beat"] * meta["beat_bytes"]
    raw = np.ascontiguousarray(area[start:start + pixels * nwords * meta["lanes"]]).reshape(pixels, -1)
    return raw.view(_dtype(t)).astype(np.int64)[:, slots].T.reshape(t["shape"])


def input_area(meta, codes):
    """The DDR activation area with the program's input in place, from the input tensor's codes."""
    if meta.get("patches"):
        codes = patches(codes, meta["patches"])
    area = np.zeros(meta["ddr_beats"] * meta["beat_bytes"], dtype=np.uint8)
    t = meta["tensors"][meta["inputs"][0]]
    w = words(codes, t, meta["lanes"])
    area[t["beat"] * meta["beat_bytes"]:t["beat"] * meta["beat_bytes"] + w.size] = w
    return area


# ---- the driver ----

class Accelerator:
    """The program image of a generated project's data/ folder on a device (PynqDevice or CsimDevice)."""

    def __init__(self, device, data):
        data = Path(data)
        self.device, self.data = device, data
        self.meta = json.loads((data / "tensors.json").read_text())
        self.desc_bytes = 4 * self.meta["desc_words"]
        wdesc = np.fromfile(data / "weights_desc.bin", dtype=np.uint8)
        self.images = {}
        for check in (False, True):
            desc = np.fromfile(data / ("check.desc" if check else "program.desc"), dtype=np.uint8)
            # the descriptor port's buffer also holds the weight beats it streams, after the descriptors
            self.images[check] = (np.concatenate([desc, wdesc]), desc.size // self.desc_bytes)
        self.wgt = np.fromfile(data / "weights.bin", dtype=np.uint8)
        ports = self.meta.get("weight_ports", 2)
        if ("wgt2_1" in device.registers) != (ports == 4):
            raise DriverError(f"the program's weights take {ports} ports; the device's register map was made for "
                              f"{4 if 'wgt2_1' in device.registers else 2} (register_map)")

    def _buffer(self, array) -> Buffer:
        buf = self.device.allocate(max(array.size, BUFFER_ALIGN))
        buf.array[:array.size] = array
        buf.sync_to_device()
        return buf

    def run(self, codes=None, area=None, check=False, timeout=10.0) -> dict:
        """Run the program (``check``: the check program) on one input: the input tensor's ``codes`` or a
        whole DDR ``area``. Returns {"outputs": {name: codes}, "area": the DDR area after the run,
        "seconds": the time to ap_done}."""
        if area is None:
            area = input_area(self.meta, codes)
        desc, n_desc = self.images[check]
        bufs = {"desc": self._buffer(desc), "wgt": self._buffer(self.wgt), "ddr": self._buffer(area)}
        dev = self.device
        regs = dev.registers  # the design's map (register_map: wgt2 and wgt3 with four weight ports)
        pointers = dict(bufs)
        pointers.update({p: bufs["wgt"] for p in ("wgt2", "wgt3") if f"{p}_1" in regs})
        for name, buf in pointers.items():
            dev.write(regs[f"{name}_1"], buf.device_address & 0xFFFFFFFF)
            dev.write(regs[f"{name}_2"], buf.device_address >> 32)
        dev.write(regs["n_desc"], n_desc)
        dev.write(regs["IP_ISR"], dev.read(regs["IP_ISR"]))  # clear a pending done (toggle on write)
        dev.write(regs["GIER"], 1)  # the done interrupt lights the board's status LED
        dev.write(regs["IP_IER"], 1)
        start = time.monotonic()
        dev.write(regs["CTRL"], AP_START)
        while not dev.read(regs["CTRL"]) & AP_DONE:
            if time.monotonic() - start > timeout:
                raise DriverError(f"the accelerator did not finish within {timeout:g} s ({n_desc} descriptors)")
            time.sleep(0.0005)
        seconds = time.monotonic() - start
        ret = dev.read(regs["ap_return"])
        ret = ret - (1 << 32) if ret & 0x80000000 else ret
        if ret >= 0:
            raise DriverError(f"descriptor {ret} has a kind this bitstream does not know: the program image "
                              f"and the bitstream are from different builds")
        bufs["ddr"].sync_from_device()
        out = np.array(bufs["ddr"].array[:area.size])
        return {"outputs": {n: decode(out, self.meta["tensors"][n], self.meta) for n in self.meta["outputs"]},
                "area": out, "seconds": seconds}

    def check(self, img="img0", timeout=10.0) -> int:
        """Run the check program on data/<img>; the number of bytes that differ from the reference's."""
        area = np.fromfile(self.data / img / "ddr_in.bin", dtype=np.uint8)
        out = self.run(area=area, check=True, timeout=timeout)["area"]
        golden = np.fromfile(self.data / img / "ddr_golden.bin", dtype=np.uint8)
        mask = np.fromfile(self.data / "ddr_mask.bin", dtype=np.uint8).astype(bool)
        return int(np.count_nonzero((out != golden) & mask))


def open_device(data, csim=None, bit=None):
    """The device for the program image in ``data``: its C simulation library ``csim``, or the board with the
    bitstream ``bit``, with the register map of the image's design (tensors.json "weight_ports")."""
    regs = register_map(json.loads((Path(data) / "tensors.json").read_text()).get("weight_ports", 2))
    return CsimDevice(csim, regs) if csim else PynqDevice(bit, registers=regs)


def main(argv=None):
    ap = argparse.ArgumentParser(description="run the vitflow accelerator on the board (PYNQ) or its C simulation")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--bit", default="../vivado/vitflow.bit", help="the bitstream (its .hwh beside it)")
    where.add_argument("--csim", help="the C simulation library (libvitflow_csim.so) instead of a board")
    ap.add_argument("--data", default="../data")
    ap.add_argument("--codes", default=None, help="the input's integer codes, C x H x W (.npy)")
    ap.add_argument("--check", action="store_true", help="run the check program and compare every layer")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for ap_done")
    args = ap.parse_args(argv)
    try:
        acc = Accelerator(open_device(args.data, csim=args.csim, bit=args.bit), args.data)
        if args.check:
            bad = acc.check(timeout=args.timeout)
            print("every layer matches the integer reference" if not bad else f"{bad} bytes differ from the reference")
            return 1 if bad else 0
        area = None if args.codes else np.fromfile(Path(args.data) / "img0" / "ddr_in.bin", dtype=np.uint8)
        result = acc.run(codes=np.load(args.codes) if args.codes else None, area=area, timeout=args.timeout)
    except DriverError as exc:
        print(f"vitflow: {exc}", file=sys.stderr)
        return 1
    for name, codes in result["outputs"].items():
        print(name, codes.reshape(-1)[:64].tolist())
    print(f"ran the program in {result['seconds'] * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
