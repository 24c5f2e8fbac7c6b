"""report.html: the build's one self-contained page. Every figure is inline (PNG as data: URIs, SVG in
the page), the style and the one script are in the page, and nothing is fetched: it opens offline and can
be mailed or archived as one file."""

import time
from pathlib import Path

from .artifacts import load_artifacts
from .hardware import csim_section, cycles_section, resources_section, roofline_section
from .markup import badge, esc
from .sections import checks_section, settings_section, sqnr_section

REPORT = "report.html"
NAV = (("checks", "Checks"), ("settings", "Settings"), ("sqnr", "SQNR"), ("cycles", "Cycles"),
       ("roofline", "Roofline"), ("resources", "Resources"), ("csim", "C-simulation"))

STYLE = """
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0 auto;max-width:1100px;
 padding:0 16px 40px}
header{border-bottom:2px solid #444;margin-bottom:8px}h1{font-size:20px;margin:16px 0 4px}
h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ccc}h3{font-size:13px;margin:12px 0 4px}
nav a{margin-right:12px}p{margin:4px 0 8px}.note{color:#555}.absent{color:#666;font-style:italic}
table{border-collapse:collapse;margin:4px 0 10px;font-size:12px}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}
tbody tr:nth-child(even){background:#fafafa}.num{text-align:right;font-variant-numeric:tabular-nums}
table.checks td:nth-child(3){font-variant-numeric:tabular-nums}table.kv td:nth-child(odd){color:#555}
.v{display:inline-block;min-width:46px;text-align:center;border-radius:3px;padding:0 4px;font-weight:600;
 font-size:11px}.v-pass{background:#d7f0d2;color:#1b5e20}.v-fail{background:#f8d0d0;color:#b71c1c}
.v-info{background:#e3e9f3;color:#234}.v-absent{background:#eee;color:#666}
img{max-width:100%;height:auto;display:block;margin:6px 0}ul.verdicts{list-style:none;padding:0}
ul.verdicts li{margin:3px 0}details{margin:4px 0 10px}summary{cursor:pointer;color:#1a4f8a}
"""

# sets data-ready on <body> once the page has loaded: a browser test sees it in the DOM only if the script ran
READY = 'addEventListener("load",function(){document.body.dataset.ready="1"});'


def write_html_report(out_dir: Path, cfg, model: dict | None = None, cache_note: str | None = None) -> Path:
    """Read the build's artifacts in ``out_dir`` (artifacts.FILES and estimate/roofline.png) and write
    ``out_dir``/report.html. ``model``: the float model's facts (params, macs, classes), which the output
    folder does not record; without them the model check reads "not recorded". ``cache_note``: which stages
    the build restored from the stage cache (their checks are the ones recorded when they ran)."""
    out_dir = Path(out_dir)
    arts = load_artifacts(out_dir)
    verdict, checks = checks_section(arts, cfg, model)
    what = f"{cfg.model}" + (f" {cfg.block}" if cfg.block else "") + f" at {cfg.resolution}×{cfg.resolution}"
    title = f"vitflow build: {what} on {cfg.part} ({cfg.backend}): {verdict}"
    nav = "".join(f'<a href="#{i}">{esc(t)}</a>' for i, t in NAV)
    body = [checks, settings_section(arts, cfg, cache_note), sqnr_section(arts, cfg), cycles_section(arts, cfg),
            roofline_section(arts, cfg), resources_section(arts, cfg), csim_section(arts, cfg)]
    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"  # no favicon request
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
            f"<header><h1>{esc(f'vitflow build: {what} on {cfg.part}')}</h1>"
            f"<p>{badge(verdict)} backend {esc(cfg.backend)}; written {esc(time.strftime('%Y-%m-%d %H:%M'))} "
            f"from the files beside this page</p><nav>{nav}</nav></header>"
            + "".join(body) + f"<script>{READY}</script></body></html>\n")
    path = out_dir / REPORT
    path.write_text(page, encoding="utf-8")
    return path


__all__ = ["write_html_report", "REPORT"]
