# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Checks of the input that anomalib would otherwise take silently or report obscurely: each error names the file.

* :func:`check_training_images` -- before a fit, every training image must be readable, and none may have
  16- or 32-bit pixels: anomalib reads images as 8-bit RGB and clips larger values to 255, which would
  turn a 16-bit image into a mostly white one without a word.
* :func:`check_masks_match_images` -- a ground-truth mask of another size than its image would be stretched
  onto it by the resize, and the pixel metrics computed against a misplaced defect.
* :func:`check_finite` -- images with NaN or Inf values give NaN scores; they are refused by name.
* :func:`check_datamodule` -- what :meth:`SimpleNet.setup <.lightning_model.SimpleNet.setup>` checks: the masks of
  the validation and test data and, before a fit, a training set that is not empty and holds readable 8-bit images.
* :func:`check_training_data` -- at the start of training: batches to train on, and a warning when anomalib's
  thresholds would be fitted on the test set.
* :func:`reject_anomalous_training_images` -- SimpleNet learns from good images only.
"""

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from anomalib.data import Batch
from anomalib.data.utils import ValSplitMode
from lightning.pytorch import Trainer
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

# PIL modes of images with more than 8 bits per channel.
HIGH_BIT_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def check_training_images(paths: Iterable[str | Path]) -> None:
    """Open every training image (header and integrity check, no decoding); raise on the first bad one.

    Raises:
        ValueError: If an image cannot be read, or has 16/32-bit pixels; the message names the file.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (8, 8)).save(folder / "good.png")
        >>> check_training_images([folder / "good.png"])
        >>> Image.new("I;16", (8, 8)).save(folder / "deep.png")
        >>> check_training_images([folder / "deep.png"])
        Traceback (most recent call last):
        ...
        ValueError: Training image '...deep.png' has 16/32-bit pixels (PIL mode I;16)...

    """
    for path in paths:
        try:
            with Image.open(path) as image:
                mode = image.mode
                image.verify()
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
            msg = (
                f"Training image '{path}' cannot be read ({type(error).__name__}: {error}). "
                "Replace it with a good copy or remove it from the training folder, then train again."
            )
            raise ValueError(msg) from error
        if mode in HIGH_BIT_DEPTH_MODES:
            msg = (
                f"Training image '{path}' has 16/32-bit pixels (PIL mode {mode}). anomalib reads images as 8-bit RGB "
                "and clips values above 255, so it would train on a wrong, mostly white image. Convert the images "
                "to 8 bits per channel first (scale to 0..255), for training and inference alike."
            )
            raise ValueError(msg)


def check_masks_match_images(image_paths: Iterable[str | Path], mask_paths: Iterable[str | Path | None]) -> None:
    """Compare the pixel size of every mask file with its image's (headers only); raise on the first mismatch.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (64, 48)).save(folder / "a.png"); Image.new("L", (64, 48)).save(folder / "a_mask.png")
        >>> check_masks_match_images([folder / "a.png"], [folder / "a_mask.png"])
        >>> Image.new("L", (32, 32)).save(folder / "a_mask.png")
        >>> check_masks_match_images([folder / "a.png"], [folder / "a_mask.png"])
        Traceback (most recent call last):
        ...
        ValueError: Mask '...a_mask.png' is 32x32 pixels but its image '...a.png' is 64x48...

    """
    for image_path, mask_path in zip(image_paths, mask_paths, strict=True):
        if not mask_path or not Path(mask_path).is_file():
            continue
        with Image.open(image_path) as image, Image.open(mask_path) as mask:
            if image.size != mask.size:
                msg = (
                    f"Mask '{mask_path}' is {mask.size[0]}x{mask.size[1]} pixels but its image '{image_path}' is "
                    f"{image.size[0]}x{image.size[1]}: the resize would stretch the mask onto the image and the pixel "
                    "metrics would be computed against a misplaced defect. Give each mask its image's size."
                )
                raise ValueError(msg)


def check_finite(images: torch.Tensor, paths: Sequence[str] | None = None) -> None:
    """Refuse a batch with NaN or Inf values, naming the images (or their batch positions).

    Example:
        >>> check_finite(torch.zeros(2, 3, 4, 4))
        >>> check_finite(torch.full((1, 3, 4, 4), float("nan")), ["a.png"])
        Traceback (most recent call last):
        ...
        ValueError: 1 input image(s) contain NaN or Inf values: ['a.png']...

    """
    finite = torch.isfinite(images.flatten(1)).all(dim=1)
    if bool(finite.all()):
        return
    bad = [str(paths[i]) if paths else f"batch position {i}" for i in torch.nonzero(~finite).flatten().tolist()]
    msg = (
        f"{len(bad)} input image(s) contain NaN or Inf values: {bad[:5]}. SimpleNet would score them NaN. "
        "Check the image source or the transform that produced them."
    )
    raise ValueError(msg)


def check_datamodule(datamodule: object, fitting: bool) -> None:
    """Check the masks of the validation and test data; before a fit, the training images too.

    Raises:
        ValueError: For a mask of another size than its image, an empty training set, or a bad training image.

    Example:
        >>> from types import SimpleNamespace
        >>> check_datamodule(None, fitting=False)  # no datamodule (dataloaders passed directly): nothing to check
        >>> check_datamodule(SimpleNamespace(train_data=[], root="data", category="bottle"), fitting=True)
        Traceback (most recent call last):
        ...
        ValueError: The training set is empty (root=data, category=bottle): SimpleNet trains on good ...

    """
    for subset in ("val_data", "test_data"):
        samples = getattr(getattr(datamodule, subset, None), "samples", {})
        if "mask_path" in samples and "image_path" in samples:
            check_masks_match_images(samples["image_path"], samples["mask_path"])
    if not fitting:
        return
    train_data = getattr(datamodule, "train_data", None)
    if train_data is not None and len(train_data) == 0:
        raise_empty_training_set(datamodule)
    if train_data is not None and "image_path" in getattr(train_data, "samples", {}):
        check_training_images(train_data.samples["image_path"])


def raise_empty_training_set(datamodule: object = None) -> None:
    """Raise the error for a training set without images, naming the datamodule's root, category and folder.

    Raises:
        ValueError: Always.

    """
    where = ", ".join(
        f"{name}={getattr(datamodule, name)!s}" for name in ("root", "category", "normal_dir") if getattr(datamodule, name, None)
    )
    msg = (
        f"The training set is empty ({where or 'no images'}): SimpleNet trains on good (defect-free) images. "
        "Check the dataset root, the category name and that the folder of good training images holds images."
    )
    raise ValueError(msg)


def check_training_data(trainer: Trainer) -> None:
    """At the start of training: refuse a fit without training batches; warn when validation data is test data.

    SimpleNet selects no epoch on validation data, but anomalib's post-processor fits its thresholds there.

    Raises:
        ValueError: If the trainer has no training batch (dataloaders passed without a datamodule, empty).

    """
    datamodule = getattr(trainer, "datamodule", None)
    if trainer.num_training_batches == 0:  # dataloaders passed without a datamodule
        raise_empty_training_set(datamodule)
    if getattr(datamodule, "val_split_mode", None) == ValSplitMode.SAME_AS_TEST:
        logger.warning(
            "The validation set is the test set (val_split_mode=same_as_test). SimpleNet selects no epoch on it, "
            "but anomalib's post-processor fits its image/pixel thresholds there. For thresholds independent "
            "of the test set use --data.val_split_mode synthetic (or from_train).",
        )


def reject_anomalous_training_images(batch: Batch) -> None:
    """Refuse a training batch with images labelled anomalous, naming some of them.

    Raises:
        ValueError: If any image of the batch has ``gt_label`` 1.

    Example:
        >>> from anomalib.data import ImageBatch
        >>> batch = ImageBatch(image=torch.rand(2, 3, 8, 8), gt_label=torch.tensor([0, 1]), image_path=["ok.png", "bad.png"])
        >>> reject_anomalous_training_images(batch)
        Traceback (most recent call last):
        ...
        ValueError: The training set contains 1 image(s) labelled anomalous, e.g. ['bad.png']...

    """
    if batch.gt_label is None or not bool(batch.gt_label.any()):
        return
    paths = [str(path) for path, label in zip(batch.image_path or [], batch.gt_label, strict=False) if label]
    msg = (
        f"The training set contains {int(batch.gt_label.sum())} image(s) labelled anomalous, e.g. {paths[:3]}. "
        "SimpleNet learns from good images only: move defective images to the test set."
    )
    raise ValueError(msg)
