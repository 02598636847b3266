"""Feature store: one backbone pass per training image per fit; later epochs train on features in memory.

The feature extractor is frozen, so with a deterministic training transform its output for an image
is the same in every epoch. The authors' code decodes every image and runs the backbone again in
every epoch (160 times per image); here each fit does it once.

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
3. At the end of that epoch (:meth:`FeatureStore.end_epoch`) the trainer's training dataloader is
   swapped for a loader over that tensor which draws batches as the image loader did: same sampler
   kind, batch size and ``drop_last``, and the same random draws, so the same seed gives the same
   shuffling and the same model. Lightning's loop, progress bar, callbacks, logging and checkpoints
   run unchanged; the batches are :class:`StoredFeatureBatch` instead of images.
4. The store is emptied, and the image loader put back, at the end of every fit and when a fit
   raises (:meth:`FeatureStore.clear`), and at the start of the next one. To hear of a fit that
   raised, the store is a Lightning callback, which the model returns from ``configure_callbacks``.
"""

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from ..lightning_compat import replace_training_loader, training_loader
from .feature_store_eligibility import reasons_to_extract_every_epoch

logger = logging.getLogger(__name__)

STORE_DTYPES = {"float32": torch.float32, "float16": torch.float16}
StoreDtype = Literal["auto", "float32", "float16"]
# Keep the store on the GPU only if it takes at most this share of the GPU memory free at the start of training.
GPU_SHARE = 0.5


def default_budget_mb() -> float:
    """Half of the memory the system has available now (Linux), else 4096 MiB.

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
    """A batch of stored extractor outputs ``(B, C, H, W)``: what later epochs train on instead of images.

    ``image`` and ``gt_mask`` are ``None``: anomalib's pre-processor reads them at every training batch, and
    deterministic torchvision transforms pass ``None`` through unchanged.

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


class _StoredFeatures(Dataset):
    """Index a feature tensor with a list of dataset indices, as the image loader's batch sampler draws them."""

    def __init__(self, features: torch.Tensor) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, indices: list[int]) -> StoredFeatureBatch:
        return StoredFeatureBatch(self.features[indices].float())


def _unbatched(batch: StoredFeatureBatch) -> StoredFeatureBatch:
    return batch


class FeatureStore(Callback):
    """Keep the extractor's output for every training image during a fit (see the module docstring).

    A Lightning callback, so that it also hears of a fit that raised (``on_exception``); the model
    returns it from ``configure_callbacks`` and hands it each first-epoch batch's features (:meth:`record`).

    Args:
        budget_mb: Largest store, in MiB; ``0`` turns the store off, ``None`` takes half of the memory
            available when training starts.
        dtype: ``"auto"`` (default): float32 when the store fits the budget that way, else float16 when that fits
            (logged); ``"float32"`` (exact) or ``"float16"`` (half the memory; features rounded to 11 bits) as asked,
            and no store when that does not fit.

    Example:
        >>> store = FeatureStore(budget_mb=0)
        >>> store.active
        False

    """

    def __init__(self, budget_mb: float | None = None, dtype: StoreDtype = "auto") -> None:
        if budget_mb is not None and not budget_mb >= 0:
            msg = f"feature_store_mb must be >= 0 (0 turns the store off) or None (automatic), got {budget_mb!r}."
            raise ValueError(msg)
        if dtype != "auto" and dtype not in STORE_DTYPES:
            msg = f"feature_store_dtype must be one of {['auto', *STORE_DTYPES]}, got {dtype!r}."
            raise ValueError(msg)
        self.budget_mb = budget_mb
        self.dtypes = list(STORE_DTYPES.values()) if dtype == "auto" else [STORE_DTYPES[dtype]]
        self.active = False
        self.serving = False
        self.features: torch.Tensor | None = None
        self._filled: torch.Tensor | None = None
        self._index_of: dict[str, list[int]] = {}
        self._image_loader: DataLoader | None = None
        self._combined_loader: CombinedLoader | None = None

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
        """Empty the store and decide whether this fit can use ``trainer``'s training data with ``model_transform``."""
        self.clear()
        reason = next(reasons_to_extract_every_epoch(trainer, model_transform, self.budget_mb), None)
        if reason:
            self._stop(reason)
            return
        self._combined_loader = training_loader(trainer)  # exists: eligibility checked it
        self._image_loader = self._combined_loader.flattened[0]
        paths = self._image_loader.dataset.samples["image_path"]
        for index, path in enumerate(paths):
            self._index_of.setdefault(str(path), []).append(index)
        self.active = True

    def record(self, image_paths: Sequence[str] | None, features: torch.Tensor) -> None:
        """During the first epoch of a fit: keep ``features`` of the images at ``image_paths``."""
        if not self.active or self.serving:
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

    def _allocate(self, features: torch.Tensor) -> bool:
        count = len(self._image_loader.dataset)
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
        """After the first epoch: swap the image loader for the store's loader (once every image is stored)."""
        if not self.active or self.serving:
            return
        if self.features is None or not bool(self._filled.all()):
            seen = 0 if self._filled is None else int(self._filled.sum())
            self._stop(f"only {seen} of {len(self._image_loader.dataset)} training images were seen in the first epoch")
            return
        replace_training_loader(self._combined_loader, self._feature_loader())
        self.serving = True
        logger.info("%s; the following epochs train on them without reading images.", self.summary())

    def _feature_loader(self) -> DataLoader:
        """Build a loader over the stored features that makes the same random draws as the image loader."""
        image_loader = self._image_loader
        dataset = _StoredFeatures(self.features)
        if isinstance(image_loader.sampler, RandomSampler):
            sampler = RandomSampler(dataset, generator=image_loader.sampler.generator)
        else:
            sampler = SequentialSampler(dataset)
        return DataLoader(
            dataset,
            batch_size=None,
            sampler=BatchSampler(sampler, image_loader.batch_size, image_loader.drop_last),
            collate_fn=_unbatched,
            generator=image_loader.generator,
        )

    def _stop(self, reason: str) -> None:
        logger.info("Feature store off: %s. Backbone features are recomputed in every epoch.", reason)
        self.clear()

    def clear(self) -> None:
        """Drop the stored features and put the image loader back into the trainer."""
        if self.serving and self._combined_loader is not None:
            replace_training_loader(self._combined_loader, self._image_loader)
        self.active = self.serving = False
        self.features = self._filled = self._image_loader = self._combined_loader = None
        self._index_of = {}

    def summary(self) -> str:
        """One line for the log: images, size, dtype and device of the store."""
        if self.features is None:
            return "feature store: empty"
        count, *shape = self.features.shape
        return (
            f"Feature store: {count} training images x {tuple(shape)} features, {self.nbytes / 2**20:.1f} MiB "
            f"({str(self.features.dtype).removeprefix('torch.')}, {self.features.device.type})"
        )
