"""The integer reference against QONNX execution, tensor by tensor.

For each image the QONNX graph is executed (by qonnx's executor, or as one onnxruntime session checked
against it: flow.reference.ort_qonnx; every intermediate kept) and the program by run_program, on the
input codes the graph's own input Quant produced. Every activation Quant of the
graph is compared, as integer codes (value / scale), with the reference tensor of the same name: the
program's tensors and the layers' internal dumps (e.g. the attention's q, k, kv, ksum, num, den, att).

- free-running: the reference runs on its own outputs from the input on;
- teacher-forced: each layer reads the QONNX codes of its inputs, so a 1-LSB flip (free scales) is
  judged where it happens instead of being propagated.

With an ``arbiter`` (flow.reference.arbitrate.Arbiter), every differing element is judged against the exact
value of the graph, computed from the same inputs: teacher-forced, every differing tensor; free-running,
the first tensor of each image that differs (where the two executions part, on identical inputs).
"""

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from flow.errors import FlowError
from flow.lower.graph import GraphView
from flow.lower.program import Program
from flow.progress import progress

from .executor import run_program


def activation_quants(path) -> dict:
    """{output name: QuantSpec} of the activation Quant nodes of a QONNX file. A two-scale quantizer
    (flow.lower.graph.TwoScaleSpec) counts as one, its Where output, with codes at its fine scale; its two
    inner Quants are not compared on their own."""
    import onnx

    view = GraphView(onnx.load(str(path)))
    return {node.output[0]: spec for node, spec in view.quantized_outputs()}


class QonnxRunner:
    """Executes a QONNX file with qonnx's executor (every intermediate tensor kept)."""

    def __init__(self, path):
        self.model = ModelWrapper(str(path))
        self.input = self.model.graph.input[0].name
        self.quants = activation_quants(path)

    def run(self, image: np.ndarray) -> dict:
        return execute_onnx(self.model, {self.input: image[None].astype(np.float32)}, return_full_exec_context=True)

    @staticmethod
    def codes(ctx: dict, name: str, scale, zero_point=0) -> np.ndarray:
        """Integer codes of a quantized tensor (batch dropped); scale and zero point per tensor, or per
        channel (arrays in the graph's broadcast shape, or lists of one value per channel)."""
        x = np.asarray(ctx[name], dtype=np.float64)

        def bcast(v):
            v = np.asarray(v, dtype=np.float64)
            return v.reshape((1, -1) + (1,) * (x.ndim - 2)) if v.ndim == 1 and v.size > 1 else v

        return (np.rint(x / bcast(scale)) + bcast(zero_point)).astype(np.int64)[0]


def _owner_map(program: Program) -> dict:
    owner = {}
    for layer in program.layers:
        for t in layer.outputs:
            owner[program.tensors[t].source] = layer.name
            owner[t] = layer.name
        for q in layer.dumps.values():
            owner[q] = layer.name
    return owner


