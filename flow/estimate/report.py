"""The estimate as a report: JSON, a Markdown table per layer, and a roofline plot (PNG)."""

import json
from pathlib import Path


def summary_line(est: dict) -> str:
    c, u = est["config"], est["utilisation"]
    return (f"{c['pe_rows']}x{c['pe_cols']} PE array, {c['dw_lanes']} depthwise lanes, {c['elt_lanes']} element lanes, "
            f"{c['att_rows']} attention rows{'' if c['att_divider'] else ' (shift-only)'} "
            f"at {est['clock_mhz']:g} MHz on {est['part']}: {est['fps']:.1f} FPS, {est['gops']:.1f} GOPS, "
            f"{est['gops_per_dsp']:.3f} GOPS/DSP; DSP {100 * u['dsp']:.0f}%, BRAM {100 * u['bram18']:.0f}%, "
            f"LUT {100 * u['lut']:.0f}%, FF {100 * u['ff']:.0f}%; {est['compute_bound_layers']} compute-bound and "
            f"{est['memory_bound_layers']} memory-bound layers")


def layer_table(est: dict) -> str:
    """The per-layer cycle table, for the terminal."""
    lines = [f"{'layer':<22}{'kind':<18}{'MACs':>12}{'compute cyc':>13}{'DDR cyc':>11}  bound"]
    lines += [f"{r['layer']:<22}{r['kind']:<18}{r['macs']:>12,}{r['compute_cycles']:>13,}{r['memory_cycles']:>11,}  "
              f"{r['bound']}" for r in est["layers"]]
    lines.append(f"{'total':<40}{est['macs']:>12,}{est['cycles']:>24,}  cycles per frame")
    return "\n".join(lines)


def write_report(est: dict, folder: Path) -> None:
    folder = Path(folder)
    (folder / "estimate.json").write_text(json.dumps(est, indent=1))
    lines = [f"# Estimate: {est['part']} at {est['clock_mhz']:g} MHz", "", summary_line(est), "",
             f"Peak of the PE array {est['peak_gops']:.0f} GOPS; DDR {est['ddr_gbps']} GB/s; "
             f"{est['cycles']:,} cycles per frame; resources {est['resources']}.", "",
             "| layer | kind | MACs | DDR bytes | compute cycles | DDR cycles | bound |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['kind']} | {r['macs']:,} | {r['bytes']:,} | {r['compute_cycles']:,} | "
              f"{r['memory_cycles']:,} | {r['bound']} |" for r in est["layers"]]
    (folder / "estimate.md").write_text("\n".join(lines) + "\n")
    roofline(est, folder / "roofline.png")


def roofline(est: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clock = est["clock_mhz"] * 1e6
    peak, bw = est["peak_gops"], est["ddr_gbps"]
    pts = [(2 * r["macs"] / r["bytes"], 2 * r["macs"] * clock / r["cycles"] / 1e9, r["bound"])
           for r in est["layers"] if r["macs"] and r["bytes"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [min(p[0] for p in pts) / 2, max(p[0] for p in pts) * 2] if pts else [0.1, 100]
    ridge = peak / bw
    ax.plot([xs[0], ridge, max(xs[1], ridge * 2)], [bw * xs[0], peak, peak], "k-", label="roof (PE peak, DDR)")
    for bound, color in (("compute", "tab:blue"), ("memory", "tab:red")):
        sel = [p for p in pts if p[2] == bound]
        if sel:
            ax.scatter([p[0] for p in sel], [p[1] for p in sel], s=14, c=color, label=f"{bound}-bound layers")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per DDR byte)")
    ax.set_ylabel("GOPS")
    ax.set_title(f"{est['part']} {est['clock_mhz']:g} MHz: {est['gops']:.0f} GOPS, {est['fps']:.1f} FPS")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
