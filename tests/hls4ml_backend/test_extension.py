"""Each vitflow layer kind through hls4ml's compile()/predict(): one hls4ml model holding a random layer of
every kind side by side (one compile for all), traced, every layer's output equal to the integer reference
on random inputs, and the network outputs from predict() equal too."""

import numpy as np
import pytest

from flow.estimate.fit import fitted_config
from flow.hls4ml_backend.extension import ENGINES
from flow.hls4ml_backend.program_onnx import OP_TYPES
from flow.hls4ml_backend.project import compare_with_reference, convert, predict_codes
from flow.lower.program import Layer, Program
from flow.parts import get_part
from flow.reference import run_program

from ..hls.random_programs import MAKERS, random_program

IMAGES = 3


def side_by_side(rng) -> Program:
    """One program with an independent random layer of every kind (inputs and outputs of each), plus a
    hardswish with one table row per channel (the Trio-ViT forms), named "rows", and a LayerNorm whose
    input channels are shifted (TSPTQ's outlier-aware two scales), named "shifted"."""
    tensors, layers, inputs, outputs = {}, [], [], []
    plain = {"hardswish": {"per_channel": False}, "layernorm": {"in_shift": False}}
    units = [(kind, kind, plain.get(kind, {})) for kind in MAKERS]
    for tag, kind, options in units + [("rows", "hardswish", {"per_channel": True}),
                                       ("shifted", "layernorm", {"in_shift": True})]:
        p = random_program(kind, rng, **options)
        name = {t: f"{tag}_{t}" for t in p.tensors}
        tensors.update({name[t]: info for t, info in p.tensors.items()})
        for l in p.layers:
            layers.append(Layer(f"{tag}_{l.name}", l.kind, [name[t] for t in l.inputs], [name[t] for t in l.outputs],
                                l.attrs, l.blobs, l.ranges))
        inputs += [name[t] for t in p.inputs]
        outputs += [name[t] for t in p.outputs]
    program = Program("side_by_side", inputs, outputs, tensors, layers)
    program.check()
    return program


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    rng = np.random.default_rng(7)
    program = side_by_side(rng)
    inputs = [rng.integers(*program.tensors[t].range, size=(IMAGES, *program.tensors[t].shape), endpoint=True)
              for t in program.inputs]
    envs = [run_program(program, {t: x[i] for t, x in zip(program.inputs, inputs)}, dump_internal=False)
            for i in range(IMAGES)]
    model = convert(program, tmp_path_factory.mktemp("hls4ml") / "prj", get_part("xczu9eg"), 200,
                    fitted_config(program, att_rows=4))
    result = compare_with_reference(model, program, envs, inputs)  # trace() compiles the model
    return program, model, inputs, envs, result


def _assert_traced_equals_reference(layer, result, envs):
    got = result["traced"][layer.outputs[0]]
    ref = np.stack([env[layer.outputs[0]].reshape(-1) for env in envs])
    assert got.shape == ref.shape and np.array_equal(got, ref)


def test_every_kind_has_an_extension_layer():
    assert set(OP_TYPES) == set(MAKERS)
    assert set(ENGINES) == set(OP_TYPES.values())


@pytest.mark.parametrize("kind", list(MAKERS))
def test_layer_bit_exact_through_hls4ml(kind, traced):
    program, model, inputs, envs, result = traced
    assert result["images"] == IMAGES
    assert result["layers"] == len(MAKERS) + 2
    _assert_traced_equals_reference(next(l for l in program.layers if l.kind == kind), result, envs)


def test_per_channel_table_bit_exact_through_hls4ml(traced):
    program, model, inputs, envs, result = traced
    layer = next(l for l in program.layers if l.name == "rows_hardswish0")
    assert layer.attrs["rows"] > 1 and layer.blobs["table"].ndim == 2
    _assert_traced_equals_reference(layer, result, envs)


def test_shifted_layernorm_input_bit_exact_through_hls4ml(traced):
    program, model, inputs, envs, result = traced
    layer = next(l for l in program.layers if l.name == "shifted_layernorm0")
    assert layer.blobs["in_shift"].any()
    _assert_traced_equals_reference(layer, result, envs)


def test_predict_outputs_equal_reference(traced):
    program, model, inputs, envs, _ = traced
    outs, _ = predict_codes(model, program, inputs)
    for t, got in zip(program.outputs, outs):
        ref = np.stack([env[t].reshape(-1) for env in envs])
        assert np.array_equal(got, ref), t
