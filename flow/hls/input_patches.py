"""The first convolution on the input's patches.

A network's first layer is a k x k convolution on a 3-channel image: the PE array would see 3 of its input
lanes busy and run k x k steps per pixel, and the image would fill a word per pixel. The accelerator gets
the image's patches instead: for each output pixel the k x k x C input codes it reads (zero outside the
image, as the convolution pads), as the channels of a 1 x 1 convolution with the same weights reordered.
The sums are the same integers, so the layer's output is bit-exact; the host (the testbench data here,
the board's driver there) forms the patches from the image's codes.
"""

from dataclasses import replace

import numpy as np

from flow.lower.program import Layer, Program

MAX_PATCH = 64  # patch channels (C x k x k) up to which the first convolution runs on patches


def patch_spec(program: Program) -> dict | None:
    """What to patch: the first layer, when it is a k x k (k > 1) ungrouped convolution reading a program
    input that nothing else reads, with C x k x k <= MAX_PATCH or its windows not overlapping (stride k, no
    padding: a vision transformer's patch embedding, whose patches are the image's codes rearranged, no
    larger than the image); None otherwise."""
    layer = program.layers[0] if program.layers else None
    if layer is None or layer.kind != "conv" or layer.inputs[0] not in program.inputs:
        return None
    a = layer.attrs
    kh, kw = a["kernel"]
    cin = a["in_channels"]
    readers = [l for l in program.layers if layer.inputs[0] in l.inputs]
    tiling = list(a["stride"]) == [kh, kw] and not any(a["pad"])
    if a["groups"] != 1 or kh * kw == 1 or (cin * kh * kw > MAX_PATCH and not tiling) or len(readers) != 1:
        return None
    return {"input": layer.inputs[0], "patches": layer.inputs[0] + ":patches", "kernel": [kh, kw],
            "stride": list(a["stride"]), "pad": list(a["pad"]), "channels": cin, "out_hw": list(a["out_shape"][1:])}


def patches(x: np.ndarray, spec: dict) -> np.ndarray:
    """(C k k, H_out, W_out) codes: channel (ki k + kj) C + c of pixel (i, j) is x[c, i s - p + ki, j s - p + kj],
    0 outside the image."""
    (kh, kw), (sh, sw), (pt, pl, pb, pr) = spec["kernel"], spec["stride"], spec["pad"]
    x = np.asarray(x, dtype=np.int64)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr)))
    ho, wo = spec["out_hw"]
    out = np.empty((kh * kw * x.shape[0], ho, wo), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            k = (i * kw + j) * x.shape[0]
            out[k:k + x.shape[0]] = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
    return out


def on_patches(program: Program) -> tuple:
    """(program the accelerator runs, patch spec or None): the first convolution as a 1 x 1 convolution on
    the input's patches when patch_spec applies, else the program itself."""
    spec = patch_spec(program)
    if spec is None:
        return program, None
    layer = program.layers[0]
    w = np.asarray(layer.blobs["weight"])
    cout, cin, kh, kw = w.shape
    w1 = w.transpose(0, 2, 3, 1).reshape(cout, kh * kw * cin, 1, 1)  # channel (ki kw + kj) C + c
    ho, wo = spec["out_hw"]
    a = dict(layer.attrs, in_channels=kh * kw * cin, kernel=[1, 1], stride=[1, 1], pad=[0, 0, 0, 0],
             in_shape=[kh * kw * cin, ho, wo])
    first = Layer(layer.name, "conv", [spec["patches"]], list(layer.outputs), a, dict(layer.blobs, weight=w1),
                  layer.ranges, layer.source, layer.dumps)
    info = program.tensors[spec["input"]]
    tensors = {spec["patches"]: replace(info, shape=(kh * kw * cin, ho, wo))}
    tensors.update({t: i for t, i in program.tensors.items() if t != spec["input"]})
    inputs = [spec["patches"] if t == spec["input"] else t for t in program.inputs]
    return Program(program.model, inputs, list(program.outputs), tensors, [first] + program.layers[1:],
                   program.meta), spec


def with_patches(env: dict, spec: dict | None) -> dict:
    """A reference run's tensors with the patches the accelerator reads."""
    if spec is None:
        return env
    return {**env, spec["patches"]: patches(env[spec["input"]], spec)}

