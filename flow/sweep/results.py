"""A sweep's results: results.csv and results.md (a row per cell, grid order), and pareto.png, top-1
against frames per second with the Pareto front (no cell faster and at least as accurate) marked."""

import csv
from pathlib import Path

COLUMNS = ("cell", "task", "model", "resolution", "bits", "recipe", "part", "status", "top1", "fps", "gops",
           "gops_per_dsp", "clock_mhz", "dsp_pct", "bram18_pct", "uram_pct", "lut_pct", "ff_pct",
           "csim_bit_exact", "seconds", "error")


def rows(results: list) -> list:
    out = []
    for r in results:
        s = r["settings"]
        row = {**{k: s.get(k) for k in ("task", "model", "resolution", "bits", "recipe", "part")}, **r}
        out.append({k: row.get(k) for k in COLUMNS})
    return out


def pareto(points: list) -> list:
    """The indices of ``points`` ((fps, top1) pairs) that no other point beats on both, fastest first."""
    front = []
    for i, (fps, top1) in enumerate(points):
        beaten = any((f >= fps and t >= top1) and (f, t) != (fps, top1) for f, t in points)
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: -points[i][0])


def write_results(results: list, out: Path) -> dict:
    """Write the table and the plot into ``out``; return their paths (pareto None without points)."""
    table = rows(results)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(table)
    shown = [c for c in COLUMNS if c not in ("task", "error") and any(r[c] is not None for r in table)]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in shown) + " |" for r in table]
    failed = [r for r in table if r["status"] != "ok"]
    lines += ["", *[f"- {r['cell']} failed: {r['error']}" for r in failed]]
    plotted = [r for r in table if r["status"] == "ok" and r["fps"] is not None and r["top1"] is not None]
    plot = _plot(plotted, out / "pareto.png") if plotted else None
    lines.append("pareto.png: top-1 against FPS, the Pareto front marked" if plot else
                 "No Pareto plot: no cell has both a top-1 (eval_images) and an FPS (a build or estimate task).")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    return {"csv": out / "results.csv", "md": out / "results.md", "pareto": plot}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return "" if v is None else str(v).replace("|", "\\|")  # a recipe named a|b stays in its column


def _plot(table: list, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [(r["fps"], r["top1"]) for r in table]
    front = pareto(points)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.scatter([p[0] for p in points], [p[1] for p in points], color="tab:blue", zorder=2, label="cell")
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "o-", color="tab:red", mfc="none",
            ms=11, label="Pareto front", zorder=1)
    for r, (fps, top1) in zip(table, points):
        ax.annotate(f"{r['bits']} {r['recipe']} {r['part'] or ''}".strip(), (fps, top1), fontsize=7,
                    textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("modeled frames per second")
    ax.set_ylabel("top-1 (%)")
    ax.set_title("sweep: accuracy against throughput")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
