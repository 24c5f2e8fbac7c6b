"""report.html (flow/build_report): every section, self-contained, escaped, the one-line notice for an
absent artifact; and in a real headless browser (Debian's chromium): no console errors, the page's script
ran, and the screenshot shows the plots."""

import base64
import contextlib
import io
import json
import re
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from flow.build_report import write_html_report
from flow.config import make_config

SECTIONS = ("checks", "settings", "sqnr", "cycles", "roofline", "resources", "csim")
MPL_BLUE, MPL_ORANGE = (31, 119, 180), (255, 127, 14)  # matplotlib's first two colours: the plots' points and bars


def _png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 30), MPL_BLUE).save(path)


def _counts(cycles):
    return {"iterations": cycles, "cycles": cycles, "entries": 2, "fill": 10, "descriptors": 1,
            "beats": {"desc": 16, "wgt": 8, "act": 0}, "bursts": {"desc": 1, "wgt": 1, "act": 0}}


def synthetic_output(out: Path, tensor="stem.conv.weight") -> Path:
    """An output folder with every artifact the report reads, small, in the formats the steps write."""
    out.mkdir(parents=True, exist_ok=True)
    tensors = [{"tensor": tensor, "kind": "weight", "bits": 8, "signed": True, "scale": [0.001, 0.002],
                "float_min": -0.2, "float_max": 0.2, "sqnr_db": 48.5},
               {"tensor": "stem.act_quant", "kind": "activation", "bits": 8, "signed": False, "scale": 0.01,
                "float_min": 0.0, "float_max": 2.5, "sqnr_db": 31.2},
               {"tensor": "head.act_quant", "kind": "activation", "bits": 8, "signed": True, "scale": 0.02,
                "float_min": -1.0, "float_max": 1.0, "sqnr_db": float("inf")}]
    (out / "quant_report.json").write_text(json.dumps({"settings": {"weight_bits": 8, "act_bits": 8,
                                                                    "calib_images": 8}, "images": 8,
                                                       "tensors": tensors}))
    (out / "export_check.json").write_text(json.dumps({
        "images": 8, "scales": "free", "output_scale": 0.01, "max_output_diff_lsb": 4.0, "tensors_checked": 3,
        "max_tensor_diff_lsb": 1.0, "min_tensor_equal_fraction": 0.9999,
        "criterion": "per tensor, teacher-forced: <= 1 LSB and >= 99.9% equal"}))
    (out / "lower_check.json").write_text(json.dumps({
        "images": 8, "tensors": 3, "tensors_exact": 2, "max_lsb": 1, "min_equal_fraction": 0.99997,
        "top1_agree": 8, "criterion": "free scales: per layer (teacher-forced) <= 1 LSB on >= 99.9% of elements"}))
    layers = [{"layer": "conv0", "kind": "conv", "epilogue": "hardswish", "macs": 5419008, "cycles": 13046,
               "compute": 12844, "ddr": 0, "fill": 202, "beats": 122, "descriptors": 1, "bound": "compute"},
              {"layer": "linear0", "kind": "linear", "macs": 1280000, "cycles": 45000, "compute": 1000,
               "ddr": 43000, "fill": 1000, "beats": 80000, "descriptors": 1, "bound": "ddr"}]
    (out / "estimate").mkdir(exist_ok=True)
    (out / "estimate" / "estimate.json").write_text(json.dumps({
        "part": "xczu9eg", "clock_mhz": 300.0, "layers": layers,
        "io": {"cycles": 2000, "compute": 1900, "ddr": 0, "fill": 100, "beats": 1950, "descriptors": 2,
               "bound": "compute"},
        "config": {"lanes": 32, "pe_rows": 32, "pe_cols": 32, "dw_lanes": 32, "dw_k": 5, "att_rows": 8,
                   "att_dividers": 8, "beat_bytes": 16},
        "cycles": 60046, "fps": 4996.2, "gops": 223.8, "peak_gops": 614.4, "ddr_gbps": 19.2, "macs": 6699008,
        "candidates": 100, "cycle_share": {"compute": 0.26, "ddr": 0.72, "fill": 0.02},
        "bounds": {"compute": 1, "ddr": 1, "fill": 0},
        "resources": {"dsp": 1960, "bram18": 473, "uram": 0, "lut": 176808, "ff": 235020,
                      "activation_bram18": 45, "activation_uram": 0, "buffer_bram18": 428},
        "utilisation": {"dsp": 0.778, "bram18": 0.259, "lut": 0.645, "ff": 0.429},
        "limits": {"dsp": 0.8, "bram18": 0.8, "uram": 0.8, "lut": 0.7, "ff": 0.7},
        "activations": {"bytes": 98304, "in_ddr": []}}))
    _png(out / "estimate" / "roofline.png")
    counts = {"io": _counts(2000), "conv0": _counts(13046), "linear0": _counts(45000)}
    (out / "csim_report.json").write_text(json.dumps({
        "image": "img1", "layers": 2, "layers_exact": 2, "bit_exact": True, "images": 2,
        "seconds_per_image": 0.3, "descriptors": 4, "counts": {**counts, "check": _counts(500)},
        "model_counts": {**counts, "check": _counts(500)}}))
    return out


