"""Reading a sweep's grid: the product of its axes, each cell checked like `flow build`'s options."""

import pytest

from flow.errors import FlowError
from flow.sweep.grid import Cell, load_grid


def _grid(tmp_path, text):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_cells_are_the_product_of_the_axes(tmp_path):
    cells = load_grid(_grid(tmp_path, """
task: estimate
models: [efficientvit_b0]
resolution: 64
bits: [w8a8, W6A6]
recipes: {default: {}, naive: {act_calibrator: minmax, bias_correction: false}}
parts: [xczu9eg, xck26]
calib: 16
eval_images: 50
"""))
    assert len(cells) == 8
    assert cells[0] == Cell(task="estimate", model="efficientvit_b0", resolution=64, bits="w8a8", recipe="default",
                            part="xczu9eg", quantization={}, calib=16, eval_images=50)
    assert [c.id for c in cells[:3]] == ["efficientvit_b0_r64_w8a8_default_xczu9eg", "efficientvit_b0_r64_w8a8_default_xck26",
                                         "efficientvit_b0_r64_w8a8_naive_xczu9eg"]
    assert cells[2].quantization == {"act_calibrator": "minmax", "bias_correction": False}
    assert cells[0].front() == cells[1].front() != cells[2].front()  # parts share quantize, export, lower


def test_accuracy_tasks_have_no_part_and_evaluate(tmp_path):
    cells = load_grid(_grid(tmp_path, "task: accuracy\nmodels: [efficientvit_b0]\nresolution: 64\nparts: [xck26]\n"))
    assert [(c.part, c.eval_images, c.id) for c in cells] == [(None, 200, "efficientvit_b0_r64_w8a8_default")]
    assert load_grid(_grid(tmp_path, "task: accuracy\nresolution: 64\neval_images: all\n"))[0].eval_images is None


def test_recipe_names_become_folder_names():
    cell = Cell(task="accuracy", model="m", resolution=64, bits="w8a8", recipe="block reconstruction, 5 (Trio/ViT)",
                part=None)
    assert cell.id == "m_r64_w8a8_block-reconstruction-5-Trio-ViT"


@pytest.mark.parametrize("text, message", [
    ("task: synth\n", "unknown task 'synth'; valid tasks: build, estimate, accuracy"),
    ("model: [efficientvit_b0]\n", "unknown key 'model'; valid keys: task, models,"),
    ("models: [efficientvit_b9]\n", "cell efficientvit_b9_r224_w8a8_default_xczu9eg: unknown model 'efficientvit_b9'"),
    ("bits: [w8a8, w9]\n", "bit widths 'w9' are not of the form wNaM"),
    ("parts: [xc9z999]\n", "unknown part 'xc9z999'"),
    ("recipes: {a: {no_such_setting: 1}}\n", "no_such_setting"),
    ("recipes: [a, b]\n", "recipes must map each recipe's name to its quantization settings"),
    ("task: accuracy\neval_images: 0\n", "eval_images must be a count of test images or 'all' (an accuracy task needs some)"),
    ("bits: []\n", "'bits' needs at least one value"),
    ("recipes: {'a b': {}, 'a/b': {}}\n", "two cells share the name efficientvit_b1_r224_w8a8_a-b_xczu9eg"),
    ("weights: /no/such.pt\n", "weights '/no/such.pt' does not exist"),
    ("[1, 2]\n", "must be a mapping of axis: values"),
    ("a: [\n", "is not valid YAML"),
    ("calib: '16'\n", "calib must be a count of images, got '16'"),
    ("clock: fast\n", "clock must be a number of MHz, got 'fast'"),
    ("weights: 5\n", "weights must be a file name, got 5"),
    ("eval_images: true\n", "eval_images must be a count of test images or 'all'"),
])
def test_bad_grids_name_the_problem(tmp_path, text, message):
    with pytest.raises(FlowError, match=None) as err:
        load_grid(_grid(tmp_path, text))
    assert message in str(err.value), str(err.value)
    assert str(err.value).startswith("sweep grid '")
