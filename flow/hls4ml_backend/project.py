"""The integer program through hls4ml: scope check, ModelGraph for a part, compile() and predict().

The project hls4ml writes uses io_type "io_parallel", strategy "Latency", pipeline style "dataflow", and
why: each program layer is one hls4ml layer whose function runs a vitflow engine over its own local
activation memory (hls_templates/hls4ml/vitflow_hls4ml.h); the engines' loops are pipelined at their II
inside that function, so the layers need array (not stream) interfaces between them (io_parallel; the
arrays stay in BRAM, VitflowArraysInMemory), no hls4ml reuse-factor folding of their own (Latency: our
layers ignore the strategy, and hls4ml's own layers do not appear), and must overlap as processes
(dataflow: a pipelined top would try to unroll every engine's loops). Each layer function's memory is a
plain local, so no state is shared between the dataflow processes.

hls4ml's dataflow keeps every weight on chip, so a program whose weights, parameters and activation
buffers exceed ON_CHIP_LIMIT of the part's BRAM + URAM is out of scope here (the default backend streams
weights from DDR). predict() takes and returns integer codes: every hls4ml type is an exact integer type.
"""

import contextlib
import math
import time
from pathlib import Path

import numpy as np

from flow.errors import FlowError
from flow.hls.project import HwConfig
from flow.lower.program import Program

from .extension import register
from .program_onnx import ProgramGraph, program_to_onnx

PROJECT = "vitflow_net"
BACKEND = "Vitis"
ON_CHIP_LIMIT = 0.8


def on_chip_bytes(part) -> int:
    """BRAM18 (18 Kib) plus URAM (288 Kib) of the part, in bytes."""
    return part.resources["bram18"] * 18 * 1024 // 8 + part.resources["uram"] * 288 * 1024 // 8


def memory_bytes(graph: ProgramGraph) -> dict:
    """On-chip bytes of the hls4ml design: the weight variables (d, w, s), hls4ml's arrays of the program
    tensors (ap_int<bits>) and each layer's own activation memory (words of L bytes)."""
    import onnx

    from .extension import HW_FIELDS

    weights, arena = 0, 0
    for node in graph.model.graph.node:
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        weights += 4 * len(a["desc"]) + len(a["weights"].raw_data) + len(a["slots"].raw_data)
        arena += a["act_words"] * a["hw"][HW_FIELDS.index("lanes")]
    g = graph.model.graph
    tensors = sum(math.ceil(vi.type.tensor_type.shape.dim[1].dim_value * graph.tensor_bits[vi.name] / 8)
                  for vi in list(g.input) + list(g.value_info) + list(g.output))
    return {"weights": weights, "tensors": tensors, "layer_memories": arena, "total": weights + tensors + arena}


def check_fits(graph: ProgramGraph, part, model_name: str) -> dict:
    mem = memory_bytes(graph)
    budget = ON_CHIP_LIMIT * on_chip_bytes(part)
    if mem["total"] > budget:
        raise FlowError(f"{model_name} does not fit hls4ml's on-chip dataflow on {part.name}: it needs "
                        f"{mem['total'] / 1e6:.2f} MB on chip ({mem['weights'] / 1e6:.2f} MB weights and parameters) "
                        f"of {budget / 1e6:.2f} MB ({100 * ON_CHIP_LIMIT:.0f}% of BRAM+URAM); use the default backend "
                        f"(--backend vitflow), which streams weights from DDR")
    return mem


def _hls_config(program: Program, graph: ProgramGraph) -> dict:
    layers = {}
    for t in program.inputs:
        info = program.tensors[t]
        layers[graph.tensor_names[t]] = {"Precision": f"ap_{'' if info.signed else 'u'}int<{info.bits}>"}
    for name in graph.layer_names.values():
        layers[name] = {"Trace": True}
    # dataflow between the layers: each runs its engine's loops (a pipelined top would unroll them all)
    return {"Model": {"Precision": "ap_int<16>", "ReuseFactor": 1, "Strategy": "Latency", "PipelineStyle": "dataflow"},
            "LayerName": layers}


