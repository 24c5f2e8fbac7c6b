"""The program file format: checks on load and on structure."""

import json

import numpy as np
import pytest

from flow.errors import FlowError
from flow.lower.program import Layer, Program, TensorInfo, load, save


def _tiny():
    t = {"x": TensorInfo((2,), 8, True, 0.5), "y": TensorInfo((2,), 8, True, 0.25)}
    layer = Layer("relu0", "relu", ["x"], ["y"], {"in_min": -128},
                  {"table": np.arange(-128, 128, dtype=np.int16), "mult": np.array([1], np.int32),
                   "shift": np.array([-1], np.int32)})
    return Program("m", ["x"], ["y"], t, [layer])


def test_round_trip_and_alignment(tmp_path):
    save(_tiny(), tmp_path)
    doc = json.loads((tmp_path / "program.json").read_text())
    assert all(ref["offset"] % 64 == 0 for ref in doc["layers"][0]["blobs"].values())
    p = load(tmp_path)
    assert p.layers[0].blobs["table"].dtype == np.int16 and p.layers[0].blobs["table"][0] == -128


def test_malformed_files_are_clear_errors(tmp_path):
    with pytest.raises(FlowError, match="has no program.json"):
        load(tmp_path)
    save(_tiny(), tmp_path)
    whole = (tmp_path / "weights.bin").read_bytes()
    (tmp_path / "weights.bin").write_bytes(whole[:10])
    with pytest.raises(FlowError, match=rf"weights.bin' is short: 10 bytes, where the program's blobs need "
                                        rf"{len(whole)} \(truncated, or from another program\)"):
        load(tmp_path)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(FlowError, match=f"integer program '{tmp_path}' has no weights.bin"):
        load(tmp_path)
    (tmp_path / "weights.bin").write_bytes(whole)
    doc = json.loads((tmp_path / "program.json").read_text())
    doc["layers"][0]["blobs"]["table"]["offset"] = 10 ** 9
    (tmp_path / "program.json").write_text(json.dumps(doc))
    with pytest.raises(FlowError, match="weights.bin' is short"):
        load(tmp_path)
    (tmp_path / "program.json").write_text('{"format": ')
    with pytest.raises(FlowError, match="program.json' is damaged: it is not JSON"):
        load(tmp_path)
    (tmp_path / "program.json").write_text("{}")
    with pytest.raises(FlowError, match="is not a vitflow-program-v1 file"):
        load(tmp_path)


def test_structure_checks():
    p = _tiny()
    p.layers[0].inputs = ["nowhere"]
    with pytest.raises(FlowError, match="reads tensor 'nowhere' before any layer writes it"):
        p.check()
    with pytest.raises(FlowError, match="not an integer type"):
        Layer("l", "relu", [], [], {}, {"w": np.zeros(2, np.float32)})
    with pytest.raises(FlowError, match="unknown kind"):
        Layer("l", "fft", [], [])
