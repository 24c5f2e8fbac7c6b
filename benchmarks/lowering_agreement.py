"""The integer program against QONNX execution on the Fashion-MNIST benchmark model (EfficientViT-B0,
64x64, trained on this CPU; benchmarks/fashion_mnist_model.py).

Quantizes with the shipped defaults (free scales; --po2 for power-of-two scales), exports, lowers, then:
- checks the one-session QONNX execution (flow.reference.ort_qonnx) equals qonnx's executor on 4 images;
- teacher-forced, per layer: max LSB difference and fraction of equal codes of every quantized tensor
  over the first --forced images;
- free-running: top-1 class of the integer program vs QONNX on every test image, and both accuracies;
- every difference judged against the graph's exact arithmetic (flow.reference.arbitrate: the graph in
  float64 on the same codes): teacher-forced, every element of every tensor; free-running, the first
  differing element of each image, where the two executions part;
- the integer program against the graph executed exactly, free-running, on every test image (--jobs
  processes).
    python3 benchmarks/lowering_agreement.py            # all 10,000 test images
    python3 benchmarks/lowering_agreement.py --quick    # 500 images
"""

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

from fashion_mnist_model import MODEL, RESOLUTION, trained_model  # noqa: E402
from flow.data import load_fashion_mnist  # noqa: E402
from flow.export import export_clean_qonnx  # noqa: E402
from flow.lower import lower_qonnx  # noqa: E402
from flow.quantize import make_quant_config, quantize_model  # noqa: E402
from flow.lower.program import Program  # noqa: E402
from flow.reference.arbitrate import UNDECIDED, Arbiter  # noqa: E402
from flow.reference.compare import compare_with_qonnx, summarize  # noqa: E402
from flow.reference.executor import run_program  # noqa: E402
from flow.reference.ort_qonnx import OrtQonnxRunner  # noqa: E402


def exact_agreement(job) -> tuple:
    """(outputs identical, top-1 identical, images where any quantized tensor differs) of the integer
    program, free-running, against the graph executed exactly, on ``images``."""
    program, path, images = job
    arbiter = Arbiter(onnx.load(str(path)))
    inp, out = program.inputs[0], program.outputs[0]
    src = program.tensors[out].source
    same = top1 = differing = 0
    for image in images:
        exact = arbiter.run(image)
        env = run_program(program, {inp: exact[inp]})
        same += int(np.array_equal(env[out], exact[src]))
        top1 += int(np.argmax(env[out]) == np.argmax(exact[src]))
        differing += int(any(not np.array_equal(env[t], c) for t, c in exact.items() if t in env))
    return same, top1, differing


