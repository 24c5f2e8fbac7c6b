"""`flow build`: a list of plain step functions, each taking the build state to the next artifact and
checking what it made before the next step runs (the shape of FINN's builder). The steps live in
flow/steps/, one module per stage; this module lists them per command and runs them.

Output is written into a staging folder of its own (a unique name beside ``--out``) that only replaces
``--out`` when every step succeeded, in one atomic exchange of the two folders; on any error, Ctrl-C or
SIGTERM it is removed, so nothing half-written is left behind. While it runs, the build holds a lock on
``--out`` (flow/build_lock.py): a second build into the same folder fails at once with a one-line error
naming the first build's process, rather than wait an unknown time behind it (a sweep should give each
task its own --out).
"""

import shutil
import tempfile
from pathlib import Path

from flow import stop_signals
from flow.build_lock import build_lock, swap_into
from flow.config import BuildConfig
from flow.errors import FlowError
from flow.steps.estimate import step_estimate, step_load_program
from flow.steps.export import step_export
from flow.steps.hls import check_accelerator_widths, step_csim, step_generate_hls
from flow.steps.hls4ml import step_hls4ml, step_hls4ml_scope
from flow.steps.lower import step_load_qonnx, step_lower
from flow.steps.cached import step_front
from flow.steps.model import step_build_model
from flow.steps.quantize import step_load_quantized, step_quantize
from flow.steps.report import step_report
from flow.steps.state import BuildState


def build_steps(cfg: BuildConfig) -> list:
    """The steps of `flow build` for ``cfg``'s backend. Quantize, export and lower (with the block cut
    when ``cfg.block`` is set) run as one step through the stage cache (flow/steps/cached.py)."""
    front = [step_build_model] + ([step_hls4ml_scope] if cfg.backend == "hls4ml" else []) + [step_front]
    back = [step_hls4ml] if cfg.backend == "hls4ml" else [step_estimate, step_generate_hls, step_csim]
    return front + back + [step_report]  # report.html last: it reads what every step wrote

QUANTIZE_STEPS = [step_build_model, step_quantize]
EXPORT_STEPS = [step_load_quantized, step_export]
LOWER_STEPS = [step_load_qonnx, step_lower]
ESTIMATE_STEPS = [step_load_program, step_estimate]


def run_build(cfg: BuildConfig, steps=None) -> Path:
    """Run ``steps`` (default: build_steps(cfg)) in order; return the output folder, complete, or raise with nothing left behind."""
    steps = steps or build_steps(cfg)
    if step_generate_hls in steps:
        check_accelerator_widths(cfg)
    out = cfg.output_dir()
    if out.exists() and not out.is_dir():
        raise FlowError(f"output path '{out}' exists and is not a folder")
    created = _first_missing_ancestor(out)  # removed again if this build fails
    out.parent.mkdir(parents=True, exist_ok=True)
    # refused here when another build holds --out: then nothing is removed, not even a folder this build
    # found missing, which the other build may have made at the same moment and be writing in
    with build_lock(out):
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            st = BuildState(cfg=cfg, staging=staging)
            for step in steps:
                stop_signals.check()  # a stop signal a library swallowed still stops the build here
                step(st)
            stop_signals.check()
            swap_into(staging, out)
        except BaseException:
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # the build's partial output, or the old --out
    return out


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None if ``path``'s parent exists)."""
    missing = None
    for p in [path.parent, *path.parent.parents]:
        if p.exists():
            break
        missing = p
    return missing
