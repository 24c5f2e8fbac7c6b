"""The compiled MSE-loss kernel (kernels/mse_loss.c), built once per source and compiler into the cache.

The shared library is compiled by a C compiler (``$CC``, else gcc, else cc, else the g++ the C-simulation
already needs, in C mode) into ``<vitflow cache>/kernels/mse_loss-<hash>.so``, the hash covering the source,
the flags and the compiler's version, written under a temporary name and renamed into place, so concurrent
builds never load half a file. ``load()`` returns None (and the caller keeps Brevitas' own evaluation)
where no compiler works.
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

FLAGS = ["-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-shared", "-fPIC"]


def _compiler() -> list | None:
    """The C compiler's command: $CC, gcc or cc, else the C++ compiler setup.sh installs, told the source is C."""
    for cc in (os.environ.get("CC"), "gcc", "cc"):
        if cc and shutil.which(cc):
            return [cc]
    cxx = os.environ.get("CXX") or "g++"
    return [cxx, "-x", "c"] if shutil.which(cxx) else None


@lru_cache(maxsize=1)
def load():
    """The kernel as a ctypes library, or None where it cannot be built."""
    from flow.stage_cache import cache_root

    cc = _compiler()
    if cc is None:
        return None
    source = resources.files("flow.quantize").joinpath("kernels/mse_loss.c").read_bytes()
    try:
        version = subprocess.run([cc[0], "--version"], capture_output=True, text=True, timeout=30).stdout
        key = hashlib.sha256(source + " ".join(FLAGS).encode() + version.encode()).hexdigest()[:16]
        folder = cache_root() / "kernels"
        lib = folder / f"mse_loss-{key}.so"
        if not lib.exists():
            folder.mkdir(parents=True, exist_ok=True)
            src, tmp = folder / f"mse_loss-{key}.{os.getpid()}.c", folder / f"mse_loss-{key}.{os.getpid()}.so"
            src.write_bytes(source)
            try:
                subprocess.run([*cc, *FLAGS, str(src), "-o", str(tmp), "-lm"], check=True, capture_output=True,
                               timeout=120)
                os.replace(tmp, lib)
            finally:
                src.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
        so = ctypes.CDLL(str(lib))
    except (OSError, subprocess.SubprocessError):
        return None
    so.mse_losses.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                              ctypes.c_float, ctypes.c_float, ctypes.c_void_p]
    so.mse_losses.restype = None
    so.fake_quantize.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_float, ctypes.c_float,
                                 ctypes.c_float, ctypes.c_void_p]
    so.fake_quantize.restype = None
    return so


def mse_losses(lib, x: torch.Tensor, scales, zero_points, lo: float, hi: float) -> np.ndarray:
    """Per candidate, the summed squared error of fake-quantizing ``x`` (float64 sums of float32 terms)."""
    x = x.detach().contiguous().reshape(-1)
    s = np.ascontiguousarray(scales, dtype=np.float32)
    z = np.ascontiguousarray(zero_points, dtype=np.float32)
    out = np.zeros(len(s), dtype=np.float64)
    lib.mse_losses(x.data_ptr(), x.numel(), s.ctypes.data, z.ctypes.data, len(s), lo, hi, out.ctypes.data)
    return out


def fake_quantize(lib, x: torch.Tensor, scale: float, zero_point: float, lo: float, hi: float) -> torch.Tensor:
    """``x`` fake-quantized by the kernel's arithmetic (the same shape)."""
    flat = x.detach().contiguous().reshape(-1)
    q = torch.empty_like(flat)
    lib.fake_quantize(flat.data_ptr(), flat.numel(), scale, zero_point, lo, hi, q.data_ptr())
    return q.reshape(x.shape)
