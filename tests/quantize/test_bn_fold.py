import torch

from flow.models import QuantScheme, build_model
from flow.quantize.bn_fold import fold_batchnorm, has_batchnorm


def test_folding_preserves_the_float_function():
    torch.manual_seed(0)
    model = build_model("efficientvit_b0", resolution=64, num_classes=10, quant=QuantScheme.float_reference()).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.3, 3.0)
            m.weight.data.normal_(1, 0.2)
            m.bias.data.normal_(0, 0.2)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        n = fold_batchnorm(model)
        after = model(x)
    assert n > 20 and not has_batchnorm(model)
    assert torch.allclose(before, after, rtol=1e-4, atol=1e-4)  # float re-association only
