"""A sweep's grid: a YAML file naming the task and the values of each axis; its cells are the product.

    task: estimate           # build (the whole flow, C-simulation included) | estimate (quantize, export,
                             # lower, estimate) | accuracy (quantize and evaluate: no part)
    models: [efficientvit_b0]
    resolution: 64           # one value, or a list
    bits: [w8a8, w6a6]
    recipes:                 # name -> `quantization:` settings (default: one recipe, "default", {})
      default: {}
      naive: {act_calibrator: minmax, weight_calibrator: minmax, bias_correction: false}
    parts: [xczu9eg, xck26]  # ignored by accuracy tasks
    weights: ckpt.pt         # optional float checkpoint, for every cell
    calib: 16                # calibration images (default: the quantization settings' 64)
    eval_images: 200         # Fashion-MNIST test images each cell's quantized model is evaluated on
                             # (0: none; accuracy tasks need some; "all": the 10,000)
    clock: 200               # optional, MHz
"""

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flow.errors import FlowError

TASKS = ("build", "estimate", "accuracy")
KEYS = ("task", "models", "resolution", "bits", "recipes", "parts", "weights", "calib", "eval_images", "clock")


@dataclass(frozen=True)
class Cell:
    task: str
    model: str
    resolution: int
    bits: str
    recipe: str
    part: str | None               # None for accuracy tasks
    quantization: dict = field(default_factory=dict)
    weights: str | None = None
    calib: int | None = None
    calib_seed: int = 0            # accuracy tasks: which calibration images (builds use the flow's, seed 0)
    eval_images: int | None = 0    # None: the whole test split
    eval_seed: int | None = 0
    clock: float | None = None

    @property
    def id(self) -> str:
        part = f"_{self.part}" if self.part else ""
        name = f"{self.model}_r{self.resolution}_{self.bits}_{self.recipe}{part}"
        return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9._-]", "-", name)).strip("-")  # a folder name

    def settings(self) -> dict:
        return asdict(self)

    def front(self) -> tuple:
        """What the cell's quantize, export and lower depend on: cells alike here share stage-cache entries."""
        return (self.model, self.resolution, self.bits, repr(sorted(self.quantization.items())), self.weights,
                self.calib)


def _as_list(grid: dict, key: str, path: Path, default=None) -> list:
    value = grid.get(key, default)
    values = value if isinstance(value, list) else [value]
    if not values or any(v is None for v in values):
        raise FlowError(f"sweep grid '{path}': '{key}' needs at least one value")
    return values


def load_grid(path) -> list:
    """The cells of the grid file at ``path``, each checked as `flow build` checks its options."""
    from flow.config import make_config, read_yaml

    path = Path(path)
    grid = read_yaml(path, "sweep grid")
    if not isinstance(grid, dict):
        raise FlowError(f"sweep grid '{path}' must be a mapping of axis: values")
    unknown = sorted(set(map(str, grid)) - set(KEYS))
    if unknown:
        raise FlowError(f"sweep grid '{path}': unknown key '{unknown[0]}'; valid keys: {', '.join(KEYS)}")
    task = grid.get("task", "estimate")
    if task not in TASKS:
        raise FlowError(f"sweep grid '{path}': unknown task '{task}'; valid tasks: {', '.join(TASKS)}")
    recipes = grid.get("recipes", {"default": {}})
    if not isinstance(recipes, dict) or not recipes or not all(isinstance(v, dict) for v in recipes.values()):
        raise FlowError(f"sweep grid '{path}': recipes must map each recipe's name to its quantization settings")
    eval_images = grid.get("eval_images", 200 if task == "accuracy" else 0)
    if eval_images == "all":
        eval_images = None
    elif isinstance(eval_images, bool) or not isinstance(eval_images, int) or eval_images < 0 or (task == "accuracy" and eval_images == 0):
        raise FlowError(f"sweep grid '{path}': eval_images must be a count of test images or 'all'"
                        + (" (an accuracy task needs some)" if task == "accuracy" else ""))
    parts = [None] if task == "accuracy" else _as_list(grid, "parts", path, ["xczu9eg"])
    for key, kinds, what in (("calib", (int,), "a count of images"), ("clock", (int, float), "a number of MHz"),
                             ("weights", (str,), "a file name")):
        value = grid.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise FlowError(f"sweep grid '{path}': {key} must be {what}, got {value!r}")
    weights = grid.get("weights")
    if weights is not None:
        if not Path(weights).is_file():
            raise FlowError(f"sweep grid '{path}': weights '{weights}' does not exist or is not a file")
        weights = str(Path(weights).resolve())  # the workers' path: absolute
    cells = []
    for model in _as_list(grid, "models", path, ["efficientvit_b1"]):
        for res in _as_list(grid, "resolution", path, [224]):
            for bits in _as_list(grid, "bits", path, ["w8a8"]):
                for recipe, settings in recipes.items():
                    for part in parts:
                        cell = Cell(task=task, model=str(model), resolution=res, bits=str(bits).lower(),
                                    recipe=str(recipe), part=part, quantization=dict(settings),
                                    weights=weights, calib=grid.get("calib"), eval_images=eval_images,
                                    clock=grid.get("clock"))
                        try:
                            make_config(model=cell.model, resolution=cell.resolution, bits=cell.bits,
                                        part=cell.part or "xczu9eg", quantization=cell.quantization or None,
                                        calib=cell.calib, clock=cell.clock)
                        except FlowError as exc:
                            raise FlowError(f"sweep grid '{path}', cell {cell.id}: {exc}") from None
                        cells.append(cell)
    try:
        check_unique(cells)
    except FlowError as exc:
        raise FlowError(f"sweep grid '{path}': {exc}") from None
    return cells


def check_unique(cells: list) -> None:
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise FlowError(f"two cells share the name {next(i for i in ids if ids.count(i) > 1)} (recipe names "
                        f"that differ only in punctuation?)")
