"""`report.html`: one self-contained page per build (images inline as data: URIs, no external CSS, JS,
fonts or network) with the build's settings, each stage's check and verdict, per-layer SQNR and cycles,
the roofline, resource use against the part and the C-simulation verdict.

Modules: artifacts (reads the build's output folder), verdicts (the checks table), plots (PNG and SVG
figures), sections (one HTML section each), html (the page)."""

from .html import write_html_report

__all__ = ["write_html_report"]
