"""C-simulation without Vitis: g++ builds the same top function and testbench Vitis would compile, against
the open ap_types headers of the installed hls4ml package (not a copy), and runs it. The build includes
the II audit (hls_templates/vitflow/audit.h): the run stops, naming the place, at the first access that
Vitis could not schedule at the loop's II, and reports what each descriptor counted."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from flow.errors import FlowError
from flow.progress import progress

from .project import TOP

# HLS pragmas and loop labels are for Vitis (a label names its loop in the synthesis reports; nothing jumps to it)
CXXFLAGS = ["-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas", "-Wno-unused-label"]
PORTS = ("desc", "wgt", "act", "wgt2", "wgt3")  # as the testbench prints them (audit ids 0, 1, 2, 4, 5)


def ap_types_dir() -> Path:
    try:
        import hls4ml
    except ImportError:
        raise FlowError("C-simulation needs hls4ml's ap_types headers; hls4ml is not installed (run scripts/setup.sh)")
    path = Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file():
        raise FlowError(f"hls4ml's ap_types headers are missing at {path}")
    return path


def compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise FlowError(f"C-simulation needs a C++ compiler; '{cxx}' is not on PATH (run scripts/setup.sh)")
    return cxx


def _build(project: Path, source: str, out: str, flags: list, what: str) -> Path:
    """g++ the project's top with ``source`` into project/csim/``out``; a compiler error is a FlowError
    quoting its first line."""
    target = project / "csim" / out
    target.parent.mkdir(exist_ok=True)
    cmd = [compiler(), *CXXFLAGS, *flags, "-isystem", str(ap_types_dir()), "-I", str(project / "firmware"),
           str(project / "firmware" / f"{TOP}.cpp"), str(project / source), "-o", str(target)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        first = next((l for l in r.stderr.splitlines() if "error" in l), r.stderr.strip()[:300])
        raise FlowError(f"{what} build failed: {first}")
    return target


def compile_csim(project: Path) -> Path:
    """Build project/csim/tb_vitflow, the testbench with the II audit."""
    return _build(Path(project), "tb/tb_vitflow.cpp", "tb_vitflow", [], "C-simulation")


def compile_csim_library(project: Path) -> Path:
    """Build project/csim/libvitflow_csim.so, the host driver's CsimDevice (host/csim_lib.cpp: the top's C
    ABI over byte buffers), without the II audit (the testbench's run has it)."""
    return _build(Path(project), "host/csim_lib.cpp", "libvitflow_csim.so",
                  ["-DVITFLOW_NO_AUDIT", "-shared", "-fPIC"], "C-simulation library")


_STATS = re.compile(r"desc (\d+) layer (-?\d+) kind (\d+) iterations (\d+) cycles (\d+) entries (\d+) fill (\d+) "
                    r"beats (\d+) (\d+) (\d+) (\d+) (\d+) bursts (\d+) (\d+) (\d+) (\d+) (\d+)")
_STARTED = re.compile(r"^run desc (\d+) layer (-?\d+) kind \d+$", re.M)
_AUDIT = re.compile(r"AUDIT descriptor (-?\d+) layer (-?\d+) loop (\S+) iteration (\d+): (.*)")


def run_csim(project: Path, exe: Path | None = None, data: str = "data") -> dict:
    """Run the testbench on every project/<data>/img<i>; return the result of the first image that is not
    bit-exact, else of the last: every layer's output read back from the DDR area against the integer
    reference's (ddr_golden.bin), the first differing layer and element named, and what the audit counted
    per layer. Raises FlowError when the audit rejects an access or the simulation crashes."""
    project = Path(project)
    exe = exe or compile_csim(project)
    images = sorted((project / data).glob("img*"), key=lambda p: int(p.name[3:]))
    if not images:
        raise FlowError(f"project {project} has no test images ({data}/img*/)")
    meta = json.loads((project / data / "tensors.json").read_text())
    # the images run as concurrent processes (one per core); their results are read in image order
    with ThreadPoolExecutor(max_workers=max(1, min(len(images), os.cpu_count() or 1))) as pool:
        runs = [pool.submit(_run_one, project / data, exe, img, meta) for img in images]
        for n, run in enumerate(progress(runs, "csim", "image"), 1):
            result = run.result()
            result["images"] = n
            if not result["bit_exact"]:
                for later in runs[n:]:
                    later.cancel()
                break
    return result


def _layer_name(meta, index: int) -> str:
    return meta["layers"][index]["name"] if 0 <= index < len(meta["layers"]) else "the program's input/output"


def _run_one(data: Path, exe: Path, img: Path, meta: dict) -> dict:
    t0 = time.monotonic()
    r = subprocess.run([str(exe), str(data), str(img)], capture_output=True, text=True)
    seconds = time.monotonic() - t0
    audit = _AUDIT.search(r.stdout)
    if r.returncode == 3 and audit:
        raise FlowError(f"II audit: {_layer_name(meta, int(audit[2]))} (descriptor {audit[1]}), loop {audit[3]}, "
                        f"iteration {audit[4]}: {audit[5]}")
    mismatch = re.search(r"MISMATCH byte (\d+) csim (-?\d+) reference (-?\d+)", r.stdout)
    if r.returncode < 0:  # a signal: where the run was, from the last descriptor it announced (audit.h)
        last = _STARTED.findall(r.stdout)
        where = (f" in layer {_layer_name(meta, int(last[-1][1]))} (descriptor {last[-1][0]})" if last
                 else " before its first descriptor")
        sig = signal.Signals(-r.returncode).name if -r.returncode in signal.valid_signals() else str(-r.returncode)
        verb = "was killed by" if -r.returncode in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT) else "crashed with"
        raise FlowError(f"C-simulation of {img.name} {verb} {sig}{where}")
    if r.returncode not in (0, 1) or (r.returncode == 1 and not mismatch):
        raise FlowError(f"C-simulation failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()[:300]}")
    ops = meta["operations"]
    stats = []
    for m in _STATS.finditer(r.stdout):
        i = int(m[1])
        v = [int(x) for x in m.groups()]
        stats.append({"layer": v[1], "kind": v[2], "role": ops[i]["role"], "iterations": v[3], "cycles": v[4],
                      "entries": v[5], "fill": v[6], "beats": dict(zip(PORTS, v[7:12])),
                      "bursts": dict(zip(PORTS, v[12:17]))})
    result = {"image": img.name, "layers": len(meta["layers"]), "bit_exact": r.returncode == 0,
              "seconds_per_image": seconds, "descriptors": len(stats), "counts": per_layer(stats, meta)}
    first = compare_layers(img, meta)
    result["layers_exact"] = first["exact"]
    if first["mismatch"]:
        result["bit_exact"] = False
        result["first_mismatch"] = first["mismatch"]
    elif mismatch:  # a differing byte outside every layer's output: an input or a tensor kept in DDR
        result["first_mismatch"] = {"layer": "-", "index": int(mismatch[1]), "csim": int(mismatch[2]),
                                    "reference": int(mismatch[3])}
    return result


