"""The `flow` command as a user runs it (a subprocess, through the installed console script)."""

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

FLOW = shutil.which("flow") or pytest.fail("the flow console script is not installed (run scripts/setup.sh)")


def run(*args, cwd=None, timeout=300):
    return subprocess.run([FLOW, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


@pytest.mark.parametrize("command", ["build", "quantize", "export", "lower", "csim", "estimate", "synth", "report", "models", "parts", "cache",
                                     "sweep"])
def test_help(command):
    r = run(command, "--help")
    assert r.returncode == 0 and "usage: flow " + command in r.stdout


@pytest.mark.parametrize("option,valid", [
    ("--model", "efficientvit_b0, efficientvit_b1, efficientvit_b2, efficientvit_b3"),
    ("--part", "xc7z020, xck26, xczu3eg, xczu7ev, xczu9eg"),
])
def test_unknown_name_is_one_line_error(tmp_path, option, valid):
    r = run("build", option, "nosuch", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "nosuch" in lines[0] and valid in lines[0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--bits", "w0a8"], "weight bit width 0"),
    (["--bits", "w8a33"], "activation bit width 33"),
    (["--bits", "int8"], "not of the form wNaM"),
    (["--resolution", "100"], "multiple of 32"),
    (["--weights", "missing.pt"], "checkpoint 'missing.pt' does not exist"),
    (["--calib-dir", "nodir"], "image folder 'nodir' does not exist"),
])
def test_bad_options(tmp_path, args, message):
    r = run("build", *args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_malformed_config(tmp_path):
    (tmp_path / "bad.yaml").write_text("model: [unclosed\n")
    (tmp_path / "unknown.yaml").write_text("modle: efficientvit_b0\n")
    r = run("build", "--config", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "not valid YAML" in r.stderr
    r = run("build", "--config", "unknown.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "unknown key 'modle'" in r.stderr


def test_config_file_then_command_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("model: efficientvit_b0\nresolution: 32\npart: nosuch\n")
    r = run("build", "--config", "bad.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "unknown part 'nosuch'" in r.stderr  # the file's value is used
    (tmp_path / "cfg.yaml").write_text("model: efficientvit_b0\nresolution: 32\nbits: w6a6\n"
                                       "quantization:\n  act_calibrator: minmax\n")
    r = run("quantize", "--config", "cfg.yaml", "--bits", "w8a8", "--calib", "4", "--out", "q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "building efficientvit_b0 at 32x32" in r.stderr  # from the file ...
    assert "W8A8" in r.stderr and "minmax calibration on 4 images" in r.stderr  # ... overridden on the command line


def _started(tmp_path, *args):
    """A `flow` run in the background, once its build has begun staging (its staging folder exists)."""
    proc = subprocess.Popen([FLOW, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.rglob(".*.partial")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_build_runs_to_bit_exact_csim(tmp_path):
    args = ("build", "--model", "efficientvit_b0", "--resolution", "32", "--calib", "8", "--out", "b")
    first = _started(tmp_path, *args)
    second = run(*args, cwd=tmp_path)  # the same --out while the first builds: refused at once, named
    assert second.returncode == 2 and second.stderr.strip().splitlines() == [
        f"flow: error: another build (process {first.pid}) is writing 'b'; wait for it to finish, or build into "
        f"another --out"]
    stdout, stderr = first.communicate(timeout=900)
    r = subprocess.CompletedProcess(first.args, first.returncode, stdout, stderr)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no staging, no lock left
    assert "QONNX matches Brevitas on 8 images" in r.stderr  # quantize and export ran and checked
    assert "integer reference vs QONNX on 8 images" in r.stderr  # lowered and checked
    assert "estimate: chose" in r.stderr and "FPS" in r.stderr
    assert "bit-exact with the integer reference on 2 images" in r.stderr
    assert "every loop audit-clean at its II" in r.stderr
    assert "the cycle model equals the counted iterations, fills, DDR beats and bursts of every layer" in r.stderr
    assert "HLS project: b/hls" in r.stdout and "b/csim_report.json" in r.stdout
    report = json.loads((tmp_path / "b" / "csim_report.json").read_text())
    # the integer program's 97 layers; the accelerator runs them with activations fused into their producers
    assert len(json.loads((tmp_path / "b" / "program" / "program.json").read_text())["layers"]) == 97
    assert "activations fused into their producers" in r.stderr
    n = report["layers"]
    assert report["bit_exact"] and report["layers_exact"] == n and n < 97
    r = run("csim", "--project", "b/hls", cwd=tmp_path)
    assert r.returncode == 0 and f"all {n} layers bit-exact" in r.stdout and "audit-clean" in r.stdout, r.stderr
    hls = tmp_path / "b" / "hls"
    meta = json.loads((hls / "data" / "tensors.json").read_text())
    name = meta["layers"][5]["name"]
    region = meta["tensors"][meta["layers"][5]["outputs"][0]]
    golden = bytearray((hls / "data" / "img0" / "ddr_golden.bin").read_bytes())
    golden[region["beat"] * meta["beat_bytes"]] ^= 1  # layer 5's first element, as if the reference said otherwise
    (hls / "data" / "img0" / "ddr_golden.bin").write_bytes(bytes(golden))
    r = run("csim", "--project", "b/hls", cwd=tmp_path)
    assert r.returncode == 2 and f"first at layer {name}, index 0: csim" in r.stderr, r.stderr

    # the same model on another part: quantize, export and lower come from the stage cache
    r = run("build", *args[1:-1], "c", "--part", "xck26", cwd=tmp_path)
    assert r.returncode == 0 and "cache: reused 3 of 3 stages, ran 0" in r.stderr, r.stderr
    assert "bit-exact with the integer reference on 2 images" in r.stderr
    r = run("cache", cwd=tmp_path)
    assert r.returncode == 0 and "flow: 3 cache entries" in r.stdout
    assert [line.split()[0] for line in r.stdout.splitlines()[:-1]] == ["export", "lower", "quantize"]
    r = run("cache", "clear", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("flow: removed 3 cache entries")
    assert run("cache", cwd=tmp_path).stdout.startswith("flow: 0 cache entries")


@pytest.mark.parametrize("scales", ["free", "po2"])
def test_every_quantization_technique_survives_to_bit_exact_csim(tmp_path, scales):
    """The seed papers' techniques all on (W4A8): mixed precision, the scheme search, the attention's
    interval search, GPTQ, bias correction, distillation, the log2 divisor, asymmetric post-Hardswish
    tensors with the filter-wise shift, and for the depthwise inputs channel-wise migration (free scales)
    or the value-aware two scales (power-of-two scales; the two are alternatives) go through export,
    lowering, the per-channel tables and the shift-only attention unit, bit-exact; with power-of-two
    scales also block and bridge reconstruction. (Free scales with reconstruction at 32x32 trip the lowering check: the last
    stage's attention has one token, so ksum = k and its 2:1 scale ratio makes exact rounding ties on the
    saturated k code that QONNX's float32 breaks the other way on ~1-4% of elements.)"""
    extra = ("  po2_scales: true\n  block_reconstruction: true\n  bridge_reconstruction: true\n"
             "  reconstruction_steps: 3\n  value_two_scale: true\n") if scales == "po2" else "  channel_migration: true\n"
    (tmp_path / "recipe.yaml").write_text(
        "model: efficientvit_b0\nresolution: 32\ncalib: 8\nbits: w4a8\nquantization:\n"
        "  act_calibrator: minmax\n  mixed_precision: true\n  gptq: true\n  qat_steps: 3\n  log2_divisor: true\n"
        "  interval_search: true\n  asym_post_act: true\n  scheme_search: true\n  search_images: 4\n"
        "  filter_shift: true\n" + extra)
    r = run("build", "--config", "recipe.yaml", "--out", "b", cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    said = ["mixed precision (nuclear norm)", "scheme search (output error)", "interval search (ranking loss)",
            "GPTQ over", "bias correction on 8 images", "distillation from the float model: 3 steps",
            "bit-exact with the integer reference on 2 images"]
    if scales == "po2":
        said += ["block reconstruction: 12 units, 3 steps", "bridge reconstruction: 2 units, 3 steps",
                 "power-of-two scales: every tensor identical", "value-aware two-scale quantizers: 10 tensors"]
    for text in said:
        assert text in r.stderr, text
    program = json.loads((tmp_path / "b" / "program" / "program.json").read_text())
    attention = [l for l in program["layers"] if l["kind"] == "linear_attention"]
    assert attention and all(l["attrs"]["divisor"] == "log2" for l in attention)
    # zero points folded into biases, one per channel (filter-wise shift)
    assert any(isinstance(t.get("zero_point"), list) for t in program["tensors"].values())
    hardswish = [l for l in program["layers"] if l["kind"] == "hardswish"]
    if scales == "free":  # channel-wise migration: depthwise inputs with a scale per channel, per-channel tables
        assert any(isinstance(t["scale"], list) for t in program["tensors"].values())
        assert any(l["attrs"].get("rows", 1) > 1 for l in hardswish)
    else:  # two scales: a table whose entries are integers at the fine scale, from the graph's Where
        assert sum(any(n.startswith("Where") for n in l["source"]) for l in hardswish) == 10
    assert "#define VITFLOW_ATT_DIVIDERS 0" in (tmp_path / "b" / "hls" / "firmware" / "vitflow_config.h").read_text()


def test_estimate_of_a_lowered_program(tmp_path):
    r = run("estimate", cwd=tmp_path)
    assert r.returncode == 2 and "needs --program" in r.stderr
    r = run("estimate", "--program", "nowhere", cwd=tmp_path)
    assert r.returncode == 2 and "program folder 'nowhere' does not exist" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_csim_bad_project(tmp_path):
    for args, message in [([], "needs --project"), (["--project", "nowhere"], "is not a vitflow HLS project")]:
        r = run("csim", *args, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, r.stderr


@pytest.fixture(scope="module")
def b0_checkpoint(tmp_path_factory):
    import torch

    from flow.models import QuantScheme, build_model

    path = tmp_path_factory.mktemp("ckpt") / "b0_fmnist.pt"
    torch.save(build_model("efficientvit_b0", num_classes=10, quant=QuantScheme.float_reference()).state_dict(), path)
    return path


def test_quantize_then_export(tmp_path, b0_checkpoint):
    r = run("quantize", "--model", "efficientvit_b0", "--weights", str(b0_checkpoint), "--resolution", "32",
            "--bits", "w6a6", "--calib", "8", "--out", "q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["quant_report.json", "quant_report.md", "quantized.pt"]
    assert "| 6 |" in (tmp_path / "q" / "quant_report.md").read_text()
    r = run("export", "--model", "efficientvit_b0", "--weights", "q/quantized.pt", "--out", "e", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "e" / "model_qonnx.onnx").is_file() and (tmp_path / "e" / "export_check.json").is_file()
    r = run("lower", "--model", "efficientvit_b0", "--qonnx", "e/model_qonnx.onnx", "--out", "l", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "l").iterdir()) == ["lower_check.json", "program", "reference_dump.npz"]
    assert sorted(p.name for p in (tmp_path / "l" / "program").iterdir()) == ["program.json", "weights.bin"]
    r = run("estimate", "--program", "l/program", "--part", "xc7z020", "--out", "est", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "est" / "estimate").iterdir()) == [
        "estimate.json", "estimate.md", "roofline.png"]
    r = run("lower", "--qonnx", "e/model_qonnx.onnx", "--acc-bits", "16", "--out", "l2", cwd=tmp_path)
    assert r.returncode == 2 and "configured accumulator width is 16 bits" in r.stderr
    assert not (tmp_path / "l2").exists()


def test_lower_bad_inputs(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    for args, message in [([], "needs --qonnx"), (["--qonnx", "missing.onnx"], "does not exist"),
                          (["--qonnx", "junk.onnx"], "cannot read QONNX file"),
                          (["--qonnx", "junk.onnx", "--acc-bits", "4"], "acc_bits=4 is out of range")]:
        r = run("lower", "--out", "l", *args, cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.onnx"]


def test_quantize_bad_inputs(tmp_path, b0_checkpoint):
    from PIL import Image

    (tmp_path / "imgs" / "a").mkdir(parents=True)
    (tmp_path / "imgs" / "a" / "x.png").write_bytes(b"garbage")
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a" / "y.png")
    cases = [
        (["--calib-dir", "imgs"], "imgs/a/x.png' cannot be read"),
        (["--calib-dir", "nodir"], "does not exist"),
        (["--weights", "missing.pt"], "does not exist"),
        (["--model", "efficientvit_b1", "--weights", str(b0_checkpoint)], "does not fit efficientvit_b1"),
        (["--bits", "w0a8"], "weight bit width 0"),
        (["--bits", "w8a33"], "activation bit width 33"),
    ]
    for args, message in cases:
        base = ["--model", "efficientvit_b0", "--resolution", "32", "--calib", "4", "--out", "q"]
        r = run("quantize", *(base + args), cwd=tmp_path)
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()[-1:]) == 1 and r.stderr.strip().splitlines()[-1].startswith("flow: error:")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["imgs"], args  # nothing written


def test_export_needs_a_quantized_model(tmp_path, b0_checkpoint):
    r = run("export", "--model", "efficientvit_b0", "--weights", str(b0_checkpoint), "--out", "e", cwd=tmp_path)
    assert r.returncode == 2 and "is a float checkpoint" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_models_table():
    r = run("models", "--model", "efficientvit_b1")
    assert r.returncode == 0
    row = next(line for line in r.stdout.splitlines() if line.startswith("efficientvit_b1"))
    assert "9.10M" in row and "0.519" in row


def test_models_table_lists_deit_at_its_resolutions():
    r = run("models", "--model", "deit_tiny", "--resolution", "64")
    assert r.returncode == 0
    row = next(line for line in r.stdout.splitlines() if line.startswith("deit_tiny"))
    assert "dim 192, 12 blocks, 3 heads, patch 16" in row and "5.68M" in row and "0.094" in row
    r = run("models", "--model", "deit_tiny", "--resolution", "60")
    assert r.returncode == 2 and r.stderr.strip() == ("flow: error: resolution 60 is not a positive multiple of 16 "
                                                      "(e.g. 224, 64, 96)")


def test_parts_table():
    r = run("parts")
    assert r.returncode == 0 and "xczu9eg-ffvb1156-2-e" in r.stdout and "2520" in r.stdout


def test_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "flow.cli.main", "parts"], capture_output=True, text=True)
    assert r.returncode == 0 and "xczu9eg" in r.stdout


@pytest.mark.parametrize("sig,code,message", [(signal.SIGTERM, 143, "flow: terminated (SIGTERM)"),
                                               (signal.SIGINT, 130, "flow: interrupted")])
def test_a_killed_build_leaves_nothing(tmp_path, sig, code, message):
    proc = _started(tmp_path, "build", "--model", "efficientvit_b0", "--resolution", "32", "--calib", "8",
                    "--out", "deep/k")
    time.sleep(1)  # well into the build
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code and stderr.strip().splitlines()[-1] == (
        f"{message}; the run's partial output was removed")
    assert list(tmp_path.iterdir()) == []  # nor the folder it made for --out


def test_build_through_hls4ml(tmp_path, b0_checkpoint):
    """--backend hls4ml: B0 through hls4ml's compile()/predict() with our layers, bit-exact on every layer."""
    r = run("build", "--model", "efficientvit_b0", "--weights", str(b0_checkpoint), "--resolution", "32", "--calib",
            "8", "--backend", "hls4ml", "--out", "b", cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "output and all 97 layers bit-exact with the integer reference on 8 images" in r.stderr
    assert "hls4ml project: b/hls4ml" in r.stdout
    report = json.loads((tmp_path / "b" / "hls4ml_report.json").read_text())
    assert report["output_bit_exact"] and report["layers"]["layers_exact"] == 97 and report["images"] == 8
    assert report["compile_seconds"] > 0 and report["predict_seconds"] > 0
    prj = tmp_path / "b" / "hls4ml"
    assert 'set part "xczu9eg-ffvb1156-2-e"' in (prj / "project.tcl").read_text()
    assert len((prj / "tb_data" / "tb_output_predictions.dat").read_text().splitlines()) == 8
    top = (prj / "firmware" / "vitflow_net.cpp").read_text()  # 97 layer outputs in BRAM, not registers:
    assert "ARRAY_RESHAPE variable=t0 cyclic factor=16" in top and top.count("ARRAY_PARTITION") == 1
    assert not (tmp_path / "b" / "hls").exists()  # the default backend's project is not made


def test_hls4ml_backend_out_of_scope_fails_fast(tmp_path):
    r = run("build", "--model", "efficientvit_b1", "--backend", "hls4ml", cwd=tmp_path)
    assert r.returncode == 2 and len([l for l in r.stderr.splitlines() if "error" in l]) == 1, r.stderr
    assert "efficientvit_b1 does not fit hls4ml's on-chip dataflow on xczu9eg: 9.10 MB of weights" in r.stderr
    assert "--backend vitflow" in r.stderr and "quantize:" not in r.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,message", [
    (["--backend", "nosuch"], "unknown backend 'nosuch'; valid backends: vitflow, hls4ml"),
    (["--model", "deit_tiny", "--resolution", "32", "--backend", "hls4ml"],
     "--backend hls4ml has no layers for deit_tiny's softmax attention"),
    (["--model", "efficientvit_b0", "--resolution", "32", "--block", "stages.9.blocks.0"],
     "unknown block 'stages.9.blocks.0'; valid blocks: stem.res0, stages.0.blocks.0"),
])
def test_bad_backend_or_block(tmp_path, args, message):
    r = run("build", *args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_one_block_through_hls4ml(tmp_path):
    """--block: one B1 EfficientViT block (LiteMLA + MBConv), quantized with the whole model and fed its real
    inputs, through hls4ml, bit-exact on every layer."""
    r = run("build", "--model", "efficientvit_b1", "--resolution", "64", "--calib", "8", "--block",
            "stages.2.blocks.1", "--backend", "hls4ml", "--out", "b", cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "block: stages.2.blocks.1: EfficientViTBlock, input 128x4x4" in r.stderr
    report = json.loads((tmp_path / "b" / "hls4ml_report.json").read_text())
    kinds = {l["kind"] for l in json.loads((tmp_path / "b" / "program" / "program.json").read_text())["layers"]}
    assert "linear_attention" in kinds and "dwconv" in kinds
    assert report["output_bit_exact"] and report["layers"]["bit_exact"] and report["images"] == 8


def _damaged_files(tmp_path):
    """name -> a damaged or foreign file (or folder), made here."""
    import argparse
    import io

    import numpy as np
    import onnx
    import torch

    from flow.lower.program import Layer, Program, TensorInfo, save

    buf = io.BytesIO()
    torch.save({"w": torch.zeros(4096)}, buf)
    whole = buf.getvalue()
    files = {"truncated.pt": whole[: len(whole) // 2], "random.pt": bytes([7]) + np.random.default_rng(0).bytes(999),
             "text.pt": b"model weights, version 2\n", "empty.pt": b""}
    buf = io.BytesIO()
    torch.save({"args": argparse.Namespace(lr=0.1)}, buf)  # an object safe loading refuses to build
    files["objects.pt"] = buf.getvalue()
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g",
                                   [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 8, 8])])
    model = onnx.helper.make_model(graph).SerializeToString()
    files["random.safetensors"] = np.random.default_rng(1).bytes(300)
    files["truncated.onnx"] = model[: len(model) // 2]
    files["empty.onnx"] = b""
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    t = {"x": TensorInfo((4,), 8, True, 1.0), "y": TensorInfo((4,), 8, True, 1.0)}
    layer = Layer("r", "relu", ["x"], ["y"], {}, {"table": np.arange(-128, 128, dtype=np.int16)})
    for name in ("short", "missing"):
        save(Program("p", ["x"], ["y"], t, [layer]), tmp_path / name)
    (tmp_path / "short" / "weights.bin").write_bytes(b"\0" * 10)
    (tmp_path / "missing" / "weights.bin").unlink()


@pytest.mark.parametrize("args,message", [
    (["build", "--weights", "truncated.pt"], "checkpoint 'truncated.pt' cannot be read: it is truncated or damaged "
                                             "(its zip archive is incomplete)"),
    (["build", "--weights", "random.pt"], "checkpoint 'random.pt' cannot be read: it is not a PyTorch checkpoint "
                                          "(neither a zip archive nor a pickle)"),
    (["build", "--weights", "text.pt"], "checkpoint 'text.pt' cannot be read: it is not a PyTorch checkpoint"),
    (["build", "--weights", "empty.pt"], "checkpoint 'empty.pt' cannot be read: it is empty"),
    (["build", "--weights", "objects.pt"], "checkpoint 'objects.pt' cannot be read: it holds Python objects besides "
                                           "tensors, which safe loading does not run: not a weights file"),
    (["build", "--weights", "random.safetensors"], "checkpoint 'random.safetensors' cannot be read: it is not a "
                                                   "readable safetensors file"),
    (["export", "--weights", "truncated.pt"], "quantized model 'truncated.pt' cannot be read: it is truncated"),
    (["export", "--weights", "random.pt"], "quantized model 'random.pt' cannot be read: it is not a PyTorch"),
    (["lower", "--qonnx", "truncated.onnx"], "cannot read QONNX file 'truncated.onnx': it is damaged, truncated or "
                                             "not ONNX"),
    (["lower", "--qonnx", "empty.onnx"], "cannot read QONNX file 'empty.onnx': it is empty"),
    (["estimate", "--program", "short"], "'short/weights.bin' is short: 10 bytes, where the program's blobs need"),
    (["estimate", "--program", "missing"], "integer program 'missing' has no weights.bin"),
])
def test_damaged_files_are_named_in_one_line(tmp_path, args, message):
    _damaged_files(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run(*args, "--model", "efficientvit_b0", "--out", "o", cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and lines[-1].startswith("flow: error: ") and message in lines[-1], r.stderr
    assert not any(l.startswith("flow: error") for l in lines[:-1]) and "Traceback" not in r.stderr
    assert "weights_only" not in r.stderr and "re-running" not in r.stderr  # no advice to load unsafely
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
