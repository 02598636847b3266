"""Bad input gets a clear error that names the problem and what to do."""

from pathlib import Path

import numpy as np
import pytest
import torch
from anomalib.data import ImageBatch, MVTecAD
from anomalib.engine import Engine
from PIL import Image

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.synthetic_dataset import make_synthetic_dataset


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layers": ("layer2", "not_a_layer")}, r"Unknown backbone level\(s\) \['not_a_layer'\]"),
        ({"noise_std": 0.0}, "noise_std=0.0"),
        ({"noise_std": -1.0}, "noise_std=-1.0"),
        ({"discriminator_hidden": 0}, "discriminator_hidden=0"),
        ({"patch_size": 4}, "patch_size must be odd"),
        ({"max_epochs": 0}, "max_epochs=0"),
        ({"adaptor_lr": -1e-4}, "adaptor_lr"),
        ({"feature_store_mb": -1}, "feature_store_mb"),
        ({"feature_store_dtype": "int8"}, "feature_store_dtype"),
        ({"normal_threshold": -1.0}, "must be lower than normal_threshold"),
        ({"adaptor": "mlp"}, "adaptor must be"),
    ],
)
def test_nonsense_hyper_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimpleNet(backbone="resnet18", pre_trained=False, **kwargs)


@pytest.mark.parametrize(
    ("image_size", "crop", "message"),
    [((0, 256), None, "must be positive"), ((256, 256), (-1, 224), "must be positive"), ((200, 200), (224, 224), "larger")],
)
def test_bad_pre_processor_sizes(image_size: tuple, crop: tuple | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimpleNet.configure_pre_processor(image_size=image_size, center_crop_size=crop)


def test_missing_weights_file_is_named(tmp_path: Path, synthetic_root: Path) -> None:
    model = SimpleNet(backbone="resnet18", backbone_weights=str(tmp_path / "missing.pth"), max_epochs=1)
    engine = Engine(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        engine.fit(model, datamodule=MVTecAD(root=synthetic_root, category="synthetic", num_workers=0))


def test_empty_training_folder(tmp_path: Path) -> None:
    make_synthetic_dataset(tmp_path, n_train=0, n_test_good=1, n_test_defective=2, image_size=64)
    (tmp_path / "synthetic" / "train" / "good").mkdir(parents=True)
    model = SimpleNet(backbone="resnet18", pre_trained=False, max_epochs=1)
    engine = Engine(default_root_dir=tmp_path / "results", logger=False, enable_progress_bar=False)
    with pytest.raises(ValueError, match=r"training set is empty \(root=.*category=synthetic\)"):
        engine.fit(model, datamodule=MVTecAD(root=tmp_path, category="synthetic", num_workers=0))


def test_images_of_odd_sizes_and_channel_counts_train(tmp_path: Path) -> None:
    """Grayscale, RGBA and odd-sized training images are converted and resized, not refused."""
    make_synthetic_dataset(tmp_path, n_train=4, n_test_good=1, n_test_defective=2, image_size=64)
    good = tmp_path / "synthetic" / "train" / "good"
    Image.fromarray((np.random.default_rng(0).random((81, 123)) * 255).astype(np.uint8)).save(good / "gray.png")
    Image.fromarray((np.random.default_rng(1).random((50, 71, 4)) * 255).astype(np.uint8)).save(good / "rgba.png")
    model = SimpleNet(backbone="resnet18", pre_trained=False, discriminator_hidden=16, max_epochs=1)
    engine = Engine(default_root_dir=tmp_path / "results", logger=False, enable_progress_bar=False)
    engine.fit(model, datamodule=MVTecAD(root=tmp_path, category="synthetic", num_workers=0, train_batch_size=3))
    assert engine.trainer.current_epoch == 1


def test_corrupt_image_is_named(tmp_path: Path) -> None:
    make_synthetic_dataset(tmp_path, n_train=2, n_test_good=1, n_test_defective=2, image_size=64)
    (tmp_path / "synthetic" / "train" / "good" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
    model = SimpleNet(backbone="resnet18", pre_trained=False, max_epochs=1)
    engine = Engine(default_root_dir=tmp_path / "results", logger=False, enable_progress_bar=False)
    with pytest.raises(OSError, match=r"broken\.png"):
        engine.fit(model, datamodule=MVTecAD(root=tmp_path, category="synthetic", num_workers=0))


def test_anomalous_images_in_the_training_set_are_refused() -> None:
    model = SimpleNet(backbone="resnet18", pre_trained=False)
    batch = ImageBatch(
        image=torch.rand(2, 3, 64, 64),
        gt_label=torch.tensor([0, 1]),
        image_path=["train/good/ok.png", "train/good/cracked.png"],
    )
    with pytest.raises(ValueError, match=r"contains 1 image\(s\) labelled anomalous.*cracked\.png"):
        model.training_step(batch)
