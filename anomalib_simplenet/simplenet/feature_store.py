# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Feature store: one backbone pass per training image per fit; later epochs train on the features kept in memory.

The feature extractor is frozen, so with a deterministic training transform its output for an image
is the same in every epoch. The authors' code runs the backbone again on every image in every epoch
(160 times per image); here each fit does it once.

How it fits into Lightning's loop, step by step:

1. ``on_train_start`` (:meth:`FeatureStore.start`): decide whether the store can be used. It cannot
   when a training transform may be random -- read from the model's pre-processor *and* from the
   transform attached to the training dataset itself, where anomalib's datamodules put
   ``train_augmentations`` --, when the training dataloader was passed without a datamodule, when
   its sampler is not a plain random or sequential one, when Lightning limits or reloads training
   batches, or when the schedule has a single epoch (:mod:`.feature_store_eligibility`). Each case is
   logged with its reason; training then extracts features in every epoch, exactly as without a store.
2. The first epoch of every fit trains on images as usual, and :meth:`FeatureStore.record` writes
   each batch's features into one preallocated tensor at the dataset index of their image. Its size
   is known at the first batch; above the memory budget the store steps aside, with a log line
   naming the size.
3. From the second epoch on, :meth:`FeatureStore.lookup` gives the model a batch's features by the
   paths of its images, and the backbone does not run. The training loader, its random draws and
   Lightning's loop are untouched, so the same seed gives the same model with or without the store.
   A training batch may also arrive as a :class:`StoredFeatureBatch` (features instead of images, from
   a loader over :attr:`FeatureStore.features`, which a package around the model may swap in to skip
   reading the images too); the model trains on its features directly.
4. The store is emptied at the end of every fit and when a fit raises (:meth:`FeatureStore.clear`), and
   at the start of the next one. To hear of a fit that raised, the store is a Lightning callback, which
   the model returns from ``configure_callbacks``.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from .feature_store_eligibility import reasons_to_extract_every_epoch

logger = logging.getLogger(__name__)

STORE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
StoreDtype = Literal["auto", "float32", "float16"]
# Keep the store on the GPU only if it takes at most this share of the GPU memory free at the start of training.
GPU_SHARE = 0.5


