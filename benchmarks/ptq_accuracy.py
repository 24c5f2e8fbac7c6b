"""Post-training quantization accuracy on Fashion-MNIST (EfficientViT-B0, 64x64, trained on this CPU).

Prints float top-1 on the 10,000 test images and top-1 after PTQ at each bit width and calibrator.
    python3 benchmarks/ptq_accuracy.py            # full test set
    python3 benchmarks/ptq_accuracy.py --quick    # 1,000 test images, for CI-sized runs
The first run trains the model (benchmarks/fashion_mnist_model.py, about 15 minutes) and caches it.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from fashion_mnist_model import MODEL, RESOLUTION, trained_checkpoint  # noqa: E402
from flow.data import load_fashion_mnist  # noqa: E402
from flow.models import QuantScheme, build_model, load_checkpoint  # noqa: E402
from flow.quantize import make_quant_config, quantize_model  # noqa: E402
from flow.training import evaluate_top1  # noqa: E402

BITS = [(8, 8), (6, 6)]
CALIBRATORS = {
    "min-max": {"act_calibrator": "minmax", "weight_calibrator": "minmax"},
    "MSE": {"act_calibrator": "mse", "weight_calibrator": "mse"},
}
SCALES = {"free": False, "power-of-two": True}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 test images instead of 10,000")
    ap.add_argument("--calib", type=int, default=256, help="calibration images from the training split")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    fp = build_model(MODEL, num_classes=10, resolution=RESOLUTION, quant=QuantScheme.float_reference())
    load_checkpoint(fp, str(trained_checkpoint()))
    fp.eval()
    x_test, y_test = load_fashion_mnist("test", RESOLUTION, count=1000 if args.quick else None, seed=0 if args.quick else None)
    x_cal, _ = load_fashion_mnist("train", RESOLUTION, count=args.calib, seed=1)
    rows = [("float", "-", "-", evaluate_top1(fp, x_test, y_test), 0.0)]
    for wb, ab in BITS:
        for scale_name, po2 in SCALES.items():
            for cal_name, cal in CALIBRATORS.items():
                t0 = time.monotonic()
                qcfg = make_quant_config({**cal, "calib_images": args.calib, "po2_scales": po2},
                                         weight_bits=wb, act_bits=ab)
                q = quantize_model(fp, x_cal, qcfg)
                top1 = evaluate_top1(q, x_test, y_test)
                rows.append((f"W{wb}A{ab}", scale_name, cal_name, top1, time.monotonic() - t0))
    print(f"\n{MODEL} r{RESOLUTION} on Fashion-MNIST, {len(x_test)} test images, {args.calib} calibration images, "
          f"per-channel weights, per-tensor activations, bias correction on\n")
    print("| precision | scales | calibration | top-1 (%) | drop (pp) | time (s) |")
    print("|---|---|---|---|---|---|")
    for prec, scales, cal, top1, secs in rows:
        print(f"| {prec} | {scales} | {cal} | {top1:.2f} | {rows[0][3] - top1:+.2f} | {secs:.0f} |")


if __name__ == "__main__":
    main()
