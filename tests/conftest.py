import os

import pytest


def pytest_configure(config):
    """Under pytest-xdist each worker has one core of its own: one thread for torch, numpy and the builds
    the tests start as subprocesses (which read OMP_NUM_THREADS), so two workers do not fight over two cores."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)

_TORCHVISION_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_keep_alive = []  # a torch.library.Library drops its definitions when collected


@pytest.fixture(autouse=True)
def _own_stage_cache(tmp_path_factory, monkeypatch):
    """Each test builds with an empty stage cache of its own (flow/stage_cache.py), never the user's:
    a test's build is then as cold as it was written to be, and tests do not see each other's entries."""
    monkeypatch.setenv("VITFLOW_CACHE_DIR", str(tmp_path_factory.mktemp("stage_cache")))


def _has_op(torch, name):
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


@pytest.fixture(scope="session")
def timm():
    """timm, the reference implementation, made importable without a working torchvision.

    timm imports torchvision unconditionally, and the torchvision wheel that resolves beside the CPU
    torch 2.13 is linked against CUDA and fails at import ("operator torchvision::nms does not exist").
    EfficientViT uses none of torchvision's ops, so defining the two schemas torchvision's import-time
    registrations look up is enough. Without timm the tests are skipped, with the reason shown (-ra).
    """
    import torch

    missing = [name for name in _TORCHVISION_SCHEMAS if not _has_op(torch, name)]
    if missing:
        lib = torch.library.Library("torchvision", "DEF")
        for name in missing:
            lib.define(_TORCHVISION_SCHEMAS[name])
        _keep_alive.append(lib)
    return pytest.importorskip("timm", reason="timm reference not installed (run scripts/setup.sh)")


@pytest.fixture(scope="session", params=[True, False], ids=["po2-scales", "free-scales"])
def exported_b0(request, tmp_path_factory):
    """(quantized EfficientViT-B0 at 32x32, its cleaned QONNX file, 16 Fashion-MNIST images), with
    power-of-two and with free scales; shared by the export, lowering and reference tests."""
    import torch

    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.models import QuantScheme, build_model
    from flow.quantize import make_quant_config, quantize_model

    torch.manual_seed(0)
    fp = build_model("efficientvit_b0", resolution=32, num_classes=10, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("test", 32, count=16)[0]
    q = quantize_model(fp, images, make_quant_config({"calib_images": 16, "po2_scales": request.param}))
    out = tmp_path_factory.mktemp("export")
    return q, export_clean_qonnx(q, out), images


@pytest.fixture(scope="session", params=[True, False], ids=["po2-scales", "free-scales"])
def exported_deit(request, tmp_path_factory):
    """(quantized two-block DeiT (width 128, two heads of 64, patch 16) at 32x32: the class token and 4
    patch tokens, its cleaned QONNX file, 16 Fashion-MNIST images), with power-of-two and free scales;
    shared by the DeiT export and lowering tests."""
    import torch

    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.models import DeiTSpec, QuantScheme
    from flow.models.zoo import build_from_spec
    from flow.quantize import make_quant_config, quantize_model

    torch.manual_seed(0)
    spec = DeiTSpec("deit_test", embed_dim=128, depth=2, heads=2)
    fp = build_from_spec(spec, num_classes=10, resolution=32, quant=QuantScheme.float_reference()).eval()
    images = load_fashion_mnist("test", 32, count=16)[0]
    q = quantize_model(fp, images, make_quant_config({"calib_images": 16, "po2_scales": request.param}))
    return q, export_clean_qonnx(q, tmp_path_factory.mktemp("deit")), images


@pytest.fixture(scope="session")
def b1_r224_po2_qonnx(tmp_path_factory):
    """EfficientViT-B1 r224, random init, power-of-two scales, calibrated on 32 Fashion-MNIST images and
    exported to cleaned QONNX: built once for the slow B1 tests (lowering and cycle model)."""
    import torch

    from flow.data import load_fashion_mnist
    from flow.export import export_clean_qonnx
    from flow.models import QuantScheme, build_model
    from flow.quantize import make_quant_config, quantize_model

    torch.manual_seed(0)
    fp = build_model("efficientvit_b1", resolution=224, quant=QuantScheme.float_reference()).eval()
    calib = load_fashion_mnist("train", 224, count=32)[0]
    q = quantize_model(fp, calib, make_quant_config({"po2_scales": True, "calib_images": 32}))
    return export_clean_qonnx(q, tmp_path_factory.mktemp("b1_r224"))
