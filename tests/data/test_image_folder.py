import pytest
from PIL import Image

from flow.data import load_image_folder
from flow.data.fashion_mnist import load_fashion_mnist_raw
from flow.errors import FlowError


@pytest.fixture
def folder(tmp_path):
    images, labels = load_fashion_mnist_raw("test")
    for i in range(12):
        d = tmp_path / f"class_{labels[i]}"
        d.mkdir(exist_ok=True)
        Image.fromarray(images[i]).save(d / f"{i}.png")
    return tmp_path


def test_loads_real_images(folder):
    x, y = load_image_folder(folder, 32)
    assert x.shape == (12, 3, 32, 32)
    assert y.max() < len(list(folder.iterdir()))
    x4, _ = load_image_folder(folder, 32, count=4)
    assert x4.shape[0] == 4


def test_errors(tmp_path, folder):
    with pytest.raises(FlowError, match="does not exist"):
        load_image_folder(tmp_path / "nope", 32)
    (tmp_path / "flat").mkdir()
    with pytest.raises(FlowError, match="no class sub-folders"):
        load_image_folder(tmp_path / "flat", 32)
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(FlowError, match="has no images"):
        load_image_folder(tmp_path / "empty", 32)
    next((folder).iterdir()).joinpath("broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(FlowError, match="broken.png' cannot be read"):
        load_image_folder(folder, 32)