@contextlib.contextmanager
def _log_to(folder: Path):
    """hls4ml's progress prints go to folder/hls4ml.log, not the terminal."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "hls4ml.log", "a") as log, contextlib.redirect_stdout(log):
        yield


def convert(program: Program, out_dir: Path, part, clock_mhz: float, hw: HwConfig, tb: tuple | None = None):
    """hls4ml ModelGraph of ``program`` for ``part``, to be written to ``out_dir``. ``tb`` (input codes,
    output codes), when given, becomes the data of hls4ml's own testbench (its Vitis csim and cosim)."""
    import hls4ml

    out_dir = Path(out_dir)
    register(BACKEND)
    graph = program_to_onnx(program, hw)
    memory = check_fits(graph, part, program.model)
    kwargs = {}
    if tb is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for key, name, data in (("input_data_tb", "tb_input_codes.npy", tb[0]),
                                ("output_data_tb", "tb_output_codes.npy", tb[1])):
            np.save(out_dir / name, np.asarray(data, dtype=np.float32).reshape(len(data), -1))
            kwargs[key] = str(out_dir / name)
    with _log_to(out_dir):
        model = hls4ml.converters.convert_from_onnx_model(
            graph.model, output_dir=str(out_dir), project_name=PROJECT, backend=BACKEND, part=part.part,
            clock_period=round(1000.0 / clock_mhz, 3), io_type="io_parallel", hls_config=_hls_config(program, graph),
            **kwargs)
    model.vitflow_graph, model.vitflow_memory = graph, memory
    return model


def compile_model(model) -> float:
    """hls4ml's compile(): write the project and build its C-simulation library; returns seconds."""
    t0 = time.perf_counter()
    try:
        with _log_to(Path(model.config.get_output_dir())):
            model.compile()
    except Exception as exc:
        raise FlowError(f"hls4ml compile() failed: {exc} (see {model.config.get_output_dir()}/hls4ml.log)")
    return time.perf_counter() - t0


def predict_codes(model, program: Program, inputs: list, trace: bool = False):
    """hls4ml's predict() (or, with ``trace``, trace()) on integer codes, one array (images x elements) per
    program input. Returns the output codes (an array; a list of arrays when the program has several
    outputs) and, traced, every layer's output codes by program tensor."""
    xs = [np.ascontiguousarray(np.asarray(a).reshape(len(a), -1), dtype=np.float32) for a in inputs]
    n = len(xs[0])

    def codes(v):
        return np.rint(np.asarray(v)).astype(np.int64).reshape(n, -1)

    def outputs(y):
        return codes(y) if len(program.outputs) == 1 else [codes(v) for v in y]

    x = xs[0] if len(xs) == 1 else xs
    with _log_to(Path(model.config.get_output_dir())):
        if not trace:
            return outputs(model.predict(x)), None
        y, tr = model.trace(x)
    tensor_of = {hls: program.layer(name).outputs[0] for name, hls in model.vitflow_graph.layer_names.items()}
    return outputs(y), {tensor_of[name]: codes(v) for name, v in tr.items() if name in tensor_of}


def compare_with_reference(model, program: Program, envs: list, inputs: list) -> dict:
    """Every layer's hls4ml output (traced) against the integer reference environments ``envs`` (one per
    image) on ``inputs`` (as for predict_codes); the traced codes are in the result too."""
    _, traced = predict_codes(model, program, inputs, trace=True)
    first = None
    exact = 0
    for layer in program.layers:
        t = layer.outputs[0]
        ref = np.stack([np.asarray(env[t]).reshape(-1) for env in envs]).astype(np.int64)
        got = traced.get(t)
        if got is None or got.shape != ref.shape:
            raise FlowError(f"hls4ml traced no output of shape {ref.shape} for layer {layer.name}")
        if np.array_equal(ref, got):
            exact += 1
        elif first is None:
            img, idx = np.argwhere(ref != got)[0]
            first = {"layer": layer.name, "image": int(img), "index": int(idx), "hls4ml": int(got[img, idx]),
                     "reference": int(ref[img, idx])}
    return {"layers": len(program.layers), "layers_exact": exact, "bit_exact": first is None,
            "first_mismatch": first, "images": len(envs), "traced": traced}
