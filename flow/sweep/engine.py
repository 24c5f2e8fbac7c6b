"""The sweep's scheduler: each cell a Ray task (a local Ray on this machine by default, or the cluster at
``address``), its result written to ``<out>/cells/<cell>/result.json`` as it arrives.

- A cell whose result.json records success with the same settings is done: a re-run skips it (a failed
  cell runs again).
- A failed cell (its own error, or its worker lost) is recorded with its error; the others go on.
- Cells that share quantize, export and lower (the same model, bits and recipe on other parts) share the
  stage cache (flow/stage_cache.py, passed to the workers): the first of each such group runs alone and the
  rest are submitted when it is done, so they restore its stages instead of computing them at once beside it.
"""

import json
import os
import shutil
from pathlib import Path

from flow.errors import FlowError
from flow.progress import say

from .cell import run_cell
from .grid import Cell, check_unique


def result_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / cell.id / "result.json"


def fingerprint(cell: Cell) -> dict:
    """What a cell's result depends on beyond its settings: the code version and the weights file's content
    (a checkpoint retrained in place makes its cells run again)."""
    from flow import stage_cache

    weights = stage_cache.file_digest(Path(cell.weights)) if cell.weights and Path(cell.weights).is_file() else None
    return {"code": stage_cache.code_version(), "weights_sha256": weights}


def done_result(out: Path, cell: Cell) -> dict | None:
    """The recorded result of ``cell`` when it succeeded with these settings and this code and weights,
    else None."""
    try:
        result = json.loads(result_path(out, cell).read_text())
    except (OSError, ValueError):
        return None
    same = result.get("settings") == cell.settings() and result.get("fingerprint") == fingerprint(cell)
    return result if result.get("status") == "ok" and same else None


def _record(out: Path, cell: Cell, result: dict) -> None:
    path = result_path(out, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str))
    tmp.replace(path)


def run_sweep(cells: list, out: Path, address: str | None = None, jobs: int | None = None) -> list:
    """Run every cell not done yet; return all cells' results in grid order."""
    check_unique(cells)
    out = Path(out).resolve()  # the workers' paths: absolute, for a cluster sharing the filesystem
    results = {c.id: done_result(out, c) for c in cells}
    todo = [c for c in cells if results[c.id] is None]
    skipped = len(cells) - len(todo)
    say("sweep", f"{len(cells)} cells: {skipped} done before, {len(todo)} to run"
                 + (f" on the Ray cluster at {address}" if address else " on a local Ray") if todo else
                 f"{len(cells)} cells, all done before: nothing to run")
    if todo:
        for cell in todo:  # a cell that runs again starts from an empty folder
            shutil.rmtree(out / "cells" / cell.id, ignore_errors=True)
        prints = {c.id: fingerprint(c) for c in todo}
        for cell, result in _run_on_ray(todo, out, address, jobs):
            result["fingerprint"] = prints[cell.id]
            _record(out, cell, result)
            results[cell.id] = result
            n = sum(r is not None for r in results.values()) - skipped
            say("sweep", f"[{n}/{len(todo)}] {cell.id}: {_brief(result)}")
    return [results[c.id] for c in cells]


def _brief(result: dict) -> str:
    if result["status"] != "ok":
        return f"FAILED: {result['error']}"
    parts = [f"{result['fps']:.1f} FPS, {result['gops']:.1f} GOPS" if "fps" in result else None,
             f"top-1 {result['top1']:.2f}%" if "top1" in result else None,
             {True: "csim bit-exact", False: "csim NOT bit-exact"}.get(result.get("csim_bit_exact"))]
    return ", ".join(p for p in parts if p) + f" ({result['seconds']:.0f} s)"


def _run_on_ray(cells: list, out: Path, address: str | None, jobs: int | None):
    """Yield (cell, result) as the tasks finish."""
    import logging

    import ray

    from flow import stage_cache

    env = {"VITFLOW_CACHE_DIR": str(stage_cache.cache_root().resolve()), "OMP_NUM_THREADS": "1"}
    started = not ray.is_initialized()
    if started:
        local = {} if address else {"num_cpus": jobs or os.cpu_count() or 1,
                                    "object_store_memory": 256 * 1024 * 1024}
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                     runtime_env={"env_vars": env}, **local)
        except Exception as exc:  # noqa: BLE001: Ray raises many kinds (ConnectionError, RuntimeError, ...)
            lines = str(exc).strip().splitlines()
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise FlowError(f"cannot start or reach {where}: {lines[0] if lines else type(exc).__name__}") from None
    task = ray.remote(num_cpus=1, max_retries=0)(run_cell)
    try:
        groups = {}
        for cell in cells:
            groups.setdefault(cell.front() if cell.task != "accuracy" else cell.id, []).append(cell)
        pending = {}
        for group in groups.values():
            pending[task.remote(group[0], str(out / "cells" / group[0].id))] = (group[0], group[1:])
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            cell, followers = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as exc:  # noqa: BLE001: the task raised or its worker died: this cell failed
                cause = getattr(exc, "cause", None) or exc  # a RayTaskError wraps the task's own exception
                lines = str(cause).strip().splitlines()
                result = {"cell": cell.id, "settings": cell.settings(), "status": "failed", "seconds": None,
                          "error": f"{type(cause).__name__}: {lines[0][:300] if lines else ''}"}
            for f in followers:  # the group's stages are in the cache now (or failed: they try themselves)
                pending[task.remote(f, str(out / "cells" / f.id))] = (f, [])
            yield cell, result
    finally:
        if started:
            ray.shutdown()
