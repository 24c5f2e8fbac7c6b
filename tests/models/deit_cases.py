"""A small quantized DeiT built, quantized and exported for a test (the conftest fixture exported_deit is
the shared two-block one; these vary the width, heads and quantizer options)."""


def quantized_deit(folder, embed_dim: int = 64, heads: int = 2, images: int = 4, **quant) -> tuple:
    """(quantized one-block DeiT at 32x32, its cleaned QONNX file in ``folder``, the ``images``
    Fashion-MNIST test images it was calibrated on), with ``quant`` over the quantization defaults."""
    import torch

    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.models import DeiTSpec, QuantScheme
    from flow.models.zoo import build_from_spec
    from flow.quantize import make_quant_config, quantize_model

    torch.manual_seed(0)
    spec = DeiTSpec("deit_test", embed_dim=embed_dim, depth=1, heads=heads)
    fp = build_from_spec(spec, num_classes=10, resolution=32, quant=QuantScheme.float_reference()).eval()
    x = load_fashion_mnist("test", 32, count=images)[0]
    q = quantize_model(fp, x, make_quant_config({"calib_images": images, **quant}))
    return q, export_clean_qonnx(q, folder), x
