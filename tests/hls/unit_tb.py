"""Compile and run a C-simulation testbench of one template unit (softmax, token LayerNorm, activation
products): g++ with the project's flags and the open ap_types, the template folder on the include path,
compile-time sizes as -D macros (named apart from the templates' parameter names, which a macro would
rewrite). The testbench reads its numbers from stdin and prints its result rows, then a last line
"counts <iterations> <cycles> <entries> <fill>" (the audit's)."""

import subprocess

import numpy as np

from flow.hls.csim import CXXFLAGS, ap_types_dir, compiler
from flow.hls.project import templates_dir


def compile_unit(folder, source: str, **defines):
    (folder / "tb.cpp").write_text(source)
    exe = folder / "tb"
    flags = [f"-D{k}={v}" for k, v in defines.items()]
    subprocess.run([compiler(), *CXXFLAGS, *flags, "-isystem", str(ap_types_dir()), "-I",
                    str(templates_dir() / "vitflow"), str(folder / "tb.cpp"), "-o", str(exe)], check=True)
    return exe


def run_unit(exe, numbers) -> tuple:
    """(result rows as an int array, (iterations, cycles, entries, fill)) of one run on ``numbers``."""
    r = subprocess.run([str(exe)], input=" ".join(map(str, numbers)), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    rows = np.array([list(map(int, ln.split())) for ln in lines[:-1]])
    return rows, tuple(map(int, lines[-1].split()[1:]))
