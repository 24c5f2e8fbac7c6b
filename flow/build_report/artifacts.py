"""The build's artifacts as the report reads them: each JSON file parsed, or None when the build did not
write it (another backend, an earlier failure) or it cannot be read (then the reason is kept)."""

import json
from dataclasses import dataclass, field
from pathlib import Path

FILES = {
    "quant": "quant_report.json",          # flow/quantize/report.py
    "export": "export_check.json",         # flow/export/check.py: check_qonnx
    "lower": "lower_check.json",           # flow/reference/compare.py: check_against_qonnx
    "estimate": "estimate/estimate.json",  # flow/estimate/report.py
    "csim": "csim_report.json",            # flow/steps/hls.py: step_csim
    "hls4ml": "hls4ml_report.json",        # flow/steps/hls4ml.py: step_hls4ml
}
ROOFLINE = "estimate/roofline.png"


@dataclass
class Artifacts:
    data: dict                                    # key of FILES -> parsed JSON, or None
    problems: dict = field(default_factory=dict)  # key -> why a present file could not be read
    roofline: bytes | None = None                 # estimate/roofline.png

    def __getitem__(self, key):
        return self.data.get(key)


def load_artifacts(out_dir: Path) -> Artifacts:
    """Read every file of FILES and the roofline PNG under ``out_dir``."""
    out_dir = Path(out_dir)
    data, problems = {}, {}
    for key, rel in FILES.items():
        path = out_dir / rel
        data[key] = None
        if path.is_file():
            try:
                data[key] = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                problems[key] = f"{rel} cannot be read: {type(exc).__name__}: {exc}"
    roof = out_dir / ROOFLINE
    return Artifacts(data, problems, roof.read_bytes() if roof.is_file() else None)


def absent_reason(key: str, arts: Artifacts, cfg) -> str:
    """One line saying why the artifact ``key`` is not in the report."""
    rel = FILES.get(key, ROOFLINE if key == "roofline" else key)
    if key in arts.problems:
        return arts.problems[key]
    backend = getattr(cfg, "backend", "vitflow")
    if key in ("estimate", "csim", "roofline") and backend == "hls4ml":
        return f"No {rel}: the hls4ml backend (--backend hls4ml) runs no cycle estimate or C-simulation of its own."
    if key == "hls4ml" and backend != "hls4ml":
        return f"No {rel}: only --backend hls4ml writes it."
    return f"No {rel} in this build's output: the build did not write it."
