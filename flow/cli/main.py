"""The `flow` command line: one subcommand per pipeline stage, options named alike on every stage."""

import argparse
import sys
import time
import warnings

from flow import stop_signals
from flow.config import DEFAULT_MODEL, DEFAULT_PART
from flow.errors import FlowError, choose

EXIT_INPUT_ERROR = 2


def _common(*names):
    """A parent parser holding the named common options (same spelling and meaning on every stage)."""
    p = argparse.ArgumentParser(add_help=False)
    opts = {
        "model": lambda: p.add_argument("--model", help=f"zoo model name (default from --config, else {DEFAULT_MODEL})"),
        "part": lambda: p.add_argument("--part", help=f"FPGA part, short name or full part string (default {DEFAULT_PART})"),
        "board": lambda: p.add_argument("--board", help="board (e.g. zcu102): sets the part and the Vivado "
                                                         "script's board preset and pins (default: the part's board)"),
        "out": lambda: p.add_argument("--out", help="output folder (default flow_out/<model>_<part>)"),
        "weights": lambda: p.add_argument("--weights", help="checkpoint (.pt/.pth/.safetensors; MIT or timm layout)"),
        "config": lambda: p.add_argument("--config", help="YAML file of build options (command-line options override it)"),
        "bits": lambda: p.add_argument("--bits", help="weight/activation bit widths, e.g. w8a8, w4a8 (default w8a8)"),
        "resolution": lambda: p.add_argument("--resolution", type=int, help="input resolution, a multiple of 32 (default 224)"),
        "calib_dir": lambda: p.add_argument("--calib-dir", help="calibration images in ImageFolder layout "
                                                                 "(default: the built-in Fashion-MNIST set)"),
        "calib": lambda: p.add_argument("--calib", type=int, help="number of calibration images (default 64)"),
        "qonnx": lambda: p.add_argument("--qonnx", help="cleaned QONNX file (model_qonnx.onnx from `flow export`)"),
        "program": lambda: p.add_argument("--program", help="integer program folder (program/ from `flow lower`)"),
        "backend": lambda: p.add_argument("--backend", help="vitflow (default: our accelerator, weights streamed "
                                          "from DDR) or hls4ml (hls4ml's on-chip dataflow with our layers)"),
        "block": lambda: p.add_argument("--block", help="build one block of the model, e.g. stages.3.blocks.1 "
                                        "(quantized with the whole model; fed its real inputs)"),
        "clock": lambda: p.add_argument("--clock", type=float, help="accelerator clock in MHz (default: the estimate "
                                        "chooses among the part's clocks, e.g. 200/250/300 MHz on xczu9eg)"),
        "acc_bits": lambda: p.add_argument("--acc-bits", type=int,
                                           help="accumulator width the range analysis must prove (default 32)"),
        "calibration": lambda: p.add_argument("--calibration", help="a lab run's reports/synthesis_report.json "
                                              "(from `flow report`): its measured loop IIs, depths and resources "
                                              "in place of the model's"),
        "no_cache": lambda: p.add_argument("--no-cache", action="store_true", default=None,
                                           help="run quantize, export and lower even when the stage cache holds "
                                           "them, and store nothing (`flow cache clear` empties the cache)"),
    }
    for n in names:
        opts[n]()
    return p


def _cfg(args):
    from flow.config import make_config

    keys = ("model", "part", "board", "out", "weights", "bits", "resolution", "calib_dir", "calib", "qonnx", "program",
            "acc_bits", "clock", "backend", "block", "calibration", "no_cache")
    return make_config(getattr(args, "config", None), **{k: getattr(args, k, None) for k in keys})


def _run(steps_name, done):
    def cmd(args):
        from flow import pipeline

        out = pipeline.run_build(_cfg(args), steps=getattr(pipeline, steps_name))
        print(f"flow: {done} in {out}")
    return cmd


def cmd_build(args):
    from flow import pipeline

    cfg = _cfg(args)
    out = pipeline.run_build(cfg, steps=pipeline.build_steps(cfg))
    if cfg.backend == "hls4ml":
        print(f"flow: build finished in {out}\n"
              f"  report: {out / 'report.html'}\n"
              f"  hls4ml project: {out / 'hls4ml'} (Vitis: cd {out / 'hls4ml'} && vitis_hls -f build_prj.tcl)\n"
              f"  reports: {out / 'hls4ml_report.json'}, {out / 'lower_check.json'}, {out / 'export_check.json'}, "
              f"{out / 'quant_report.md'}")
        return
    print(f"flow: build finished in {out}\n"
          f"  report: {out / 'report.html'} (one page: settings, checks, SQNR, cycles, roofline, resources, csim)\n"
          f"  HLS project: {out / 'hls'} (lab machine: flow synth --project {out / 'hls'}, then flow report; "
          f"board: host/vitflow_driver.py)\n"
          f"  reports: {out / 'csim_report.json'}, {out / 'lower_check.json'}, {out / 'export_check.json'}, "
          f"{out / 'quant_report.md'}, {out / 'estimate' / 'estimate.md'} (roofline.png beside it)")


