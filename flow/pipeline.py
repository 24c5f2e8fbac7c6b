"""`flow build`: a list of plain step functions, each taking the build state to the next artifact and
checking what it made before the next step runs (the shape of FINN's builder).

Steps that later issues deliver raise StageNotBuilt, so a build stops there plainly instead of
pretending. Output is written into a staging folder that only replaces ``--out`` when every step
succeeded; on any error it is removed, so nothing half-written is left behind.
"""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from flow.config import BuildConfig
from flow.errors import FlowError
from flow.progress import say


class StageNotBuilt(FlowError):
    """A pipeline stage that is not implemented yet (exit status 3, not an input error)."""

    def __init__(self, stage: str, issue: int):
        super().__init__(f"stage '{stage}' is not built yet (tracked in issue #{issue}); stopping here, nothing was written")
        self.stage = stage


@dataclass
class BuildState:
    cfg: BuildConfig
    staging: Path
    float_model: torch.nn.Module | None = None
    artifacts: dict = field(default_factory=dict)


def build_float_model(cfg: BuildConfig):
    """The float EfficientViT for ``cfg``, with ``cfg.weights`` loaded when given."""
    from flow.models import QuantScheme, build_model, load_checkpoint
    from flow.models.checkpoint import read_state_dict, infer_num_classes

    state = read_state_dict(cfg.weights) if cfg.weights else None
    num_classes = infer_num_classes(state) if state is not None else 1000
    model = build_model(cfg.model, num_classes=num_classes, resolution=cfg.resolution,
                        quant=QuantScheme.float_reference())
    if state is not None:
        layout = load_checkpoint(model, state)
        say("model", f"loaded {layout}-layout checkpoint {cfg.weights}")
    return model.eval()


def step_build_model(st: BuildState) -> None:
    from flow.models import count_complexity

    say("model", f"building {st.cfg.model} at {st.cfg.resolution}x{st.cfg.resolution}")
    model = build_float_model(st.cfg)
    cx = count_complexity(model)
    with torch.no_grad():
        y = model(torch.zeros(1, model.in_chans, st.cfg.resolution, st.cfg.resolution))
    if tuple(y.shape) != (1, model.num_classes) or not torch.isfinite(y).all():
        raise FlowError(f"model check failed: output {tuple(y.shape)} (finite={bool(torch.isfinite(y).all())})")
    say("model", f"{cx.params / 1e6:.2f} M parameters, {cx.macs / 1e9:.3f} GMACs, {model.num_classes} classes")
    st.float_model = model


def step_quantize(st: BuildState) -> None:
    raise StageNotBuilt("quantize", 3)


def step_export(st: BuildState) -> None:
    raise StageNotBuilt("export", 3)


def step_lower(st: BuildState) -> None:
    raise StageNotBuilt("lower", 4)


def step_generate_hls(st: BuildState) -> None:
    raise StageNotBuilt("generate-hls", 5)


def step_csim(st: BuildState) -> None:
    raise StageNotBuilt("csim", 5)


def step_estimate(st: BuildState) -> None:
    raise StageNotBuilt("estimate", 6)


BUILD_STEPS = [step_build_model, step_quantize, step_export, step_lower, step_generate_hls, step_csim, step_estimate]


def run_build(cfg: BuildConfig, steps=BUILD_STEPS) -> Path:
    """Run ``steps`` in order; return the output folder, complete, or raise with nothing left behind."""
    out = cfg.output_dir()
    if out.exists() and not out.is_dir():
        raise FlowError(f"output path '{out}' exists and is not a folder")
    staging = out.parent / f".{out.name}.partial"
    created = _first_missing_ancestor(staging)  # removed again on failure, with the staging folder
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        st = BuildState(cfg=cfg, staging=staging)
        for step in steps:
            step(st)
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(created or staging, ignore_errors=True)
        raise
    return out


def _first_missing_ancestor(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None if ``path``'s parent exists)."""
    missing = None
    for p in [path.parent, *path.parent.parents]:
        if p.exists():
            break
        missing = p
    return missing
