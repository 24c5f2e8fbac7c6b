"""Run an integer Program layer by layer."""

import numpy as np

from flow.errors import FlowError
from flow.lower.program import Program

from .kernels import KERNELS as _BASE_KERNELS
from .transformer_kernels import TRANSFORMER_KERNELS

KERNELS = {**_BASE_KERNELS, **TRANSFORMER_KERNELS}


def run_program(program: Program, inputs: dict, forced: dict | None = None, dump_internal: bool = True) -> dict:
    """Execute ``program`` on integer ``inputs`` (tensor name -> codes, batch dropped).

    Returns every tensor by name: program tensors, and each layer's internal tensors under the QONNX
    names its ``dumps`` map gives (e.g. linear attention's q, k, kv, ...). With ``forced`` (tensor name ->
    codes), each layer reads its inputs from ``forced`` where present instead of from the previous layer
    (teacher forcing: every layer judged on the same inputs as another executor's); a layer's internal
    stages (the attention's q, k, kv, ...) are forced too when ``forced`` has their dump names.
    """
    env = {}
    for name in program.inputs:
        if name not in inputs:
            raise FlowError(f"missing program input '{name}'")
        x = np.asarray(inputs[name])
        info = program.tensors[name]
        if tuple(x.shape) != tuple(info.shape):
            raise FlowError(f"input '{name}' has shape {tuple(x.shape)}, the program expects {tuple(info.shape)}")
        lo, hi = info.range
        if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < lo or x.max() > hi)):
            raise FlowError(f"input '{name}' must be integer codes in [{lo}, {hi}]")
        env[name] = x.astype(np.int64)
    for layer in program.layers:
        args = [forced[t] if forced is not None and t in forced else env[t] for t in layer.inputs]
        kernel = KERNELS[layer.kind]
        if layer.kind == "linear_attention" and forced is not None:
            given = {role: forced[q] for role, q in layer.dumps.items() if q in forced}
            outs, internal = kernel(layer, *args, program.tensors[layer.outputs[0]], given=given)
        else:
            outs, internal = kernel(layer, *args, program.tensors[layer.outputs[0]])
        for name, arr in zip(layer.outputs, outs):
            info = program.tensors[name]
            if tuple(arr.shape) != tuple(info.shape):
                raise FlowError(f"{layer.name} produced {tuple(arr.shape)} for '{name}', expected {tuple(info.shape)}")
            env[name] = arr
        if dump_internal:
            for role, qname in layer.dumps.items():
                env[qname] = internal[role]
    return env


def save_dump(env: dict, path) -> None:
    """Write every tensor of a run_program result to an .npz file (each in the smallest integer type
    holding it; names as in the program and in the layers' dumps)."""
    def smallest(a):
        a = np.asarray(a)
        for t in (np.int8, np.uint8, np.int16, np.int32, np.int64):
            info = np.iinfo(t)
            if a.size == 0 or (a.min() >= info.min and a.max() <= info.max):
                return a.astype(t)
        return a
    np.savez_compressed(path, **{name: smallest(a) for name, a in env.items()})