def cmd_csim(args):
    from pathlib import Path

    from flow.hls.csim import compile_csim, run_csim

    if not args.project:
        raise FlowError("flow csim needs --project DIR (the hls/ folder written by `flow build`)")
    project = Path(args.project)
    if not (project / "firmware").is_dir() or not (project / "data").is_dir():
        raise FlowError(f"'{project}' is not a vitflow HLS project (no firmware/ and data/ folders)")
    result = run_csim(project, compile_csim(project))
    if not result["bit_exact"]:
        m = result.get("first_mismatch") or {}
        raise FlowError(f"C-simulation differs from the integer reference on {result['image']}: first at layer "
                        f"{m.get('layer')}, index {m.get('index')}: csim {m.get('csim')}, reference {m.get('reference')}")
    print(f"flow: all {result['layers']} layers bit-exact with the integer reference on {result['images']} images, "
          f"every loop audit-clean at its II ({result['seconds_per_image']:.2f} s per image)")


def _project_arg(args, command: str):
    from pathlib import Path

    if not args.project:
        raise FlowError(f"flow {command} needs --project DIR (the hls/ folder written by `flow build`)")
    return Path(args.project)


def cmd_synth(args):
    from flow.synth.tools import run_synth

    project = _project_arg(args, "synth")
    logs = run_synth(project, args.steps)
    print(f"flow: synth finished; logs: {', '.join(str(l) for l in logs)}\n"
          f"  compare with the model: flow report --project {project}")


def cmd_report(args):
    from flow.synth.compare import markdown, write_comparison

    project = _project_arg(args, "report")
    cmp = write_comparison(project)
    print(markdown(cmp), end="")
    print(f"flow: {cmp['flags']} flagged; written to {project / 'reports' / 'synthesis_report.md'} and .json "
          f"(flow estimate --calibration takes the .json)")


def cmd_models(args):
    from flow.models import MODEL_NAMES, QuantScheme, build_model, check_resolution, count_complexity, get_spec

    names = [choose("model", args.model, MODEL_NAMES)] if args.model else list(MODEL_NAMES)
    res = args.resolution
    for name in names:
        check_resolution(res, name)
    width = max(len(get_spec(name).summary()) for name in names) + 2
    print(f"{'model':<17}{'architecture':<{width}}{'params':>9}{'GMACs@' + str(res):>11}{'published (r224)':>22}")
    for name in names:
        spec = get_spec(name)
        cx = count_complexity(build_model(name, resolution=res, quant=QuantScheme.float_reference()))
        print(f"{name:<17}{spec.summary():<{width}}{cx.params / 1e6:>8.2f}M{cx.macs / 1e9:>11.3f}"
              f"{spec.published_params_m:>13.1f}M {spec.published_gmacs_r224:>5.2f}G")


def cmd_parts(args):
    from flow.boards import list_boards
    from flow.parts import list_parts

    print(f"{'part':<10}{'device':<24}{'board':<11}{'LUT':>8}{'FF':>9}{'BRAM18':>8}{'URAM':>6}{'DSP':>6}"
          f"{'DDR GB/s':>10}  clocks (MHz)")
    for p in list_parts():
        r = p.resources
        print(f"{p.name:<10}{p.part:<24}{p.board:<11}{r['lut']:>8}{r['ff']:>9}{r['bram18']:>8}{r['uram']:>6}"
              f"{r['dsp']:>6}{p.ddr_bandwidth_gbps:>10.1f}  {'/'.join(f'{c:g}' for c in p.clocks_mhz)}")
    print(f"\n{'board':<11}{'device':<24}{'Vivado board part':<30}{'pins (XDC)':<11}status LED")
    for b in list_boards():
        print(f"{b.name:<11}{b.part:<24}{b.vivado_board_part:<30}{'yes' if b.xdc else 'none':<11}{b.status_led or '-'}")


def cmd_cache(args):
    from flow import stage_cache

    root = stage_cache.cache_root()
    if args.action == "clear":
        n, size = stage_cache.clear(root)
        print(f"flow: removed {n} cache entries ({size / 1e6:.1f} MB) from {root}")
        return
    found = stage_cache.entries(root)
    for stage, key, size, created in found:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else "partial"
        print(f"{stage:<10}{key[:16]}  {size / 1e6:>9.1f} MB  {when}")
    print(f"flow: {len(found)} cache entries, {sum(e[2] for e in found) / 1e6:.1f} MB, in {root}")