def _cfg(out: Path, **kw):
    return make_config(model="efficientvit_b0", resolution=64, out=str(out), **kw)


def _section(page: str, ident: str) -> str:
    return re.search(rf'<section id="{ident}">(.*?)</section>', page, re.S)[1]


def _self_contained(page: str) -> None:
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    for s in srcs:
        assert base64.b64decode(s.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    for bad in ('src="http', "href=\"http", "src='http", "url(", "@import", "<script src", 'rel="stylesheet"'):
        assert bad not in page, bad
    assert re.findall(r'href="([^"]*)"', page) == ["data:,"] + [f"#{s}" for s in SECTIONS]  # icon, then the nav


def test_every_section_from_a_complete_output(tmp_path):
    out = synthetic_output(tmp_path / "b")
    path = write_html_report(out, _cfg(out), model={"params": 3.41e6, "macs": 1.1e7, "classes": 1000})
    assert path == out / "report.html"
    page = path.read_text()
    for ident in SECTIONS:
        assert f'<section id="{ident}">' in page, ident
    assert 'class="absent"' not in page
    _self_contained(page)
    assert "<title>vitflow build: efficientvit_b0 at 64×64 on xczu9eg (vitflow): PASS</title>" in page
    checks = _section(page, "checks")
    for stage in ("model", "quantize", "export", "lower", "estimate", "csim"):
        assert f"<td>{stage}</td>" in checks, stage
    assert checks.count(">PASS<") == 1 + 5 and ">INFO<" in checks  # the summary's badge, then model .. csim
    assert "5 of 5 checks passed" in checks and "3.41 M parameters" in checks
    assert "5.00 M" not in checks and "4996.2 FPS at 300 MHz" in checks
    assert "∞ (exact)" in _section(page, "sqnr") and "<td>stem.conv.weight</td>" in _section(page, "sqnr")
    cycles = _section(page, "cycles")
    assert "<td>linear0</td>" in cycles and "<td>ddr</td>" in cycles and "<td>io</td>" in cycles
    resources = _section(page, "resources")
    assert "<svg" in resources and "77.8% " in resources and "none on this part" in resources
    assert "2/2 layers bit-exact" in _section(page, "csim") and "4/4 entries" in _section(page, "csim")


def test_each_absent_artifact_is_one_line(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    page = write_html_report(out, _cfg(out)).read_text()
    _ = [_section(page, ident) for ident in SECTIONS]  # every section still there
    for ident, file in (("sqnr", "quant_report.json"), ("cycles", "estimate/estimate.json"),
                        ("roofline", "estimate/roofline.png"), ("resources", "estimate/estimate.json"),
                        ("csim", "csim_report.json")):
        body = _section(page, ident)
        notices = re.findall(r'<p class="absent">([^<]*)</p>', body)
        assert len(notices) == 1 and file in notices[0] and "<img" not in body, (ident, body)
    assert ">ABSENT<" in _section(page, "checks") and "model check" not in page


def test_the_hls4ml_backend_says_why_its_sections_are_empty(tmp_path):
    out = synthetic_output(tmp_path / "h")
    for rel in ("csim_report.json", "estimate"):
        shutil.rmtree(out / rel) if (out / rel).is_dir() else (out / rel).unlink()
    (out / "hls4ml_report.json").write_text(json.dumps({
        "images": 8, "output_bit_exact": True, "compile_seconds": 40.0, "predict_seconds": 2.0,
        "predict_seconds_per_image": 0.25, "layers": {"layers": 97, "layers_exact": 97, "bit_exact": True}}))
    page = write_html_report(out, _cfg(out, backend="hls4ml")).read_text()
    for ident in ("cycles", "roofline", "resources", "csim"):
        assert "the hls4ml backend (--backend hls4ml) runs no cycle estimate" in _section(page, ident), ident
    checks = _section(page, "checks")
    assert "<td>hls4ml</td>" in checks and "97/97 layers bit-exact" in checks and "<td>csim</td>" not in checks


def test_a_failed_check_reads_fail(tmp_path):
    out = synthetic_output(tmp_path / "f")
    report = json.loads((out / "csim_report.json").read_text())
    report["model_counts"]["conv0"]["fill"] += 1
    report.update(bit_exact=False, layers_exact=1, first_mismatch={"layer": "linear0", "index": 7, "csim": 3,
                                                                   "reference": 4})
    (out / "csim_report.json").write_text(json.dumps(report))
    page = write_html_report(out, _cfg(out)).read_text()
    assert "): FAIL</title>" in page and "failed: csim" in page
    csim = _section(page, "csim")
    assert csim.count(">FAIL<") == 2 and "differing: conv0" in csim and "layer linear0, index 7" in csim


def test_every_text_is_escaped(tmp_path):
    out = synthetic_output(tmp_path / "e", tensor='<script>alert("x")</script>&')
    page = write_html_report(out, replace(_cfg(out), weights="a<b>.pt")).read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page
    assert "a&lt;b&gt;.pt" in page
    assert page.count("<script>") == 1  # the page's own


def test_build_steps_end_with_the_report():
    from flow.pipeline import build_steps
    from flow.steps.report import step_report

    for backend in ("vitflow", "hls4ml"):
        assert build_steps(make_config(model="efficientvit_b0", backend=backend))[-1] is step_report


# --- a real build, and the page in a real browser -------------------------------------------------------

@pytest.fixture(scope="module")
def b0_build(tmp_path_factory):
    """`flow build` of EfficientViT-B0 at 64 x 64 (8 calibration images, min-max, no stage cache): the output
    folder, what the build said on stderr, and its seconds."""
    from flow.pipeline import run_build

    out = tmp_path_factory.mktemp("report_b0") / "b0"
    cfg = make_config(model="efficientvit_b0", resolution=64, calib=8, out=str(out), no_cache=True,
                      quantization={"act_calibrator": "minmax", "bias_correction": False})
    said, t0 = io.StringIO(), time.monotonic()
    with contextlib.redirect_stderr(said):
        assert run_build(cfg) == out
    return out, said.getvalue(), time.monotonic() - t0


def test_the_build_writes_its_report(b0_build):
    out, said, _ = b0_build
    page = (out / "report.html").read_text()
    assert re.search(rf"report: {re.escape(str(out / 'report.html'))} \(\d+ kB, self-contained\)", said), said[-2000:]
    _self_contained(page)
    assert 'class="absent"' not in page and "): PASS</title>" in page
    checks = _section(page, "checks")
    assert "5 of 5 checks passed" in checks and "output 1 × 1000, finite" in checks


def _chromium(*args, timeout=60):
    return subprocess.run(["chromium", "--headless=new", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr",
                           "--v=0", *args], capture_output=True, text=True, timeout=timeout)


def console_messages(stderr: str) -> list:
    """The page's console output in chromium's log (every level logs as INFO:CONSOLE; uncaught errors read
    "Uncaught ..."): the report logs nothing, so any line is a failure."""
    return [l for l in stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]


needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="needs Debian's chromium (scripts/setup.sh installs it)")


@needs_chromium
def test_the_console_check_sees_errors(tmp_path):
    """The detector itself, on a page with an error: it must find it (else the next test proves nothing)."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    "<script>console.error('boom'); notDefined();</script></body></html>")
    r = _chromium("--dump-dom", page.as_uri())
    found = console_messages(r.stderr)
    assert any("boom" in l for l in found) and any("Uncaught ReferenceError" in l for l in found), r.stderr[-2000:]


@needs_chromium
def test_the_page_in_a_browser(b0_build, tmp_path):
    from PIL import Image
    import numpy as np

    url = (b0_build[0] / "report.html").as_uri()
    r = _chromium("--dump-dom", url)
    assert r.returncode == 0, r.stderr[-2000:]
    assert console_messages(r.stderr) == []
    assert re.search(r'<body[^>]*data-ready="1"', r.stdout), r.stdout[:500]  # the page's script ran to the end
    shot = tmp_path / "report.png"
    r = _chromium(f"--screenshot={shot}", "--window-size=1200,3000", url)
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    assert console_messages(r.stderr) == []
    im = np.asarray(Image.open(shot).convert("RGB"))
    assert im.shape == (3000, 1200, 3)
    # the plots were decoded and painted: matplotlib's blue (SQNR of weights, cycle bars, roofline points) and
    # orange (SQNR of activations) cover many pixels, and where they are the page is far from blank
    blue, orange = (im == MPL_BLUE).all(-1), (im == MPL_ORANGE).all(-1)
    assert blue.sum() > 1000 and orange.sum() > 300, (blue.sum(), orange.sum())
    rows = np.nonzero((blue | orange).any(1))[0]
    region = im[rows.min():rows.max() + 1].reshape(-1, 3)
    assert len(np.unique(region, axis=0)) > 150
