"""C-simulation without Vitis: g++ builds the same top function and testbench Vitis would compile,
against the open ap_types headers of the installed hls4ml package (not a copy), and runs it."""

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from flow.errors import FlowError

from .project import TOP

CXXFLAGS = ["-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas"]  # HLS pragmas: for Vitis


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


def compile_csim(project: Path) -> Path:
    """Build project/csim/tb_vitflow; a compiler error is a FlowError quoting its first line."""
    project = Path(project)
    exe = project / "csim" / "tb_vitflow"
    exe.parent.mkdir(exist_ok=True)
    cmd = [compiler(), *CXXFLAGS, "-isystem", str(ap_types_dir()), "-I", str(project / "firmware"),
           str(project / "firmware" / f"{TOP}.cpp"), str(project / "tb" / "tb_vitflow.cpp"), "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        first = next((l for l in r.stderr.splitlines() if "error" in l), r.stderr.strip()[:300])
        raise FlowError(f"C-simulation build failed: {first}")
    return exe


_MISMATCH = re.compile(r"MISMATCH layer (\d+) index (\d+) csim (-?\d+) reference (-?\d+)")


def run_csim(project: Path, exe: Path | None = None) -> dict:
    """Run the testbench on every project/data/img<i>; return the per-layer result of the first image that
    is not bit-exact, else of the last (raises only if the simulation itself fails)."""
    project = Path(project)
    exe = exe or compile_csim(project)
    images = sorted((project / "data").glob("img*"), key=lambda p: int(p.name[3:]))
    if not images:
        raise FlowError(f"project {project} has no test images (data/img*/)")
    for n, img in enumerate(images, 1):
        result = _run_one(project, exe, img)
        result["images"] = n
        if not result["bit_exact"]:
            break
    return result


def _run_one(project: Path, exe: Path, img: Path) -> dict:
    t0 = time.monotonic()
    r = subprocess.run([str(exe), str(project / "data"), str(img)], capture_output=True, text=True)
    seconds = time.monotonic() - t0
    names = [line.split()[1] for line in (project / "data" / "layers.txt").read_text().splitlines()]
    cycles = [int(m[1]) for m in re.finditer(r"layer \d+ ok \d+ cycles (\d+)", r.stdout)]
    ok = len(cycles)
    m = _MISMATCH.search(r.stdout)
    if r.returncode not in (0, 1) or (r.returncode == 1 and not m):
        raise FlowError(f"C-simulation crashed (exit {r.returncode}): {(r.stderr or r.stdout).strip()[:300]}")
    result = {"image": img.name, "layers": len(names), "layers_exact": ok,
              "bit_exact": r.returncode == 0 and ok == len(names), "seconds_per_image": seconds,
              "cycles": dict(zip(names, cycles))}
    if m:
        li = int(m[1])
        result["first_mismatch"] = {"layer": names[li], "index": int(m[2]), "csim": int(m[3]), "reference": int(m[4])}
    return result
