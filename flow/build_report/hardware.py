"""The report's hardware sections: per-layer cycles and their bound, the roofline, resource use against
the part, and the C-simulation verdict."""

from .artifacts import Artifacts, absent_reason
from .markup import Raw, absent, badge, details, esc, img, para, section, table
from .plots import cycles_png, data_uri, resource_svg
from .verdicts import counts_agree

SHOWN_HEAVIEST = 10  # rows of the most-cycles table shown open; the rest behind a <details>
LABELS = {"dsp": "DSP", "bram18": "BRAM (18 Kb)", "uram": "URAM", "lut": "LUT", "ff": "FF"}


def _layer_rows(est: dict) -> list:
    """estimate.json's "layers", and its "io" (the input and output transfers) as a last row."""
    return est["layers"] + ([{"layer": "io", "kind": "load/store", "macs": 0, **est["io"]}] if est.get("io") else [])


def _cycle_table(rows: list, total: int) -> Raw:
    def kind(r):
        return r["kind"] + (f" + {r['epilogue']}" if r.get("epilogue") else "")
    return table(["layer", "kind", "MACs", "cycles", "% of frame", "compute", "DDR wait", "fill", "DDR beats",
                  "MACs/cycle", "bound"],
                 [(r["layer"], kind(r), f"{r['macs']:,}", f"{r['cycles']:,}", f"{100 * r['cycles'] / total:.1f}",
                   f"{r['compute']:,}", f"{r['ddr']:,}", f"{r['fill']:,}", f"{r['beats']:,}",
                   f"{r['macs'] / r['cycles']:.0f}" if r["cycles"] else "–", r["bound"]) for r in rows],
                 num=set(range(2, 10)))


def cycles_section(arts: Artifacts, cfg) -> Raw:
    """Per-layer cycles from estimate/estimate.json ("layers": layer, kind, epilogue, macs, cycles = compute
    + ddr + fill, beats, bound; "io"; totals, clock_mhz, fps, cycle_share, bounds, config)."""
    from flow.estimate.report import design_line

    title = "Per-layer cycles (estimate)"
    est = arts["estimate"]
    if est is None:
        return section("cycles", title, absent(absent_reason("estimate", arts, cfg)))
    rows, total, share = _layer_rows(est), est["cycles"], est["cycle_share"]
    bounds = ", ".join(f"{n} {b}-bound" for b, n in est.get("bounds", {}).items())
    summary = (f"{total:,} cycles per frame at {est['clock_mhz']:g} MHz: {1e3 * total / (est['clock_mhz'] * 1e6):.3f} "
               f"ms, {est['fps']:.1f} FPS, {est['gops']:.1f} GOPS of a {est['peak_gops']:.0f} GOPS peak. Cycles: "
               f"{100 * share['compute']:.1f}% compute, {100 * share['ddr']:.1f}% waiting for DDR, "
               f"{100 * share['fill']:.1f}% pipeline fill and burst latency; layers: {bounds}.")
    heaviest = sorted(rows, key=lambda r: -r["cycles"])[:SHOWN_HEAVIEST]
    return section("cycles", title, para(summary), para(f"Design: {design_line(est)}.", "note"),
                   img(data_uri(cycles_png(rows, est["clock_mhz"])), "cycles per layer, by compute, DDR wait, fill"),
                   Raw(f"<h3>The {len(heaviest)} layers with the most cycles</h3>"), _cycle_table(heaviest, total),
                   details(f"All {len(rows)} layers in execution order (estimate/estimate.md)",
                           _cycle_table(rows, total)))


def roofline_section(arts: Artifacts, cfg) -> Raw:
    """estimate/roofline.png, inlined, with the roof's figures from estimate.json."""
    title = "Roofline"
    if arts.roofline is None:
        return section("roofline", title, absent(absent_reason("roofline", arts, cfg)))
    est = arts["estimate"]
    note = (para(f"Roof: the PE array's {est['peak_gops']:.0f} GOPS peak and {est['ddr_gbps']:g} GB/s of DDR; ridge "
                 f"at {est['peak_gops'] / est['ddr_gbps']:.1f} ops per DDR byte. One point per layer that reads DDR.")
            if est else "")
    return section("roofline", title, note, img(data_uri(arts.roofline), "roofline of the chosen design"))


