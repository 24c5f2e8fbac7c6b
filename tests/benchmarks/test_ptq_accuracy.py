"""The accuracy benchmark's --quick mode (what CI runs): every technique's row is measured and printed,
the rows outside the full recipe included."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "ptq_accuracy.py"


def test_quick_mode_prints_every_technique():
    r = subprocess.run([sys.executable, str(BENCH), "--quick", "--bits", "w4a8"], capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows]
    assert names[:2] == ["technique", "float"]
    assert float(rows[1].split("|")[2].split()[0]) >= 60.0  # the quick model has learned (chance is 10%)
    for expect in ("naive min-max", "MSE interval search", "bias correction", "GPTQ", "attention interval search",
                   "mixed precision", "block reconstruction, 5 steps", "bridge-block reconstruction, 5 steps",
                   "scheme and granularity search",
                   "distillation fine-tuning, 10 steps", "log2 attention divisor", "asymmetric post-Hardswish",
                   "channel-wise migration", "filter-wise shift", "full recipe"):
        assert any(n.startswith(expect) for n in names), expect
    for row in rows[2:]:
        top1 = float(row.split("|")[2].split()[0])
        assert 0.0 <= top1 <= 100.0
    assert "full recipe: W4A8 " in r.stdout


@pytest.mark.slow
def test_quick_mode_on_deit_prints_the_techniques_that_apply():
    r = subprocess.run([sys.executable, str(BENCH), "--quick", "--model", "deit_tiny", "--bits", "w8a8"],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "deit_tiny r64 on Fashion-MNIST" in r.stdout
    names = [line.split("|")[1].strip() for line in r.stdout.splitlines() if line.startswith("| ")]
    for expect in ("float", "naive min-max", "MSE interval search", "bias correction", "GPTQ",
                   "block reconstruction, 5 steps", "mixed precision", "distillation fine-tuning, 10 steps",
                   "full recipe"):
        assert any(n.startswith(expect) for n in names), expect
    for absent in ("bridge-block", "attention interval search", "log2", "channel-wise", "filter-wise",
                   "asymmetric", "two scales", "scheme and granularity"):
        assert not any(absent in n for n in names), absent
    assert "full recipe: W8A8 " in r.stdout and "target drop <= 0.5 pp" in r.stdout
