"""The estimate as a report: JSON, a Markdown table per layer, and a roofline plot (PNG)."""

import json
from pathlib import Path


def design_line(est: dict) -> str:
    c = est["config"]
    div = f"{c['att_dividers']} attention dividers" if c["att_dividers"] else "shift-only attention"
    fused = (f", {est['fused_epilogues']} activations fused into their producers' engines"
             if est.get("fused_epilogues") else "")
    fused += (f", {est['fused_residual_adds']} residual adds fused into the PE array"
              if est.get("fused_residual_adds") else "")
    fused += (f", {est['concats_in_place']} concatenations in place" if est.get("concats_in_place") else "")
    taps = c.get("dw_taps") or c["dw_k"] ** 2
    dw = (f"{c['dw_lanes']} depthwise lanes x {c['dw_k']}x{c['dw_k']} taps"
          + (f" in folds of {taps}" if taps < c["dw_k"] ** 2 else "")
          + (" in tile pairs" if c.get("dw_pairs") else "") if c.get("dw_engine", 1)
          else "no depthwise engine")
    att = f"{c['att_rows']} attention rows, {div}" if c.get("att_engine", 1) else "no linear-attention engine"
    return f"L={c['lanes']}: {c['pe_rows']}x{c['pe_cols']} PE array, {dw}, {c['lanes']} element lanes, {att}{fused}"


def summary_line(est: dict) -> str:
    u, act = est["utilisation"], est["activations"]
    util = ", ".join(f"{k.upper().replace('BRAM18', 'BRAM')} {100 * v:.0f}%" for k, v in u.items())
    where = f"{act['bram18']} BRAM18" if act["memory"] == "bram" else f"{act['uram']} URAM"
    ddr = f", {len(act['in_ddr'])} tensors in DDR" if act["in_ddr"] else ""
    return (f"{design_line(est)} at {est['clock_mhz']:g} MHz on {est['part']}: {est['fps']:.1f} FPS, "
            f"{est['gops']:.1f} GOPS, {est['gops_per_dsp']:.3f} GOPS/DSP; {util}; activations "
            f"{act['bytes'] / 1e6:.2f} MB on chip ({where}){ddr}")


def _kind(row: dict) -> str:
    return row["kind"] + (f"+{row['epilogue']}" if row.get("epilogue") else "")


def write_report(est: dict, folder: Path) -> None:
    folder = Path(folder)
    (folder / "estimate.json").write_text(json.dumps(est, indent=1))
    share = est["cycle_share"]
    act = est["activations"]
    lines = [f"# Estimate: {est['part']} at {est['clock_mhz']:g} MHz", "", summary_line(est), "",
             f"Peak of the PE array {est['peak_gops']:.0f} GOPS; DDR {est['ddr_gbps']} GB/s; {est['cycles']:,} cycles "
             f"and {est['ddr_beats']:,} DDR beats per frame; cycles: {100 * share['compute']:.1f}% compute, "
             f"{100 * share['ddr']:.1f}% waiting for DDR, {100 * share['fill']:.1f}% pipeline fill and burst latency.",
             "", *([f"Calibrated by a lab run: {est['calibration']} (its measured loop IIs, depths and resource "
                "ratios in place of the model's).", ""] if est.get("calibration") else []),
             f"On-chip activation memory: {act['words']:,} words of {est['config']['lanes']} bytes "
             f"({act['bytes'] / 1e6:.2f} MB, {act['bram18']} BRAM18, {act['uram']} URAM); other buffers "
             f"{est['resources']['buffer_bram18']} BRAM18. Tensors in DDR (row stripes): "
             f"{', '.join(act['in_ddr']) or 'none'}.", "", f"Resources: {est['resources']}.", "",
             "| layer | kind | MACs | cycles | compute | DDR wait | fill | DDR beats | bound |",
             "|---|---|---|---|---|---|---|---|---|"]
    rows = est["layers"] + ([{"layer": "io", "kind": "load/store", "macs": 0, **est["io"]}] if est["io"] else [])
    lines += [f"| {r['layer']} | {_kind(r)} | {r['macs']:,} | {r['cycles']:,} | {r['compute']:,} | {r['ddr']:,} | "
              f"{r['fill']:,} | {r['beats']:,} | {r['bound']} |" for r in rows]
    (folder / "estimate.md").write_text("\n".join(lines) + "\n")
    roofline(est, folder / "roofline.png")


def roofline(est: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clock = est["clock_mhz"] * 1e6
    beat = est["config"]["beat_bytes"]
    peak, bw = est["peak_gops"], est["ddr_gbps"]
    pts = [(2 * r["macs"] / (r["beats"] * beat), 2 * r["macs"] * clock / r["cycles"] / 1e9, r["bound"])
           for r in est["layers"] if r["macs"] and r["beats"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [min(p[0] for p in pts) / 2, max(p[0] for p in pts) * 2] if pts else [0.1, 100]
    ridge = peak / bw
    ax.plot([xs[0], ridge, max(xs[1], ridge * 2)], [bw * xs[0], peak, peak], "k-", label="roof (PE peak, DDR)")
    for bound, color in (("compute", "tab:blue"), ("ddr", "tab:red"), ("fill", "tab:gray")):
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