def resources_section(arts: Artifacts, cfg) -> Raw:
    """The estimate's resource use ("resources") against the part's capacity (constraints/parts/), per kind
    of flow/estimate/resources.KINDS, with the design-space exploration's limits ("limits")."""
    from flow.estimate.resources import KINDS
    from flow.parts import get_part

    title = "Resources against the part"
    est = arts["estimate"]
    if est is None:
        return section("resources", title, absent(absent_reason("estimate", arts, cfg)))
    part = get_part(est["part"])
    res, limits = est["resources"], est.get("limits", {})
    bars = [(LABELS.get(k, k.upper()), int(res.get(k, 0)), int(part.resources.get(k, 0)), limits.get(k)) for k in KINDS]
    rows = [(label, f"{used:,}", f"{cap:,}", f"{100 * used / cap:.1f}" if cap else "–",
             f"{100 * lim:.0f}" if lim is not None else "–") for label, used, cap, lim in bars]
    act = est.get("activations", {})
    memory = (f"Block RAM: {res.get('activation_bram18', 0):,} BRAM18 hold the activations "
              f"({act.get('bytes', 0) / 1e6:.2f} MB), {res.get('buffer_bram18', 0):,} the other buffers; URAM for "
              f"activations: {res.get('activation_uram', 0):,}. Tensors in DDR: "
              f"{', '.join(act.get('in_ddr', [])) or 'none'}.")
    return section("resources", title,
                   para(f"{part.name} ({part.part}) at {est['clock_mhz']:g} MHz; dashed line: the limit the "
                        f"design-space exploration keeps to."),
                   Raw(f'<div class="svg">{resource_svg(bars)}</div>'),
                   table(["resource", "used", "on the part", "used (%)", "limit (%)"], rows, {1, 2, 3, 4}),
                   para(memory, "note"))


def csim_section(arts: Artifacts, cfg) -> Raw:
    """The C-simulation verdict from csim_report.json (layers, layers_exact, bit_exact, first_mismatch,
    images, seconds_per_image, descriptors; "counts": what the II audit counted per layer, and
    "model_counts": the cycle model's figures for the same; "check" is the testbench's own pass)."""
    title = "C-simulation"
    c = arts["csim"]
    if c is None:
        return section("csim", title, absent(absent_reason("csim", arts, cfg)))
    same, n = counts_agree(c)
    exact = c["bit_exact"] and c["layers_exact"] == c["layers"]
    m = c.get("first_mismatch")
    where = (f"; first difference at layer {m.get('layer')}, index {m.get('index')}: csim {m.get('csim')}, "
             f"reference {m.get('reference')}" if m else "")
    own = {k: v for k, v in c["counts"].items() if k != "check"}
    cycles = sum(v["cycles"] for v in own.values())
    beats = sum(sum(v["beats"].values()) for v in own.values())
    differ = sorted(k for k in set(c["counts"]) | set(c.get("model_counts", {}))
                    if c["counts"].get(k) != c.get("model_counts", {}).get(k))
    lines = [
        (exact, f"{c['layers_exact']}/{c['layers']} layers bit-exact with the integer reference on {c['images']} "
                f"images ({c['seconds_per_image']:.1f} s per image){where}"),
        (True, "every loop audit-clean at its II (an audit rejection stops the run; this report is written only "
               "after a clean one)"),
        (same == n, f"the cycle model equals the counted iterations, fills, DDR beats and bursts of {same}/{n} "
                    f"entries (each layer, io, the check pass)"
                    + (f"; differing: {', '.join(differ)}" if differ else "")),
    ]
    items = "".join(f"<li>{badge('PASS' if ok else 'FAIL')} {esc(text)}</li>" for ok, text in lines)
    model = c.get("model_counts", {})
    rows = [(name, f"{v['iterations']:,}", f"{v['cycles']:,}", f"{v['fill']:,}", f"{v['beats']['desc']:,}",
             f"{v['beats']['wgt']:,}", f"{v['beats']['act']:,}", f"{sum(v['bursts'].values()):,}",
             "yes" if model.get(name) == v else "NO") for name, v in c["counts"].items()]
    return section("csim", title, Raw(f'<ul class="verdicts">{items}</ul>'),
                   para(f"{cycles:,} II cycles and {beats:,} DDR beats per frame, {c.get('descriptors', 0):,} "
                        f"descriptors.", "note"),
                   details(f"What the audit counted, per layer ({len(rows)} rows)",
                           table(["layer", "iterations", "II cycles", "fill", "beats desc", "beats wgt", "beats act",
                                  "bursts", "model equal"], rows, set(range(1, 8)))))
