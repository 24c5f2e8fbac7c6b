import pytest

_TORCHVISION_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_keep_alive = []  # a torch.library.Library drops its definitions when collected


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
