import pytest

from flow.config import make_config
from flow.errors import FlowError
from flow.pipeline import run_build


def _writes_then_fails(st):
    (st.staging / "half.txt").write_text("partial")
    raise FlowError("boom")


def _writes(st):
    (st.staging / "done.txt").write_text("ok")


def test_failed_build_leaves_nothing(tmp_path):
    out = tmp_path / "a" / "b" / "proj"
    with pytest.raises(FlowError, match="boom"):
        run_build(make_config(out=str(out)), steps=[_writes, _writes_then_fails])
    assert list(tmp_path.iterdir()) == []


def test_successful_build_replaces_output(tmp_path):
    out = tmp_path / "proj"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    assert run_build(make_config(out=str(out)), steps=[_writes]) == out
    assert sorted(p.name for p in out.iterdir()) == ["done.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]
