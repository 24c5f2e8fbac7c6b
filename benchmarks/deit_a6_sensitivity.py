"""Where DeiT-Tiny loses accuracy at six activation bits (the Fashion-MNIST model of
benchmarks/fashion_mnist_model.py, naive min-max calibration on 128 training images, the first 2,000 test
images): weights or activations (W8A6 and W6A8 against float), then each activation quantizer group (the
same quantizer in every block) put back at 8 bits inside the W8A6 model (its module from a W8A8 model
calibrated alike; a LayerNorm as a whole, the logits with their integer softmax), the softmax output
left unquantized (the float softmax on the 6-bit logits), and the token stream (the embedding, the
residual sums and the LayerNorms' inputs together) at 8 bits, calibrated so (quantization option
token_bits): no group alone recovers much, the whole stream does.

    python3 benchmarks/deit_a6_sensitivity.py      # ~8 minutes once the model is cached
"""

import copy
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from brevitas.nn import QuantIdentity  # noqa: E402

from fashion_mnist_model import trained_model  # noqa: E402
from flow.data import load_fashion_mnist  # noqa: E402
from flow.models import deit  # noqa: E402
from flow.quantize import make_quant_config, quantize_model  # noqa: E402
from flow.training import evaluate_top1  # noqa: E402

MODEL, RES, TEST_IMAGES = "deit_tiny", 64, 2000
NAIVE = {"act_calibrator": "minmax", "weight_calibrator": "minmax", "bias_correction": False, "calib_images": 128}


def _set(model, name, module):
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, module)


def groups(model) -> dict:
    """Quantizer group (its name without the block index) -> module names; LayerNorms as a whole."""
    names = [n for n, m in model.named_modules()
             if isinstance(m, QuantIdentity) and ".norm" not in n and "softmax" not in n]
    names += [n for n, _ in model.named_modules() if re.search(r"norm\d?$", n)]
    out = {}
    for n in names:
        out.setdefault(re.sub(r"blocks\.\d+\.", "", n), []).append(n)
    return out


def main():
    torch.manual_seed(0)
    fp = trained_model(model=MODEL)
    calib = load_fashion_mnist("train", RES, count=NAIVE["calib_images"])[0]
    x, y = load_fashion_mnist("test", RES, count=TEST_IMAGES)[:2]

    def quantized(wb, ab, **extra):
        return quantize_model(copy.deepcopy(fp), calib,
                              make_quant_config({**NAIVE, "weight_bits": wb, "act_bits": ab, **extra}))

    print(f"DeiT-Tiny r{RES}, first {TEST_IMAGES} test images, top-1 %")
    print(f"  float {evaluate_top1(fp, x, y):.2f}")
    a6, a8 = quantized(8, 6), quantized(8, 8)
    print(f"  W8A6 {evaluate_top1(a6, x, y):.2f}, W6A8 {evaluate_top1(quantized(6, 8), x, y):.2f}, "
          f"W8A8 {evaluate_top1(a8, x, y):.2f}")
    print("W8A6 with one quantizer group at 8 bits:")
    for key, names in sorted(groups(a6).items()):
        if any(n.endswith("logits_quant") for n in names):
            names = names + [n.replace("logits_quant", "softmax") for n in names]
        saved = {n: a6.get_submodule(n) for n in names}
        for n in names:
            _set(a6, n, a8.get_submodule(n))
        print(f"  {key:26s} {evaluate_top1(a6, x, y):.2f}")
        for n, m in saved.items():
            _set(a6, n, m)
    for m in a6.modules():
        if isinstance(m, deit.Attention):
            m.softmax_quant = torch.nn.Identity()
        if isinstance(m, deit.IntSoftmax):
            m.integer = False
    print(f"W8A6 with the float softmax, its output unquantized: {evaluate_top1(a6, x, y):.2f}")
    print(f"W8A6 with the token stream at 8 bits: {evaluate_top1(quantized(8, 6, token_bits=8), x, y):.2f}, "
          f"W6A6 so: {evaluate_top1(quantized(6, 6, token_bits=8), x, y):.2f}")


if __name__ == "__main__":
    sys.exit(main())
