"""The stage cache: each front stage's artifacts (quantize, export, lower), kept under a key that hashes
everything that determines them, so a build that changes only the part, board, clock or parallelism
reuses them.

A key is a SHA-256 over a JSON document: the stage's name, the previous stage's key, and the stage's own
inputs (flow/steps/cached.py says which). The first stage's inputs include the model, the resolution,
the weights file's content, the quantization settings, the calibration images themselves (their pixels:
whatever folder or data set they came from) and the code version: every source file of the package and
the versions of the libraries that compute the artifacts. A changed input changes its stage's key and so
every later one.

An entry is a folder ``<root>/<stage>/<key>/`` holding the stage's files and ``manifest.json`` (each
file's size and SHA-256), written last: an entry is made in a temporary folder beside it and renamed into
place, so a reader sees a whole entry or none, and concurrent builds (a sweep's tasks on one filesystem)
may race to store the same entry safely. Before use, every file is checked against the manifest; an entry
with no manifest (partial) or a file that differs (corrupt) is reported, removed and rebuilt, never used.

The root is ``$VITFLOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/vitflow``, else ``~/.cache/vitflow``.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

MANIFEST = "manifest.json"
STAGES = ("quantize", "export", "lower")  # the cached stages: the only folders under the root the cache owns
FORMAT = 1  # bump when the entry layout changes


def cache_root() -> Path:
    if os.environ.get("VITFLOW_CACHE_DIR"):
        return Path(os.environ["VITFLOW_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vitflow"


def digest(obj) -> str:
    """SHA-256 of ``obj`` as canonical JSON (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_CODE_VERSION = None


def code_version() -> str:
    """A hash of the package's source (flow/ and models/: .py and .yaml files) and the library versions
    that compute the cached artifacts: a changed line of code invalidates every entry."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        import importlib.metadata as md

        import flow
        import flow.models

        h = hashlib.sha256(f"format {FORMAT}".encode())
        roots = sorted({Path(p) for p in (*flow.__path__, *flow.models.__path__)})
        for root in roots:
            for path in sorted(root.rglob("*")):
                if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
                    h.update(str(path.relative_to(root)).encode())
                    h.update(path.read_bytes())
        for lib in ("torch", "brevitas", "qonnx", "onnx", "onnxruntime", "onnxscript", "numpy"):
            try:
                h.update(f"{lib}=={md.version(lib)}".encode())
            except md.PackageNotFoundError:
                h.update(f"{lib} absent".encode())
        _CODE_VERSION = h.hexdigest()
    return _CODE_VERSION


class Problem(Exception):
    """An entry that exists but cannot be used: partial or corrupt (the message says which and why)."""


def _files_under(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def lookup(stage: str, key: str, root: Path | None = None) -> Path | None:
    """The entry's folder when it is whole and every file matches its manifest; None when there is no
    entry; raises Problem (after removing the entry) when it is partial or corrupt."""
    entry = (root or cache_root()) / stage / key
    if not entry.is_dir():
        return None
    try:
        _verify(entry)
    except Problem:
        shutil.rmtree(entry, ignore_errors=True)
        raise
    return entry


def _verify(entry: Path) -> None:
    manifest = entry / MANIFEST
    if not manifest.is_file():
        raise Problem("partial (no manifest)")
    try:
        files = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        raise Problem("corrupt (unreadable manifest)") from None
    present = set(_files_under(entry)) - {MANIFEST}
    if present != set(files):
        missing, extra = sorted(set(files) - present), sorted(present - set(files))
        raise Problem(f"corrupt ({'missing ' + ', '.join(missing) if missing else 'unlisted ' + ', '.join(extra)})")
    for name, info in files.items():
        path = entry / name
        if path.stat().st_size != info["size"] or file_digest(path) != info["sha256"]:
            raise Problem(f"corrupt ({name} differs from its manifest)")


def content_digest(folder: Path, names: list | None = None) -> str:
    """One hash of the files (their relative names and SHA-256s) under ``folder`` (only ``names``, files
    or folders, when given; never the manifest): what a stage wrote, which the next stage's key chains on."""
    listed = [n for n in _files_under(folder) if n != MANIFEST]
    if names is not None:
        listed = [n for n in listed if any(n == m or n.startswith(m + "/") for m in names)]
    return digest({n: file_digest(folder / n) for n in listed})


def entry_digest(entry: Path) -> str:
    """content_digest of a verified entry, from its manifest's hashes (lookup has just checked them)."""
    files = json.loads((entry / MANIFEST).read_text())["files"]
    return digest({name: info["sha256"] for name, info in files.items()})


def store(stage: str, key: str, source: Path, names: list, inputs: dict, root: Path | None = None) -> Path:
    """Copy ``names`` (files or folders under ``source``) into the entry ``stage/key``; the manifest is
    written last and the entry renamed into place. Returns the entry's folder: this one, or the one another
    build stored under the same key first."""
    root = root or cache_root()
    (root / stage).mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root / stage)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", suffix=".partial", dir=root / stage))
    try:
        for name in names:
            src, dst = source / name, tmp / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        files = {n: {"size": (tmp / n).stat().st_size, "sha256": file_digest(tmp / n)} for n in _files_under(tmp)}
        (tmp / MANIFEST).write_text(json.dumps({"stage": stage, "key": key, "created": time.time(),
                                                "inputs": inputs, "files": files}, indent=1, default=str))
        entry = root / stage / key
        try:
            os.rename(tmp, entry)
        except OSError:  # another build stored the same entry first: theirs is as good
            shutil.rmtree(tmp, ignore_errors=True)
        return entry
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


ABANDONED_AFTER = 24 * 3600  # seconds: a store still unfinished after a day was killed


def _remove_abandoned(stage_dir: Path) -> None:
    """Temporary folders of stores that never finished (a killed build); a day old, so never one a
    concurrent build is still writing."""
    for tmp in stage_dir.glob(".*.partial"):
        try:
            if time.time() - tmp.stat().st_mtime > ABANDONED_AFTER:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def restore(entry: Path, dest: Path) -> list:
    """Copy an entry's files (not its manifest) into ``dest``; return their names."""
    names = [n for n in _files_under(entry) if n != MANIFEST]
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(entry / name, dest / name)
    return names


def entries(root: Path | None = None) -> list:
    """(stage, key, bytes, created) of every entry, partial ones included (created None)."""
    root = root or cache_root()
    out = []
    for stage_dir in sorted(root / s for s in STAGES if (root / s).is_dir()):
        for entry in sorted(p for p in stage_dir.iterdir() if p.is_dir()):
            size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
            try:
                created = json.loads((entry / MANIFEST).read_text())["created"]
            except (OSError, ValueError, KeyError):
                created = None
            out.append((stage_dir.name, entry.name, size, created))
    return out


def clear(root: Path | None = None) -> tuple:
    """Remove every entry of the stages (STAGES' folders only: the root may be a shared folder); return
    (entries removed, bytes freed)."""
    root = root or cache_root()
    found = entries(root)
    for stage in STAGES:
        shutil.rmtree(root / stage, ignore_errors=True)
    return len(found), sum(e[2] for e in found)
