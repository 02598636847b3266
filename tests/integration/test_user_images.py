"""A user's own images with the defaults: grayscale, not square, in anomalib's Folder layout, defects at the border."""

from pathlib import Path

import numpy as np
import pytest
import torch
from anomalib.data import Folder
from anomalib.engine import Engine
from lightning.pytorch import seed_everything
from PIL import Image
from torchmetrics.classification import BinaryAUROC

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.presets import LITE0_CPU
from anomalib_simplenet.tools.generated_data import make_synthetic_dataset

WIDTH, HEIGHT = 200, 64  # a wide strip, as a line camera or a cropped part would give


def _gray_strip(path: Path) -> Image.Image:
    return Image.open(path).convert("L").resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)


@pytest.fixture(scope="module")
def folder_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """good/ and defect/ folders of 8-bit grayscale 200x64 images; every defect lies in the outer 6 % of the width."""
    source = make_synthetic_dataset(tmp_path_factory.mktemp("source"), n_train=40, n_test_good=8, n_test_defective=0)
    root = tmp_path_factory.mktemp("mine")
    for folder in ("good", "test_good", "defect", "masks"):
        (root / folder).mkdir()
    for path in sorted((source / "train" / "good").iterdir()):
        _gray_strip(path).save(root / "good" / path.name)
    rng = np.random.default_rng(0)
    for index, path in enumerate(sorted((source / "test" / "good").iterdir())):
        _gray_strip(path).save(root / "test_good" / path.name)
        pixels = np.asarray(_gray_strip(path)).copy()
        mask = np.zeros_like(pixels)
        left = index % 2 == 0  # half at the left edge, half at the right
        x0 = int(rng.integers(0, 6)) if left else WIDTH - 12 - int(rng.integers(0, 6))
        y0 = int(rng.integers(8, HEIGHT - 24))
        mask[y0 : y0 + 16, x0 : x0 + 12] = 255
        pixels[mask > 0] = 20  # a dark spot, cut by the image edge or almost
        Image.fromarray(pixels).save(root / "defect" / path.name)
        Image.fromarray(mask).save(root / "masks" / path.name)
    return root


def test_grayscale_strips_train_and_border_defects_are_found(folder_dataset: Path, tmp_path: Path, lite0_weights) -> None:
    seed_everything(0)
    datamodule = Folder(
        name="strips",
        root=folder_dataset,
        normal_dir="good",
        abnormal_dir="defect",
        normal_test_dir="test_good",
        mask_dir="masks",
        train_batch_size=8,
        eval_batch_size=8,
        num_workers=0,
        val_split_mode="synthetic",
        val_split_ratio=0.2,
    )
    model = SimpleNet(**LITE0_CPU, backbone_weights=lite0_weights, max_epochs=10)  # default pre-processing: whole image
    engine = Engine(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    engine.fit(model, datamodule=datamodule)
    predictions = engine.predict(model, dataloaders=datamodule.test_dataloader())
    scores = torch.cat([batch.pred_score for batch in predictions])
    labels = torch.cat([batch.gt_label for batch in predictions])
    assert predictions[0].anomaly_map.shape[-2:] == (256, 256)  # the whole strip, resized: nothing cropped away
    assert BinaryAUROC()(scores, labels.int()) >= 0.9  # border defects are seen (a 256 -> 224 crop cuts them away)
