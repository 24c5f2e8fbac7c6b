"""The report's figures: matplotlib PNGs (as bytes, for data: URIs) and inline SVG resource bars.
Matplotlib is used through Figure and the Agg canvas directly, never pyplot: no global state, no backend
switch in the caller's process."""

import base64
import io
import math
from html import escape

WEIGHT, ACTIVATION = "#1f77b4", "#ff7f0e"
BOUND_COLORS = {"compute": "#1f77b4", "ddr": "#d62728", "fill": "#7f7f7f"}


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _figure(width=9.5, height=3.2):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def sqnr_png(rows: list) -> bytes:
    """SQNR (dB) of each row of quant_report.json's "tensors", in its order (weights, then activations);
    tensors quantized without error (SQNR infinite) drawn as triangles on the top edge."""
    fig = _figure()
    ax = fig.add_subplot()
    finite = [r["sqnr_db"] for r in rows if math.isfinite(r["sqnr_db"])]
    top = (max(finite) if finite else 60.0) + 5
    for kind, color in (("weight", WEIGHT), ("activation", ACTIVATION)):
        pts = [(i, r["sqnr_db"]) for i, r in enumerate(rows) if r["kind"] == kind and math.isfinite(r["sqnr_db"])]
        if pts:
            ax.scatter(*zip(*pts), s=10, color=color, label=f"{kind}s")
        exact = [i for i, r in enumerate(rows) if r["kind"] == kind and r["sqnr_db"] == math.inf]
        if exact:
            ax.scatter(exact, [top] * len(exact), s=16, marker="^", color=color, label=f"{kind}s, exact (∞ dB)")
    if finite:
        worst = min(range(len(rows)), key=lambda i: rows[i]["sqnr_db"])
        ax.annotate(f"{rows[worst]['tensor']}: {rows[worst]['sqnr_db']:.1f} dB", (worst, rows[worst]["sqnr_db"]),
                    xytext=(8, -4), textcoords="offset points", fontsize=8)
    ax.set_xlabel("tensor (in quant_report order: weights, then activations)")
    ax.set_ylabel("SQNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return _png(fig)


def cycles_png(layers: list, clock_mhz: float) -> bytes:
    """Each layer of estimate.json's "layers" as a bar of its cycles, split into compute, DDR wait and fill
    (cycles = compute + ddr + fill), in execution order."""
    fig = _figure()
    ax = fig.add_subplot()
    x = range(len(layers))
    bottom = [0] * len(layers)
    for part, label in (("compute", "compute"), ("ddr", "DDR wait"), ("fill", "pipeline fill, burst latency")):
        h = [r[part] for r in layers]
        ax.bar(x, h, bottom=bottom, width=0.85, color=BOUND_COLORS[part], label=label)
        bottom = [b + v for b, v in zip(bottom, h)]
    step = max(1, len(layers) // 24)
    ax.set_xticks(list(x)[::step], [r["layer"] for r in layers][::step], rotation=60, ha="right", fontsize=7)
    ax.set_xlim(-1, len(layers))
    ax.set_ylabel(f"cycles (at {clock_mhz:g} MHz)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    return _png(fig)


def resource_svg(rows: list, width=640) -> str:
    """Horizontal bars, one per (label, used, capacity, limit or None): the share of the part used, its
    percentage and the count, with the design limit as a dashed line. Green within the limit, orange
    above it, red beyond the part."""
    label_w, bar_w, row_h = 110, width - 110 - 190, 26
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row_h * len(rows) + 8}" '
           f'role="img" aria-label="resource use against the part" font-family="sans-serif" font-size="12">']
    for i, (label, used, cap, limit) in enumerate(rows):
        y = 4 + i * row_h
        out.append(f'<text x="0" y="{y + 16}">{escape(label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="18" fill="#eee" stroke="#bbb"/>')
        if cap <= 0:
            text = "none on this part" + (f", {used:,} needed" if used else "")
            color = "#d62728" if used else "#666"
            out.append(f'<text x="{label_w + 6}" y="{y + 16}" fill="{color}">{escape(text)}</text>')
            continue
        share = used / cap
        color = "#d62728" if share > 1 else "#ff7f0e" if limit is not None and share > limit else "#2ca02c"
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * min(share, 1.0):.1f}" height="18" '
                   f'fill="{color}"/>')
        if limit is not None:
            lx = label_w + bar_w * limit
            out.append(f'<line x1="{lx:.1f}" y1="{y}" x2="{lx:.1f}" y2="{y + 24}" stroke="#000" '
                       f'stroke-dasharray="3,2"><title>limit {100 * limit:.0f}%</title></line>')
        out.append(f'<text x="{label_w + bar_w + 8}" y="{y + 16}">{100 * share:.1f}%  ({used:,} of {cap:,})</text>')
    out.append("</svg>")
    return "".join(out)