def per_layer(stats: list, meta: dict) -> dict:
    """What the audit counted, summed per layer (the program's input/output transfers under "io"); the
    check-only stores are kept apart under "check"."""
    out = {}
    for s in stats:
        key = "check" if s["role"] == "check" else (_layer_name(meta, s["layer"]) if s["layer"] >= 0 else "io")
        acc = out.setdefault(key, {"iterations": 0, "cycles": 0, "entries": 0, "fill": 0, "descriptors": 0,
                                   "beats": dict.fromkeys(PORTS, 0), "bursts": dict.fromkeys(PORTS, 0)})
        for k in ("iterations", "cycles", "entries", "fill"):
            acc[k] += s[k]
        acc["descriptors"] += 1
        for p in PORTS:
            acc["beats"][p] += s["beats"][p]
            acc["bursts"][p] += s["bursts"][p]
    return out


def compare_layers(img: Path, meta: dict) -> dict:
    """Every layer's output read back from the DDR area of a check run, against the reference's: the number
    of layers equal before the first that differs, and that one's first differing element."""
    from .tensor_layout import TensorLayout

    area = np.fromfile(img / "ddr_out.bin", dtype=np.uint8)
    golden = np.fromfile(img / "ddr_golden.bin", dtype=np.uint8)
    beat = meta["beat_bytes"]
    exact = 0
    for layer in meta["layers"]:
        for name in layer["outputs"]:  # a q/k/v projection has three
            t = meta["tensors"][name]
            lay = TensorLayout(tuple(t["shape"]), t["eb"], t["signed"], tuple(t["segments"]), meta["lanes"],
                               t["tokens"], t["lead"], t["stride"])
            start = t["beat"] * beat
            got = lay.unpack(area[start:start + lay.words * lay.lanes].reshape(lay.words, lay.lanes))
            want = lay.unpack(golden[start:start + lay.words * lay.lanes].reshape(lay.words, lay.lanes))
            diff = np.flatnonzero(got.reshape(-1) != want.reshape(-1))
            if diff.size:
                i = int(diff[0])
                return {"exact": exact, "mismatch": {"layer": layer["name"], "tensor": name, "index": i,
                                                     "csim": int(got.reshape(-1)[i]),
                                                     "reference": int(want.reshape(-1)[i])}}
        exact += 1
    return {"exact": exact, "mismatch": None}
