"""The report's first sections: the checks with their verdicts, the build's settings, per-layer SQNR."""

import math
from dataclasses import fields

from .artifacts import Artifacts, absent_reason
from .markup import Raw, absent, badge, details, esc, img, para, section, table
from .plots import data_uri, sqnr_png
from .verdicts import check_rows, overall

SHOWN_LOWEST = 10  # rows of the lowest-SQNR table shown open; the rest behind a <details>


def checks_section(arts: Artifacts, cfg, model: dict | None = None) -> tuple:
    """(overall verdict, the checks table section), from every artifact (verdicts.check_rows)."""
    rows = check_rows(arts, cfg, model)
    verdict = overall(rows)
    judged = [r for r in rows if r.verdict in ("PASS", "FAIL")]
    failed = [r.stage for r in judged if r.verdict == "FAIL"]
    line = (f"{len(judged) - len(failed)} of {len(judged)} checks passed"
            + (f"; failed: {', '.join(failed)}" if failed else "")
            + "".join(f"; {r.stage}: not in the output" for r in rows if r.verdict == "ABSENT"))
    body = table(["stage", "what was checked", "figure", "verdict"],
                 [(r.stage, r.what, r.figure, badge(r.verdict)) for r in rows], cls="checks")
    return verdict, section("checks", "Checks", Raw(f'<p>{badge(verdict)} {esc(line)}</p>'), body)


def settings_section(arts: Artifacts, cfg, cache_note: str | None = None) -> Raw:
    """The BuildConfig, resolved: the part's full name and board, the clock the build ran at (--clock, or
    the estimate's choice), which stages the stage cache restored (``cache_note``), and the quantization
    settings the quantize stage used (quant_report.json's, else the config's), those differing from
    flow/quantize/defaults.yaml in bold."""
    from flow.boards import board_for_part
    from flow.parts import get_part
    from flow.quantize.config import make_quant_config

    part = get_part(cfg.part)
    board = cfg.board or getattr(board_for_part(part), "name", None)
    est = arts["estimate"]
    if cfg.clock:
        clock = f"{cfg.clock:g} MHz (--clock)"
    elif est:
        clock = (f"{est['clock_mhz']:g} MHz (the estimate's choice of "
                 f"{', '.join(f'{c:g}' for c in part.clocks_mhz)} MHz)")
    else:
        clock = f"{part.default_clock_mhz:g} MHz (the part's default)"
    q = arts["quant"]["settings"] if arts["quant"] else cfg.quant_config().as_dict()
    rows = [
        ("model", cfg.model),
        ("input", f"{cfg.resolution} × {cfg.resolution} px, RGB"),
        ("block", cfg.block or "— (the whole model)"),
        ("weights", cfg.weights or "none: random initialisation, seed 0"),
        ("bits", f"W{q.get('weight_bits', '?')}A{q.get('act_bits', '?')}" + (" (--bits)" if cfg.bits else "")),
        ("calibration images",
         f"{q.get('calib_images', '?')} from {cfg.calib_dir or 'the built-in Fashion-MNIST set'}"),
        ("accumulator", f"{cfg.acc_bits} bits"),
        ("part", f"{part.name} ({part.part}, {part.family}); DDR {part.ddr_bandwidth_gbps:g} GB/s"),
        ("board", board or "none"),
        ("clock", clock),
        ("backend", cfg.backend),
        ("lab calibration", cfg.calibration or "none (the cycle and resource model's own figures)"),
        ("stage cache", cache_note or ("off (--no-cache)" if cfg.no_cache else "on")),
        ("output", str(cfg.output_dir())),
    ]
    covered = {"model", "resolution", "block", "weights", "bits", "calib_dir", "calib", "acc_bits", "part", "board",
               "clock", "backend", "calibration", "no_cache", "out", "quantization"}
    rows += [(f.name, getattr(cfg, f.name)) for f in fields(cfg)
             if f.name not in covered and getattr(cfg, f.name) is not None]
    default = make_quant_config(None).as_dict()
    pairs = [(k, Raw(f"<b>{esc(v)}</b>") if default.get(k) != v else v) for k, v in q.items()]
    per_row = 4
    grid = [sum(pairs[i:i + per_row], ()) for i in range(0, len(pairs), per_row)]
    grid[-1:] = [g + ("", "") * (per_row - len(g) // 2) for g in grid[-1:]]
    return section("settings", "Build settings", table(["setting", "value"], rows, cls="kv"),
                   Raw("<h3>Quantization settings</h3>"),
                   para("In bold: the values that differ from the defaults (flow/quantize/defaults.yaml).", "note"),
                   table(["setting", "value"] * per_row, grid, cls="kv grid"))


def _fmt_scale(scale) -> str:
    return f"{scale:.4g}" if isinstance(scale, (int, float)) else f"{scale[0]:.3g} … {scale[1]:.3g}"


def _fmt_db(x: float) -> str:
    return "∞ (exact)" if x == math.inf else f"{x:.1f}"


def _sqnr_rows(rows: list) -> list:
    return [(r["tensor"], r["kind"], r["bits"], "signed" if r["signed"] else "unsigned", _fmt_scale(r["scale"]),
             f"[{r['float_min']:.3g}, {r['float_max']:.3g}]", _fmt_db(r["sqnr_db"])) for r in rows]


def sqnr_section(arts: Artifacts, cfg) -> Raw:
    """Per-tensor SQNR from quant_report.json ("tensors": tensor, kind, bits, signed, scale, float_min,
    float_max, sqnr_db; weights first, then activations in model order): a plot, the lowest rows, all rows."""
    title = "Per-layer SQNR (quantized vs float)"
    q = arts["quant"]
    if q is None or not q.get("tensors"):
        return section("sqnr", title, absent(absent_reason("quant", arts, cfg) if q is None
                                             else "quant_report.json lists no quantized tensors."))
    rows = q["tensors"]
    n_w = sum(r["kind"] == "weight" for r in rows)
    finite = sorted(r["sqnr_db"] for r in rows if math.isfinite(r["sqnr_db"]))
    lowest = sorted(rows, key=lambda r: r["sqnr_db"])[:SHOWN_LOWEST]
    summary = (f"{len(rows)} tensors ({n_w} weights, {len(rows) - n_w} activations), activations measured on "
               f"{q['images']} images with the error carried in from earlier layers; SQNR "
               + (f"from {finite[0]:.1f} dB to {finite[-1]:.1f} dB, median {finite[len(finite) // 2]:.1f} dB."
                  if finite else "infinite (exact) everywhere."))
    headers = ["tensor", "kind", "bits", "sign", "scale", "float range", "SQNR (dB)"]
    return section("sqnr", title, para(summary),
                   img(data_uri(sqnr_png(rows)), "SQNR per quantized tensor"),
                   Raw(f"<h3>The {len(lowest)} lowest</h3>"), table(headers, _sqnr_rows(lowest), {2, 4, 6}),
                   details(f"All {len(rows)} tensors (quant_report.json; also quant_report.md)",
                           table(headers, _sqnr_rows(rows), {2, 4, 6})))