def exact_agreement_parallel(program: Program, path, images: np.ndarray, jobs: int) -> tuple:
    chunks = [(program, path, c) for c in np.array_split(images, max(1, jobs)) if len(c)]
    if jobs <= 1:
        parts = [exact_agreement(c) for c in chunks]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(exact_agreement, chunks)
    return tuple(int(sum(p[i] for p in parts)) for i in range(3))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 test images instead of 10,000")
    ap.add_argument("--po2", action="store_true", help="power-of-two scales (default: free, the shipped default)")
    ap.add_argument("--forced", type=int, default=500, help="images for the teacher-forced per-layer comparison")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the exact free-running comparison")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    fp = trained_model()
    x_test, y_test = load_fashion_mnist("test", RESOLUTION, count=500 if args.quick else None, seed=None)
    x_cal, _ = load_fashion_mnist("train", RESOLUTION, count=64, seed=1)
    q = quantize_model(fp.eval(), x_cal, make_quant_config({"po2_scales": args.po2}))
    with tempfile.TemporaryDirectory() as tmp:
        path = export_clean_qonnx(q, Path(tmp))
        t0 = time.monotonic()
        program = lower_qonnx(path, name=MODEL)
        t_lower = time.monotonic() - t0
        runner = OrtQonnxRunner(path)
        runner = OrtQonnxRunner(path, list(runner.quants) + [t for t in program.tensors if t not in runner.quants])
        checked = runner.verify(x_test[:4].numpy())
        images = x_test.numpy()
        arbiter = Arbiter(onnx.load(str(path)))
        t0 = time.monotonic()
        forced = compare_with_qonnx(program, runner, images[:args.forced], modes=("forced",), arbiter=arbiter,
                                    judge_all=True)["forced"]
        t_forced = time.monotonic() - t0
        t0 = time.monotonic()
        free = compare_with_qonnx(program, runner, images, modes=("free",), arbiter=arbiter)["free"]
        t_free = time.monotonic() - t0
        t0 = time.monotonic()
        exact_same, exact_top1, exact_differing = exact_agreement_parallel(program, path, images, args.jobs)
        t_exact = time.monotonic() - t0
    sf, sr = summarize(forced), summarize(free)
    labels = y_test.numpy()
    ref_top1 = np.array([np.argmax(a) for a, _ in free["outputs"]])
    onnx_top1 = np.array([np.argmax(b) for _, b in free["outputs"]])
    print(f"\n{MODEL} r{RESOLUTION} Fashion-MNIST, W8A8 {'power-of-two' if args.po2 else 'free'} scales "
          f"(shipped defaults otherwise); {len(program.layers)} layers lowered in {t_lower:.1f}s; "
          f"one-session QONNX execution identical to qonnx's executor on {checked} images\n")
    print(f"teacher-forced, {sf['images']} images, {sf['tensors']} quantized tensors: "
          f"{sf['tensors_exact']} identical; worst {sf['max_lsb']} LSB; lowest equal fraction "
          f"{100 * sf['min_equal_fraction']:.4f}% ({sf['worst_tensor']}, layer {sf['worst_layer']})")
    for name, st in sorted(forced["tensors"].items(), key=lambda kv: kv[1]["equal"] / kv[1]["total"])[:5]:
        print(f"  {st['layer']:<20} {name:<16} max {st['max_lsb']} LSB, "
              f"{100 * st['equal'] / st['total']:.4f}% equal of {st['total']}")
    j = dict.fromkeys(("elements", "integer_off", "off_as_qonnx", "undecided", "integer", "qonnx", "neither",
                       "not_judged"), 0)
    j.update(sf["judged"])
    print(f"  judged against the graph's exact arithmetic (float64 on the same input codes), every element: "
          f"{j['elements']:,} elements; the integer program's code is off the exact one on {j['integer_off']} "
          f"({j['off_as_qonnx']} of them with QONNX's float32 code: tables that round as QONNX does)")
    print(f"  where QONNX float32 differs ({sf['differing']} elements) the exact code is the integer program's on "
          f"{j['integer']}, QONNX's on {j['qonnx']}, neither on {j['neither']}, within {UNDECIDED} of a tie on "
          f"{j['undecided']}, not judged (two-scale) {j['not_judged']}")
    print(f"free-running, {sr['images']} images: top-1 identical on {sr['top1_agree']}/{sr['images']}; "
          f"output codes differ by up to {sr['output_max_lsb']} LSB; accuracy integer program "
          f"{100 * np.mean(ref_top1 == labels):.2f}%, QONNX {100 * np.mean(onnx_top1 == labels):.2f}%")
    o = sr["origins_judged"]
    print(f"  {sr['diverging_images']} images part somewhere; at each one's first differing tensor (same inputs on "
          f"both sides) the exact code is the integer program's on {o.get('integer', 0)} elements, QONNX's on "
          f"{o.get('qonnx', 0)}, neither on {o.get('neither', 0)}, undecided {o.get('undecided', 0)}, "
          f"not judged {o.get('not_judged', 0)}")
    differ = np.flatnonzero(ref_top1 != onnx_top1)
    if differ.size:
        def margin(v):
            top = np.sort(np.asarray(v))[::-1]
            return int(top[0] - top[1])
        print(f"images whose top-1 differs: {differ.tolist()[:20]}; QONNX's top-1 margin there (LSB): "
              f"{[margin(free['outputs'][i][1]) for i in differ[:20]]}; median margin over all images: "
              f"{int(np.median([margin(b) for _, b in free['outputs']]))} LSB")
        for i in differ[:20]:
            origin = free["origins"][i]
            first = origin["first"]
            exact = f"{first['exact_value']:.9f}" if "exact_value" in first else "not judged"
            print(f"  image {i}: parts at {origin['tensor']} ({origin['layer']}) {list(first['index'])}: integer "
                  f"{first['integer']}, QONNX float32 {first['qonnx']}, exact value {exact} codes")
    print(f"the graph executed exactly (float64), free-running from the same image, {len(images)} images: the "
          f"integer program's output codes identical on {exact_same}, top-1 identical on {exact_top1}; images "
          f"where any quantized tensor differs: {exact_differing}")
    print(f"time: teacher-forced {t_forced:.0f}s (with every element judged), free-running {t_free:.0f}s "
          f"({1000 * t_free / len(images):.1f} ms per image, QONNX one-session + integer reference), exact "
          f"free-running {t_exact:.0f}s on {args.jobs} processes")


if __name__ == "__main__":
    main()
