"""The integer program against QONNX execution on the Fashion-MNIST benchmark model (EfficientViT-B0,
64x64, trained on this CPU; benchmarks/fashion_mnist_model.py).

Quantizes with the shipped defaults (free scales; --po2 for power-of-two scales), exports, lowers, then:
- checks the one-session QONNX execution (flow.reference.ort_qonnx) equals qonnx's executor on 4 images;
- teacher-forced, per layer: max LSB difference and fraction of equal codes of every quantized tensor
  over the first --forced images;
- free-running: top-1 class of the integer program vs QONNX on every test image, and both accuracies.
    python3 benchmarks/lowering_agreement.py            # all 10,000 test images
    python3 benchmarks/lowering_agreement.py --quick    # 500 images
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fashion_mnist_model import MODEL, RESOLUTION, trained_model  # noqa: E402
from flow.data import load_fashion_mnist  # noqa: E402
from flow.export import export_clean_qonnx  # noqa: E402
from flow.lower import lower_qonnx  # noqa: E402
from flow.quantize import make_quant_config, quantize_model  # noqa: E402
from flow.reference.compare import compare_with_qonnx, summarize  # noqa: E402
from flow.reference.ort_qonnx import OrtQonnxRunner  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 test images instead of 10,000")
    ap.add_argument("--po2", action="store_true", help="power-of-two scales (default: free, the shipped default)")
    ap.add_argument("--forced", type=int, default=500, help="images for the teacher-forced per-layer comparison")
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
        t0 = time.monotonic()
        forced = compare_with_qonnx(program, runner, images[:args.forced], modes=("forced",))["forced"]
        t_forced = time.monotonic() - t0
        t0 = time.monotonic()
        free = compare_with_qonnx(program, runner, images, modes=("free",))["free"]
        t_free = time.monotonic() - t0
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
    print(f"free-running, {sr['images']} images: top-1 identical on {sr['top1_agree']}/{sr['images']}; "
          f"output codes differ by up to {sr['output_max_lsb']} LSB; accuracy integer program "
          f"{100 * np.mean(ref_top1 == labels):.2f}%, QONNX {100 * np.mean(onnx_top1 == labels):.2f}%")
    differ = np.flatnonzero(ref_top1 != onnx_top1)
    if differ.size:
        def margin(v):
            top = np.sort(np.asarray(v))[::-1]
            return int(top[0] - top[1])
        print(f"images whose top-1 differs: {differ.tolist()[:20]}; QONNX's top-1 margin there (LSB): "
              f"{[margin(free['outputs'][i][1]) for i in differ[:20]]}; median margin over all images: "
              f"{int(np.median([margin(b) for _, b in free['outputs']]))} LSB")
    print(f"time: teacher-forced {t_forced:.0f}s, free-running {t_free:.0f}s "
          f"({1000 * t_free / len(images):.1f} ms per image, QONNX one-session + integer reference)")


if __name__ == "__main__":
    main()