def compare_with_qonnx(program: Program, qonnx, images: np.ndarray, modes=("free",), arbiter=None,
                       judge_all: bool = False) -> dict:
    """Per mode ("free" running, teacher-"forced") and QONNX tensor: max |code difference|, number of
    equal codes and the first mismatch, over all ``images`` (N x C x H x W float); plus both sides'
    output codes per image. QONNX (a file, run by qonnx's executor, or a runner with the same
    interface, e.g. flow.reference.ort_qonnx) runs once per image for all modes.

    With an ``arbiter``: per tensor, the verdicts on its differing elements ("judged": Arbiter.judge's
    counts), teacher-forced; free-running, per image (in "origins") the first differing tensor, its layer
    and its judgement, or None where the image has no difference. ``judge_all``: teacher-forced, every
    tensor is judged on every element, not only where the two differ (Arbiter.judge's "everywhere")."""
    runner = qonnx if hasattr(qonnx, "run") else QonnxRunner(qonnx)
    owner = _owner_map(program)
    in_name = program.inputs[0]
    out = program.outputs[0]
    results = {m: {"tensors": {}, "outputs": [], "origins": [], "images": len(images), "teacher_forced": m == "forced"}
               for m in modes}
    for image in progress(images, "lower", "reference image"):
        ctx = runner.run(np.asarray(image))
        ctx.setdefault(runner.input, np.asarray(image, dtype=np.float32)[None])
        x = runner.codes(ctx, in_name, runner.quants[in_name].scalar_scale)
        ref_codes = {q: runner.codes(ctx, q, spec.scale, spec.zero_point) for q, spec in runner.quants.items()}
        for mode in modes:
            forced = None
            if mode == "forced":
                forced = {t: runner.codes(ctx, t, info.scale, info.zero_point) for t, info in program.tensors.items()
                          if t in ctx}
                forced.update(ref_codes)
            env = run_program(program, {in_name: x}, forced=forced)
            stats = results[mode]["tensors"]
            origin = None
            for qname, ref in ref_codes.items():
                if qname == in_name:
                    continue
                if qname not in env:
                    raise FlowError(f"the program has no tensor for QONNX tensor {qname}")
                got = env[qname]
                if got.shape != ref.shape:
                    raise FlowError(f"reference tensor {qname} has shape {got.shape}, QONNX {ref.shape}")
                diff = np.abs(got - ref)
                st = stats.setdefault(qname, {"layer": owner.get(qname, "?"), "max_lsb": 0, "equal": 0,
                                              "total": 0, "first_mismatch": None})
                if st["first_mismatch"] is None and diff.any():
                    idx = tuple(int(i) for i in np.argwhere(diff)[0])
                    st["first_mismatch"] = {"index": idx, "reference": int(got[idx]), "qonnx": int(ref[idx])}
                st["max_lsb"] = max(st["max_lsb"], int(diff.max()))
                every = judge_all and mode == "forced"
                if arbiter is not None and (diff.any() or every) and (mode == "forced" or origin is None):
                    verdict = arbiter.judge(qname, ctx, got, ref, everywhere=every)
                    if mode == "forced":
                        judged = st.setdefault("judged", {})
                        for k, n in verdict.items():
                            if k != "first":
                                judged[k] = judged.get(k, 0) + n
                    else:
                        origin = {"tensor": qname, "layer": st["layer"], **verdict}
                st["equal"] += int((diff == 0).sum())
                st["total"] += diff.size
            results[mode]["outputs"].append((env[out], ref_codes[program.tensors[out].source]))
            results[mode]["origins"].append(origin)
    return results


def summarize(result: dict) -> dict:
    """Totals over the tensors, the worst tensor and the first one (in graph order) that differs."""
    t = result["tensors"]
    worst = max(t.items(), key=lambda kv: (kv[1]["max_lsb"], -kv[1]["equal"] / kv[1]["total"]), default=None)
    first = next(((name, s) for name, s in t.items() if s["max_lsb"]), None)
    top1_same = sum(int(np.argmax(a) == np.argmax(b)) for a, b in result["outputs"])
    judged, origins = {}, {}
    for st in t.values():
        for k, n in st.get("judged", {}).items():
            judged[k] = judged.get(k, 0) + n
    for o in result.get("origins", []):
        for k, n in (o or {}).items():
            if isinstance(n, int):
                origins[k] = origins.get(k, 0) + n
    return {"images": result["images"], "teacher_forced": result["teacher_forced"], "tensors": len(t),
            "tensors_exact": sum(1 for s in t.values() if s["max_lsb"] == 0),
            "max_lsb": max((s["max_lsb"] for s in t.values()), default=0),
            "differing": sum(s["total"] - s["equal"] for s in t.values()),
            "min_equal_fraction": min((s["equal"] / s["total"] for s in t.values()), default=1.0),
            "worst_tensor": worst[0] if worst else None, "worst_layer": worst[1]["layer"] if worst else None,
            "first_differing": None if first is None else {"tensor": first[0], "layer": first[1]["layer"],
                                                            **first[1]["first_mismatch"]},
            "top1_agree": top1_same,
            "judged": judged,  # teacher-forced, with an arbiter: verdicts on every differing element
            "diverging_images": sum(1 for o in result.get("origins", []) if o),
            "origins_judged": origins,  # free-running, with an arbiter: verdicts on each image's first difference
            "output_max_lsb": max((int(np.abs(a - b).max()) for a, b in result["outputs"]), default=0)}


