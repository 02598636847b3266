"""Noise relative to the feature scale: one setting for every backbone (the fits that report a setting that cannot
learn are in ``tests/integration/test_learning_check.py``)."""

import pytest
import torch

from anomalib_simplenet.simplenet import SimpleNet
from anomalib_simplenet.simplenet.components import AnomalousFeatureGenerator, FeatureAdaptor
from anomalib_simplenet.simplenet.loss import TruncatedL1Loss


@pytest.mark.parametrize("feature_scale", [0.05, 1.0, 6.5, 100.0])
def test_relative_noise_has_the_same_signal_to_noise_ratio_at_every_feature_scale(feature_scale: float) -> None:
    torch.manual_seed(0)
    features = feature_scale * torch.randn(20000, 16) * torch.linspace(0.5, 2.0, 16)  # channels of different spread
    noise = AnomalousFeatureGenerator(noise_std=0.3, noise_scale="relative")(features) - features
    torch.testing.assert_close(noise.std(dim=0) / features.std(dim=0), torch.full((16,), 0.3), atol=0.02, rtol=0)


def test_absolute_noise_is_the_papers_sigma_whatever_the_features() -> None:
    torch.manual_seed(0)
    features = 100 * torch.randn(20000, 4)
    noise = AnomalousFeatureGenerator(noise_std=0.015, noise_scale="absolute")(features) - features
    assert noise.std().item() == pytest.approx(0.015, rel=0.05)


def test_bad_noise_and_adaptor_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="noise_scale must be 'relative' or 'absolute'"):
        AnomalousFeatureGenerator(noise_std=0.3, noise_scale="percent")
    with pytest.raises(ValueError, match="adaptor_init must be"):
        FeatureAdaptor(8, adaptor="linear", init="orthogonal")


def test_xavier_adaptor_init_follows_the_authors_code() -> None:
    torch.manual_seed(0)
    default, xavier = (
        FeatureAdaptor(512, adaptor="linear", init="default").projection.weight,
        FeatureAdaptor(512, adaptor="linear", init="xavier_normal").projection.weight,
    )
    assert xavier.std().item() == pytest.approx((2 / (512 + 512)) ** 0.5, rel=0.05)  # Xavier-normal's std
    assert default.std().item() == pytest.approx(1 / (3 * 512) ** 0.5, rel=0.05)  # PyTorch's kaiming-uniform(a=sqrt 5)


@pytest.mark.parametrize(
    ("backbone", "layers"), [("resnet18", ("layer2", "layer3")), ("efficientnet_lite0", ("blocks.2", "blocks.4"))]
)
def test_default_noise_lets_the_discriminator_learn_on_backbones_of_different_feature_scale(backbone: str, layers: tuple) -> None:
    """ResNet18 and EfficientNet-Lite0 features differ in scale; the default settings learn on both."""
    torch.manual_seed(0)
    model = SimpleNet(backbone=backbone, layers=layers, pre_trained=False, discriminator_hidden=64).model  # defaults
    features = model.feature_extractor(torch.rand(8, 3, 96, 96))
    optimiser = torch.optim.Adam([*model.feature_adaptor.parameters(), *model.discriminator.parameters()], lr=2e-4)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = model.compute_loss(features)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert not TruncatedL1Loss(normal_threshold=0.5, anomalous_threshold=-0.5).cannot_separate(sum(losses[-10:]) / 10)