def cmd_sweep(args):
    from pathlib import Path

    from flow.sweep.engine import run_sweep
    from flow.sweep.grid import load_grid
    from flow.sweep.results import write_results

    cells = load_grid(args.grid)
    if args.jobs is not None and args.jobs < 1:
        raise FlowError(f"--jobs must be at least 1, got {args.jobs}")
    out = Path(args.out or Path("sweep_out") / Path(args.grid).stem)
    out.mkdir(parents=True, exist_ok=True)
    results = run_sweep(cells, out, address=args.address, jobs=args.jobs)
    paths = write_results(results, out)
    print(paths["md"].read_text(), end="")
    failed = sum(r["status"] != "ok" for r in results)
    print(f"flow: sweep of {len(results)} cells, {failed} failed; results in {paths['csv']} and {paths['md']}"
          + (f", plot {paths['pareto']}" if paths["pareto"] else ""))
    return 1 if failed else 0


def make_parser():
    parser = argparse.ArgumentParser(
        prog="flow", description="Deploy quantized EfficientViT models from PyTorch to FPGA (QONNX -> HLS).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help, *common):
        p = sub.add_parser(name, help=help, description=help, parents=[_common(*common)])
        p.set_defaults(func=func)
        return p

    all_opts = ("model", "part", "board", "out", "weights", "config", "bits", "resolution", "calib_dir", "calib",
                "acc_bits", "clock", "calibration")
    add("build", cmd_build, "run the whole flow: quantize, export, lower, estimate, generate HLS, C-simulate",
        *all_opts, "backend", "block", "no_cache")
    add("quantize", _run("QUANTIZE_STEPS", "quantized model and report"),
        "post-training quantization with calibration", "model", "out", "weights", "config", "bits",
        "resolution", "calib_dir", "calib")
    add("export", _run("EXPORT_STEPS", "QONNX model and its check"),
        "export a quantized model (--weights quantized.pt) to QONNX and check it by execution",
        "model", "out", "weights", "config", "calib_dir")
    add("lower", _run("LOWER_STEPS", "integer program and its check"),
        "lower a QONNX model (--qonnx) to the integer program and check it against QONNX execution",
        "model", "out", "qonnx", "config", "calib_dir", "acc_bits")
    c = add("csim", cmd_csim, "C-simulate a generated HLS project (g++, open ap_types) against the integer reference")
    c.add_argument("--project", help="the hls/ folder written by `flow build`")
    add("estimate", _run("ESTIMATE_STEPS", "estimate report (estimate.md, estimate.json, roofline.png)"),
        "estimate resources and frames per second of a program (--program) on a part, choosing the parallelism",
        "model", "part", "board", "out", "program", "config", "acc_bits", "clock", "calibration")
    s = add("synth", cmd_synth, "run Vitis HLS (csynth, cosim, IP export) and Vivado (bitstream) on a generated "
            "project, where they are installed")
    s.add_argument("--project", help="the hls/ folder written by `flow build`")
    s.add_argument("--steps", help="comma-separated, of csynth,cosim,export,bitstream (default: all four)")
    r = add("report", cmd_report, "compare a lab run's Vitis and Vivado reports with the model: per loop II and "
            "depth, per engine, resources, co-simulation latency, achieved clock")
    r.add_argument("--project", help="the hls/ folder, after `flow synth` (or the lab commands) ran in it")
    m = add("models", cmd_models, "list the model zoo with parameter and MAC counts", "model")
    m.add_argument("--resolution", type=int, default=224, help="input resolution for the MAC count (default 224)")
    add("parts", cmd_parts, "list the FPGA parts and boards in the part library")
    w = add("sweep", cmd_sweep, "run a grid of builds, estimates or accuracy evaluations (model x bits x "
            "quantization recipe x part) as tasks on Ray; write results.csv, results.md and pareto.png")
    w.add_argument("grid", help="the grid's YAML file (see flow/sweep/grid.py)")
    w.add_argument("--address", help="an existing Ray cluster (e.g. ray://head:10001 or auto); default: a local Ray")
    w.add_argument("--out", help="output folder (default sweep_out/<grid name>); a re-run skips the cells done there")
    w.add_argument("--jobs", type=int, help="cells at once on the local Ray (default: the cores)")
    k = add("cache", cmd_cache, "list the stage cache of `flow build` (quantize, export, lower), or empty it")
    k.add_argument("action", nargs="?", default="list", choices=("list", "clear"),
                   help="list (default): its entries and size; clear: remove every entry")
    return parser


def main(argv=None):
    # Library warnings (brevitas' optional kernels, torch's exporter) are not the user's business; errors
    # stay one line.
    for category in (UserWarning, DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    args = make_parser().parse_args(argv)
    restore = stop_signals.install()  # SIGTERM unwinds like Ctrl-C (flow/stop_signals.py)
    try:
        code = args.func(args)
    except FlowError as exc:
        print(f"flow: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("flow: interrupted; the run's partial output was removed", file=sys.stderr)
        return 130
    except stop_signals.Terminated:
        print("flow: terminated (SIGTERM); the run's partial output was removed", file=sys.stderr)
        return 143
    finally:
        restore()
    return code or 0


def entry():
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