def default_budget_mb() -> float:
    """Half of the memory the system has available now (Linux), else 4096 MiB.

    Returns:
        float: The budget in MiB.

    Example:
        >>> default_budget_mb() > 0
        True

    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024 / 2
    except OSError:
        pass
    return 4096.0


@dataclass
class StoredFeatureBatch:
    """A batch of stored extractor outputs ``(B, C, H, W)`` to train on instead of images.

    ``image`` and ``gt_mask`` are ``None``: anomalib's pre-processor reads them at every training batch, and
    deterministic torchvision transforms pass ``None`` through unchanged.

    Args:
        features (torch.Tensor): Extractor outputs ``(B, C, H, W)``.

    Example:
        >>> import torch
        >>> len(StoredFeatureBatch(torch.zeros(4, 8, 2, 2)))
        4

    """

    features: torch.Tensor
    image: None = None
    gt_mask: None = None

    def __len__(self) -> int:
        """Return the number of images in the batch."""
        return len(self.features)


class FeatureStore(Callback):
    """Keep the extractor's output for every training image during a fit (see the module docstring).

    A Lightning callback, so that it also hears of a fit that raised (``on_exception``); the model
    returns it from ``configure_callbacks``, hands it each first-epoch batch's features (:meth:`record`)
    and asks it for them in later epochs (:meth:`lookup`).

    Args:
        budget_mb (float | None): Largest store, in MiB; ``0`` turns the store off, ``None`` takes half of the
            memory available when training starts.
        dtype (StoreDtype): ``"auto"``: float32 when the store fits the budget that way, else float16 when that fits
            (logged); ``"float32"`` (exact) or ``"float16"`` (half the memory; features rounded to 11 bits) as asked,
            and no store when that does not fit.

    Example:
        >>> store = FeatureStore(budget_mb=0, dtype="auto")
        >>> store.active
        False

    """

    def __init__(self, budget_mb: float | None, dtype: StoreDtype) -> None:
        if budget_mb is not None and not budget_mb >= 0:
            msg = f"feature_store_mb must be >= 0 (0 turns the store off) or None (automatic), got {budget_mb!r}."
            raise ValueError(msg)
        if dtype != "auto" and dtype not in STORE_DTYPES:
            msg = f"feature_store_dtype must be one of {['auto', *STORE_DTYPES]}, got {dtype!r}."
            raise ValueError(msg)
        self.budget_mb = budget_mb
        self.dtypes = list(STORE_DTYPES.values()) if dtype == "auto" else [STORE_DTYPES[dtype]]
        self.active = False  # this fit keeps features
        self.complete = False  # every training image's features are kept: the backbone need not run again
        self.features: torch.Tensor | None = None
        self._filled: torch.Tensor | None = None
        self._index_of: dict[str, list[int]] = {}
        self._count = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored features."""
        return 0 if self.features is None else self.features.nbytes

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Empty the store and decide whether this fit can use it; log the reason when it cannot."""
        self.start(trainer, getattr(getattr(pl_module, "pre_processor", None), "transform", None))

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After the first epoch of a fit: later epochs train on the stored features."""
        del trainer, pl_module
        self.end_epoch()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Free the stored features; they are not needed after training."""
        del trainer, pl_module
        self.clear()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Free the stored features of a fit that raised, so the next fit starts clean."""
        del trainer, pl_module, exception
        self.clear()

    def start(self, trainer: Trainer, model_transform: object | None) -> None:
        """Empty the store and decide whether this fit can keep features.

        Args:
            trainer (Trainer): The trainer about to fit.
            model_transform (object | None): The model's pre-processing transform.

        """
        self.clear()
        reason = next(reasons_to_extract_every_epoch(trainer, model_transform, self.budget_mb), None)
        if reason:
            self._stop(reason)
            return
        paths = trainer.train_dataloader.dataset.samples["image_path"]  # one anomalib loader: eligibility checked it
        for index, path in enumerate(paths):
            self._index_of.setdefault(str(path), []).append(index)
        self._count = len(paths)
        self.active = True

    def record(self, image_paths: Sequence[str] | None, features: torch.Tensor) -> None:
        """During the first epoch of a fit: keep the features of a batch.

        Args:
            image_paths (Sequence[str] | None): The batch's image paths.
            features (torch.Tensor): The extractor's output for the batch ``(B, C, H, W)``.

        """
        if not self.active or self.complete:
            return
        if self.features is None and not self._allocate(features):
            return
        missing = [path for path in image_paths or [None] if str(path) not in self._index_of]
        if missing:
            self._stop(f"training image {missing[0]} is not in the training dataset's list of images")
            return
        for path, feature in zip(image_paths, features.detach(), strict=True):
            for index in self._index_of[str(path)]:
                self.features[index] = feature
                self._filled[index] = True

    def lookup(self, image_paths: Sequence[str] | None, device: torch.device) -> torch.Tensor | None:
        """Return the stored features of a batch's images once the store is complete, else ``None``.

        Args:
            image_paths (Sequence[str] | None): The batch's image paths.
            device (torch.device): Where the model runs.

        Returns:
            torch.Tensor | None: Features ``(B, C, H, W)`` in float32, or ``None`` (run the backbone).

        """
        if not self.complete or not image_paths:
            return None
        indices = [self._index_of.get(str(path), [None])[0] for path in image_paths]
        if None in indices:
            return None
        return self.features[indices].to(device, torch.float32)

    def _allocate(self, features: torch.Tensor) -> bool:
        count = self._count
        shape = (count, *features.shape[1:])
        budget_mb = default_budget_mb() if self.budget_mb is None else self.budget_mb
        fitting = [dtype for dtype in self.dtypes if math.prod(shape) * dtype.itemsize / 2**20 <= budget_mb]
        if not fitting:
            need_mb = math.prod(shape) * self.dtypes[-1].itemsize / 2**20
            hint = "" if torch.float16 in self.dtypes else ", or set feature_store_dtype='float16' to halve it"
            self._stop(
                f"the features of {count} training images need {need_mb:.0f} MiB, over the budget of {budget_mb:.0f} MiB "
                f"(raise feature_store_mb{hint})"
            )
            return False
        dtype = fitting[0]
        if dtype != self.dtypes[0]:
            logger.info("Feature store in %s: in %s it would exceed the budget of %.0f MiB.", dtype, self.dtypes[0], budget_mb)
        need_mb = math.prod(shape) * dtype.itemsize / 2**20
        device = torch.device("cpu")
        if features.device.type == "cuda":
            free_bytes, _ = torch.cuda.mem_get_info(features.device)
            if need_mb * 2**20 <= GPU_SHARE * free_bytes:
                device = features.device
        self.features = torch.empty(shape, dtype=dtype, device=device)
        self._filled = torch.zeros(count, dtype=torch.bool)
        return True

    def complete_features(self) -> torch.Tensor | None:
        """Return the features of every training image ``(N, C, H, W)`` once all are stored, else ``None``."""
        if not self.active or self.features is None or not bool(self._filled.all()):
            return None
        return self.features

    def end_epoch(self) -> None:
        """After the first epoch: from now on the stored features stand in for the backbone (once every image is stored)."""
        if not self.active or self.complete:
            return
        if self.features is None or not bool(self._filled.all()):
            seen = 0 if self._filled is None else int(self._filled.sum())
            self._stop(f"only {seen} of {self._count} training images were seen in the first epoch")
            return
        self.complete = True
        logger.info("%s; the following epochs train on them without running the backbone.", self.summary())

    def _stop(self, reason: str) -> None:
        logger.info("Feature store off: %s. Backbone features are recomputed in every epoch.", reason)
        self.clear()

    def clear(self) -> None:
        """Drop the stored features."""
        self.active = self.complete = False
        self.features = self._filled = None
        self._index_of = {}
        self._count = 0

    def summary(self) -> str:
        """One line for the log: images, size, dtype and device of the store."""
        if self.features is None:
            return "feature store: empty"
        count, *shape = self.features.shape
        return (
            f"Feature store: {count} training images x {tuple(shape)} features, {self.nbytes / 2**20:.1f} MiB "
            f"({str(self.features.dtype).removeprefix('torch.')}, {self.features.device.type})"
        )