FREE_SCALE_MAX_LSB = 1
FREE_SCALE_MIN_EQUAL = 0.999


def all_power_of_two(program: Program) -> bool:
    """True when every requantization is a pure shift (multiplier 1): the program must then be exact."""
    for layer in program.layers:
        for key, blob in layer.blobs.items():
            if key == "mult" or key.endswith("_mult"):
                if np.any(blob.astype(np.int64) & (blob.astype(np.int64) - 1)):  # not a power of two
                    return False
    return True


def check_against_qonnx(program: Program, qonnx_path, images: np.ndarray, verify_executor_images: int = 0) -> dict:
    """Raise a FlowError naming the first tensor that breaks the criterion; return the summary.

    Power-of-two scales: free-running, every tensor identical. Free scales: teacher-forced, every
    tensor within 1 LSB on >= 99.9% of its elements (the free-running output difference is reported), and
    every differing element judged against the graph's exact arithmetic (flow.reference.arbitrate; the
    verdicts are reported in "judged"). QONNX runs as one onnxruntime session (flow.reference.ort_qonnx).
    ``verify_executor_images``: first check that session identical to qonnx's executor, every tensor, on
    that many images (about 25 s per image on B1 r224, most of it qonnx's per-call shape lookups); `flow
    build` leaves it to the tests (tests/lower/test_lower_model.py on B0, the slow B1 r224 test).
    """
    import onnx

    from .arbitrate import Arbiter
    from .ort_qonnx import OrtQonnxRunner

    exact = all_power_of_two(program)
    quants = activation_quants(qonnx_path)
    runner = OrtQonnxRunner(qonnx_path, list(quants) + [t for t in program.tensors if t not in quants])
    verified = runner.verify(images[:verify_executor_images]) if verify_executor_images else 0
    runs = compare_with_qonnx(program, runner, images, modes=("free",) if exact else ("free", "forced"),
                              arbiter=None if exact else Arbiter(onnx.load(str(qonnx_path))))
    free = summarize(runs["free"])
    if exact:
        result = dict(free, criterion="power-of-two scales: every tensor identical, free-running",
                      qonnx_executor_verified_images=verified)
        if result["max_lsb"] != 0:
            m = result["first_differing"]
            raise FlowError(f"integer reference differs from QONNX (power-of-two scales must match exactly); first "
                            f"at {m['tensor']} (layer {m['layer']}), index {list(m['index'])}: reference "
                            f"{m['reference']}, QONNX {m['qonnx']}; worst {result['max_lsb']} LSB")
        return result
    forced = summarize(runs["forced"])
    result = dict(forced, criterion=f"free scales: per layer (teacher-forced) <= {FREE_SCALE_MAX_LSB} LSB on "
                                    f">= {100 * FREE_SCALE_MIN_EQUAL}% of elements",
                  free_running={k: free[k] for k in ("max_lsb", "min_equal_fraction", "output_max_lsb",
                                                     "top1_agree")}, qonnx_executor_verified_images=verified)
    if result["max_lsb"] > FREE_SCALE_MAX_LSB or result["min_equal_fraction"] < FREE_SCALE_MIN_EQUAL:
        raise FlowError(f"integer reference differs from QONNX at {result['worst_tensor']} (layer "
                        f"{result['worst_layer']}): {result['max_lsb']} LSB max, "
                        f"{100 * result['min_equal_fraction']:.3f}% equal (limit {FREE_SCALE_MAX_LSB} LSB, "
                        f"{100 * FREE_SCALE_MIN_EQUAL}%)")
    return result
