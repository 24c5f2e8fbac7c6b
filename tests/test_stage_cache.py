"""The stage cache's entries: whole or absent, verified byte for byte, partial and corrupt ones refused."""

import json

import pytest

from flow import stage_cache


def _source(tmp_path):
    src = tmp_path / "src"
    (src / "program").mkdir(parents=True)
    (src / "a.json").write_text('{"x": 1}')
    (src / "program" / "weights.bin").write_bytes(bytes(range(256)) * 4)
    return src


def test_store_then_lookup_restores_the_same_bytes(tmp_path):
    root, src = tmp_path / "cache", _source(tmp_path)
    entry = stage_cache.store("lower", "k1", src, ["a.json", "program"], {"acc_bits": 32}, root=root)
    assert stage_cache.lookup("lower", "k1", root=root) == entry
    assert stage_cache.lookup("lower", "k2", root=root) is None
    dest = tmp_path / "dest"
    dest.mkdir()
    assert sorted(stage_cache.restore(entry, dest)) == ["a.json", "program/weights.bin"]
    assert (dest / "program" / "weights.bin").read_bytes() == (src / "program" / "weights.bin").read_bytes()
    manifest = json.loads((entry / stage_cache.MANIFEST).read_text())
    assert manifest["inputs"] == {"acc_bits": 32} and set(manifest["files"]) == {"a.json", "program/weights.bin"}
    assert stage_cache.entry_digest(entry) == stage_cache.content_digest(entry) == \
        stage_cache.content_digest(src, ["a.json", "program"])


@pytest.mark.parametrize("damage, problem", [
    (lambda e: (e / stage_cache.MANIFEST).unlink(), "partial (no manifest)"),
    (lambda e: (e / "program" / "weights.bin").write_bytes(b"\0" * 1024), "program/weights.bin differs"),
    (lambda e: (e / "a.json").write_text('{"x": 2}'), "a.json differs"),
    (lambda e: (e / "program" / "weights.bin").unlink(), "missing program/weights.bin"),
    (lambda e: (e / "extra.bin").write_bytes(b"1"), "unlisted extra.bin"),
    (lambda e: (e / stage_cache.MANIFEST).write_text("{"), "unreadable manifest"),
])
def test_a_damaged_entry_is_refused_and_removed(tmp_path, damage, problem):
    root = tmp_path / "cache"
    entry = stage_cache.store("lower", "k1", _source(tmp_path), ["a.json", "program"], {}, root=root)
    damage(entry)
    with pytest.raises(stage_cache.Problem, match=problem.replace("(", r"\(").replace(")", r"\)")):
        stage_cache.lookup("lower", "k1", root=root)
    assert not entry.exists()
    assert stage_cache.lookup("lower", "k1", root=root) is None


def test_a_second_store_of_the_same_entry_keeps_the_first(tmp_path):
    root, src = tmp_path / "cache", _source(tmp_path)
    first = stage_cache.store("lower", "k1", src, ["a.json"], {}, root=root)
    (src / "a.json").write_text('{"x": 3}')  # a concurrent build that stored first wins; nothing is mixed
    assert stage_cache.store("lower", "k1", src, ["a.json"], {}, root=root) == first
    assert (first / "a.json").read_text() == '{"x": 1}'
    stage_cache.lookup("lower", "k1", root=root)
    assert [p.name for p in (root / "lower").iterdir()] == ["k1"]  # no temporary folder left


def test_entries_and_clear(tmp_path):
    root, src = tmp_path / "cache", _source(tmp_path)
    stage_cache.store("quantize", "q", src, ["a.json"], {}, root=root)
    stage_cache.store("lower", "l", src, ["program"], {}, root=root)
    found = stage_cache.entries(root)
    assert [(s, k) for s, k, _, _ in found] == [("lower", "l"), ("quantize", "q")]
    assert all(size > 0 and created for _, _, size, created in found)
    assert stage_cache.clear(root) == (2, sum(e[2] for e in found))
    assert stage_cache.entries(root) == []


def test_the_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VITFLOW_CACHE_DIR", str(tmp_path / "c"))
    assert stage_cache.cache_root() == tmp_path / "c"
    monkeypatch.delenv("VITFLOW_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert stage_cache.cache_root() == tmp_path / "x" / "vitflow"


def test_digest_is_canonical():
    assert stage_cache.digest({"a": 1, "b": [1, 2]}) == stage_cache.digest({"b": [1, 2], "a": 1})
    assert stage_cache.digest({"a": 1}) != stage_cache.digest({"a": 2})
    assert len(stage_cache.code_version()) == 64


def test_a_killed_store_s_folder_goes_after_a_day(tmp_path):
    import os
    import time

    root = tmp_path / "cache"
    old, fresh = root / "lower" / ".k0.abc.partial", root / "lower" / ".k1.def.partial"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "a.json").write_text("{}")
    day_ago = time.time() - stage_cache.ABANDONED_AFTER - 60
    os.utime(old, (day_ago, day_ago))
    stage_cache.store("lower", "k2", _source(tmp_path), ["a.json"], {}, root=root)
    assert not old.exists() and fresh.exists()  # a store as recent as another build's is left alone
