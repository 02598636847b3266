# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""When the feature store may keep features: only where a training image's features are the same in every epoch.

The frozen backbone gives the same features for the same input, so the store is exact when every training
epoch sees the same images through the same deterministic transform, in full batches of one anomalib
dataloader. :func:`reasons_to_extract_every_epoch` lists, first reason first, why that does not hold for a
fit; the store steps aside on the first one and logs it.
"""

from collections.abc import Iterable, Iterator

from anomalib.data.transforms import ExportableCenterCrop
from lightning.pytorch import Trainer
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler
from torchvision.transforms import v2

# Transforms whose output depends only on their input. Anything else in a training pipeline
# (RandomCrop, ColorJitter, a user's own class or Lambda, ...) may be random, and then features must be recomputed.
DETERMINISTIC_TRANSFORMS = (
    v2.Compose,
    v2.Resize,
    v2.CenterCrop,
    ExportableCenterCrop,
    v2.Normalize,
    v2.ToDtype,
    v2.ToImage,
    v2.ToPureTensor,
    v2.Identity,
    v2.Grayscale,
    v2.Pad,
)


def find_random_transforms(transforms: Iterable[object | None]) -> list[str]:
    """Names of the transforms, searched through ``Compose``, not known to be deterministic.

    Args:
        transforms (Iterable[object | None]): Transforms to search; ``None`` entries are skipped.

    Returns:
        list[str]: Class names of the transforms that may be random.

    Example:
        >>> from torchvision.transforms import v2
        >>> find_random_transforms([v2.Compose([v2.Resize(256), v2.RandomHorizontalFlip()]), None])
        ['RandomHorizontalFlip']

    """
    found: list[str] = []
    for transform in transforms:
        if transform is None:
            continue
        if type(transform) not in DETERMINISTIC_TRANSFORMS:
            found.append(type(transform).__name__)
        found.extend(find_random_transforms(getattr(transform, "transforms", [])))
    return found


def reasons_to_extract_every_epoch(trainer: Trainer, model_transform: object | None, budget_mb: float | None) -> Iterator[str]:
    """Why features cannot be kept for this fit, first reason first (lazily: the checks build on each other).

    The transform attached to the training dataset (where anomalib's datamodules put ``train_augmentations``) is read
    from the trainer's dataloader.

    Args:
        trainer (Trainer): The trainer about to fit.
        model_transform (object | None): The model's pre-processing transform.
        budget_mb (float | None): The store's budget (``0``: turned off).

    Yields:
        str: Each reason, first reason first.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> next(reasons_to_extract_every_epoch(Trainer(logger=False, enable_progress_bar=False), None, budget_mb=0))
        'turned off (feature_store_mb=0)'

    """
    if budget_mb == 0:
        yield "turned off (feature_store_mb=0)"
    if trainer.datamodule is None:
        yield "training dataloaders were passed without a datamodule, so the training data cannot be checked"
    loader = trainer.train_dataloader
    if not isinstance(loader, DataLoader):
        yield "the trainer does not hold exactly one training dataloader"
    dataset = getattr(loader, "dataset", None)
    if "image_path" not in getattr(dataset, "samples", {}):
        yield "the training data is not an anomalib dataset with image paths"
    random_transforms = find_random_transforms([model_transform])
    random_augmentations = find_random_transforms([getattr(dataset, "augmentations", None)])
    if random_transforms or random_augmentations:
        where = [f"{names} in the model's pre-processor" for names in [random_transforms] if names]
        where += [f"{names} attached to the training dataset" for names in [random_augmentations] if names]
        yield f"the training transform may be random ({'; '.join(where)})"
    if type(loader.sampler) not in {RandomSampler, SequentialSampler} or loader.batch_size is None:
        yield f"the training dataloader uses a custom sampler ({type(loader.batch_sampler).__name__})"
    if trainer.reload_dataloaders_every_n_epochs:
        yield "reload_dataloaders_every_n_epochs is set"
    if trainer.num_training_batches != len(loader):
        yield f"the trainer runs {trainer.num_training_batches} of {len(loader)} training batches per epoch"
    if trainer.max_epochs is not None and 0 <= trainer.max_epochs <= 1 + trainer.current_epoch:
        yield "this fit has a single epoch"
