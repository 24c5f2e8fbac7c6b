"""The sweep's scheduler on a real local Ray: a failed cell does not stop the others, a re-run skips the
cells done, cells sharing quantize/export/lower wait for the first of them; and `flow sweep` itself on the
2x2 grid (EfficientViT-B0 r64: w8a8/w6a6 x xczu9eg/xck26)."""

import json
import shutil
import subprocess
import time

import pytest

from flow.sweep import engine
from flow.sweep.grid import Cell

pytest.importorskip("ray", reason="ray not installed (run scripts/setup.sh)")


def _cells():
    return [Cell(task="estimate", model="efficientvit_b0", resolution=64, bits=b, recipe="default", part=p)
            for b in ("w8a8", "w6a6") for p in ("xczu9eg", "xck26")]


def test_failures_are_isolated_reruns_skip_done_cells_and_groups_wait(tmp_path, monkeypatch):
    def fake_cell(cell, cell_dir):  # runs in a Ray worker (pickled by value)
        import os
        import time as t
        from pathlib import Path

        start = t.time()
        t.sleep(1.0)
        Path(cell_dir).mkdir(parents=True, exist_ok=True)
        marker = Path(cell_dir).parent.parent / "fail"
        if cell.bits == "w6a6" and cell.part == "xck26" and marker.exists():
            raise RuntimeError("boom")  # outside run_cell's own handling: as if the worker failed
        return {"cell": cell.id, "settings": cell.settings(), "status": "ok", "seconds": 1.0, "fps": 1.0, "gops": 0.1,
                "start": start, "end": t.time(), "pid": os.getpid()}

    monkeypatch.setattr(engine, "run_cell", fake_cell)
    (tmp_path / "fail").touch()
    results = engine.run_sweep(_cells(), tmp_path, jobs=2)
    assert [r["status"] for r in results] == ["ok", "ok", "ok", "failed"]
    assert "boom" in results[3]["error"]
    w8_9eg, w8_k26, w6_9eg, _ = results
    assert w8_k26["start"] >= w8_9eg["end"]  # xck26 restores what xczu9eg's cell put in the stage cache
    assert w8_9eg["start"] < w6_9eg["end"] and w6_9eg["start"] < w8_9eg["end"]  # the two groups ran at once
    recorded = json.loads((tmp_path / "cells" / _cells()[3].id / "result.json").read_text())
    assert recorded["status"] == "failed" and "boom" in recorded["error"]

    (tmp_path / "fail").unlink()
    again = engine.run_sweep(_cells(), tmp_path, jobs=2)
    assert [r["status"] for r in again] == ["ok"] * 4
    assert again[:3] == results[:3]  # done before: skipped, not run again
    assert again[3]["start"] > results[2]["end"]


def test_flow_sweep_on_a_2x2_grid(tmp_path):
    """The real cells: quantize, export, lower and estimate per cell, top-1 on 50 test images."""
    flow = shutil.which("flow")
    (tmp_path / "grid.yaml").write_text("task: estimate\nmodels: [efficientvit_b0]\nresolution: 64\n"
                                        "bits: [w8a8, w6a6]\nparts: [xczu9eg, xck26]\ncalib: 8\neval_images: 50\n")
    t0 = time.monotonic()
    r = subprocess.run([flow, "sweep", "grid.yaml", "--out", "s"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "4 cells: 0 done before, 4 to run on a local Ray" in r.stderr
    out = tmp_path / "s"
    results = [json.loads((out / "cells" / c.id / "result.json").read_text()) for c in _cells()]
    assert all(x["status"] == "ok" and x["fps"] > 0 and 0 <= x["top1"] <= 100 for x in results)
    by = {(x["settings"]["bits"], x["settings"]["part"]): x for x in results}
    assert by["w8a8", "xck26"]["fps"] < by["w8a8", "xczu9eg"]["fps"]  # the smaller part
    assert by["w8a8", "xck26"]["top1"] == by["w8a8", "xczu9eg"]["top1"]  # the same quantized model
    log = (out / "cells" / _cells()[1].id / "build")
    assert (log / "estimate" / "estimate.json").is_file() and not (log / "hls").exists()
    assert "| efficientvit_b0_r64_w6a6_default_xck26 | efficientvit_b0 | 64 | w6a6 | default | xck26 | ok |" in r.stdout
    assert (out / "results.csv").is_file() and (out / "pareto.png").stat().st_size > 10_000
    assert f"flow: sweep of 4 cells, 0 failed; results in s/results.csv and s/results.md, plot s/pareto.png" in r.stdout
    print(f"2x2 sweep: {time.monotonic() - t0:.0f} s")

    r = subprocess.run([flow, "sweep", "grid.yaml", "--out", "s"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and "4 cells, all done before: nothing to run" in r.stderr, r.stderr


def test_a_recorded_result_counts_only_for_the_same_settings_code_and_weights(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"one")
    cell = Cell(task="accuracy", model="efficientvit_b0", resolution=64, bits="w8a8", recipe="r", part=None,
                weights=str(weights), eval_images=10)
    engine._record(tmp_path, cell, {"status": "ok", "settings": cell.settings(), "fingerprint": engine.fingerprint(cell)})
    assert engine.done_result(tmp_path, cell) is not None
    other = Cell(**{**cell.settings(), "eval_images": 20})
    assert other.id == cell.id and engine.done_result(tmp_path, other) is None  # other settings
    weights.write_bytes(b"two")  # retrained in place
    assert engine.done_result(tmp_path, cell) is None
    weights.write_bytes(b"one")
    engine._record(tmp_path, cell, {"status": "failed", "settings": cell.settings(),
                                    "fingerprint": engine.fingerprint(cell)})
    assert engine.done_result(tmp_path, cell) is None  # a failed cell runs again

