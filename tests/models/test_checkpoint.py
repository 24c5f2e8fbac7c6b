import pytest
import torch

from flow.errors import FlowError
from flow.models import QuantScheme, build_model, load_checkpoint
from flow.models.checkpoint import infer_num_classes, mit_to_ours, ours_to_mit

# Key names as they appear in mit-han-lab/efficientvit (cls.py ClsHead, backbone.py input_stem/stages,
# nn/ops.py ConvLayer/LinearLayer/LiteMLA), paired with timm's names for the same tensors.
KNOWN_PAIRS = [
    ("backbone.input_stem.op_list.0.conv.weight", "stem.in_conv.conv.weight"),
    ("backbone.input_stem.op_list.1.main.depth_conv.conv.weight", "stem.res0.main.depth_conv.conv.weight"),
    ("backbone.input_stem.op_list.1.main.point_conv.norm.running_var", "stem.res0.main.point_conv.norm.running_var"),
    ("backbone.stages.0.op_list.0.main.inverted_conv.conv.weight", "stages.0.blocks.0.main.inverted_conv.conv.weight"),
    ("backbone.stages.2.op_list.1.context_module.main.qkv.conv.weight",
     "stages.2.blocks.1.context_module.main.qkv.conv.weight"),
    ("backbone.stages.2.op_list.1.context_module.main.aggreg.0.1.weight",
     "stages.2.blocks.1.context_module.main.aggreg.0.1.weight"),
    ("backbone.stages.3.op_list.2.local_module.main.depth_conv.conv.bias",
     "stages.3.blocks.2.local_module.main.depth_conv.conv.bias"),
    ("head.op_list.0.norm.weight", "head.in_conv.norm.weight"),
    ("head.op_list.2.linear.weight", "head.classifier.0.weight"),
    ("head.op_list.2.norm.bias", "head.classifier.1.bias"),
    ("head.op_list.3.linear.bias", "head.classifier.4.bias"),
]


@pytest.mark.parametrize("mit,ours", KNOWN_PAIRS)
def test_mit_key_mapping(mit, ours):
    assert mit_to_ours(mit) == ours
    assert ours_to_mit(ours) == mit


def _b0(num_classes=10):
    return build_model("efficientvit_b0", resolution=64, num_classes=num_classes, quant=QuantScheme.float_reference())


def test_every_model_key_maps_both_ways():
    keys = list(_b0().state_dict())
    assert [mit_to_ours(ours_to_mit(k)) for k in keys] == keys


def test_file_round_trip_mit_container(tmp_path):
    src = _b0()
    torch.manual_seed(3)
    for p in src.parameters():
        p.data.normal_()
    path = tmp_path / "mit.pt"
    torch.save({"state_dict": {"module." + ours_to_mit(k): v for k, v in src.state_dict().items()}}, path)
    dst = _b0()
    assert load_checkpoint(dst, path) == "mit"
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    assert infer_num_classes(torch.load(path, weights_only=True)) == 10


def test_missing_key_is_named():
    state = _b0().state_dict()
    del state["head.classifier.0.weight"]
    with pytest.raises(FlowError, match=r"1 missing keys \(head\.classifier\.0\.weight\)"):
        load_checkpoint(_b0(), state)


def test_unexpected_key_is_named():
    state = _b0().state_dict()
    state["stages.9.blocks.0.extra.weight"] = torch.zeros(1)
    with pytest.raises(FlowError, match="unexpected keys"):
        load_checkpoint(_b0(), state)


def test_wrong_shape_is_named():
    with pytest.raises(FlowError, match=r"wrongly-shaped keys \(head\.classifier\.4\.bias: checkpoint \(10,\) vs model \(5,\)"):
        load_checkpoint(_b0(num_classes=5), _b0(num_classes=10).state_dict())


def test_checkpoint_for_another_model():
    b1 = build_model("efficientvit_b1", resolution=64, num_classes=10, quant=QuantScheme.float_reference())
    with pytest.raises(FlowError, match="does not fit efficientvit_b0"):
        load_checkpoint(_b0(), b1.state_dict())


def test_unreadable_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(FlowError, match="cannot be read"):
        load_checkpoint(_b0(), bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"fc.weight": torch.zeros(2, 2)}, foreign)
    with pytest.raises(FlowError, match="neither an EfficientViT state dict .* nor a DeiT one"):
        load_checkpoint(_b0(), foreign)
    with pytest.raises(FlowError, match="does not exist"):
        load_checkpoint(_b0(), tmp_path / "nope.pt")
