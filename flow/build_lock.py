"""One build at a time per output folder, and the output replaced in one step.

build_lock(out): an exclusive, non-blocking flock on a lock file beside ``out`` (``.<name>.lock``, holding
the builder's process id), held for the whole build; the kernel releases it when the process ends, however
it ends. A second build into the same ``out`` fails at once with a FlowError naming the holder. The file is
removed when the lock is released; a build that locked a file another had just removed (its inode no
longer the path's) takes the lock again on the new file.

swap_into(staging, out): ``out`` replaced by ``staging`` in one atomic exchange (Linux renameat2
RENAME_EXCHANGE), the old contents left at ``staging`` for the caller to delete; where the exchange is not
available, two renames (``out`` absent for an instant between them).
"""

import ctypes
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from flow.errors import FlowError

RENAME_EXCHANGE = 2
AT_FDCWD = -100


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


@contextmanager
def build_lock(out: Path):
    path = lock_path(out)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FlowError(f"another build (process {holder}) is writing '{out}'; wait for it to finish, "
                            f"or build into another --out") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed this file as we opened it: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


def swap_into(staging: Path, out: Path) -> None:
    """Make ``staging`` the new ``out``; the old ``out``, if any, is left at ``staging``."""
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        return
    old = staging.with_name(staging.name + ".old")
    os.rename(out, old)
    os.rename(staging, out)
    os.rename(old, staging)
