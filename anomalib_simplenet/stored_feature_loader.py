"""Later epochs of a SimpleNet fit read no image: a loader over the stored features replaces the image loader.

The model folder's feature store (:mod:`anomalib_simplenet.simplenet.feature_store`) keeps every training image's
features after the first epoch, so the backbone runs once per image; the images are still read and decoded in every
epoch, because Lightning has no public way to change a running fit's training data. :class:`StoredFeatureLoader`
does it through :mod:`anomalib_simplenet.lightning_compat`: once the store is complete it swaps the fit loop's image
loader for one over the stored features that draws batches as the image loader did -- same sampler kind, batch
size and ``drop_last``, and the same random draws, so the same seed gives the same model -- and puts the image
loader back when the fit ends or raises. The registration (:mod:`anomalib_simplenet.registration`) adds it to every
SimpleNet fit through the model's ``extra_fit_callbacks``.
"""

import logging

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from .lightning_compat import replace_training_loader, training_loader
from .simplenet.feature_store import FeatureStore, StoredFeatureBatch

logger = logging.getLogger(__name__)


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


def feature_loader(features: torch.Tensor, image_loader: DataLoader) -> DataLoader:
    """Build a loader over ``features`` (one per image, in dataset order) making the same random draws as ``image_loader``.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader
        >>> images = DataLoader(list(range(10)), batch_size=4, shuffle=True)
        >>> _ = torch.manual_seed(0)
        >>> image_order = [batch.tolist() for batch in images]
        >>> _ = torch.manual_seed(0)
        >>> stored = [batch.features.flatten().int().tolist() for batch in feature_loader(torch.arange(10.0)[:, None], images)]
        >>> stored == image_order
        True

    """
    dataset = _StoredFeatures(features)
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


class StoredFeatureLoader(Callback):
    """Swap a fit's image loader for a loader over the feature store once the store holds every training image.

    Args:
        store: The model's feature store.

    Example:
        >>> from anomalib.models import SimpleNet
        >>> model = SimpleNet(backbone="resnet18", pre_trained=False)
        >>> any(isinstance(callback, StoredFeatureLoader) for callback in model.configure_callbacks())
        True

    """

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self.serving = False
        self._image_loader: DataLoader | None = None
        self._combined_loader: CombinedLoader | None = None

    @classmethod
    def for_model(cls, model: LightningModule) -> "StoredFeatureLoader":
        """Make the loader swap of a SimpleNet (what ``extra_fit_callbacks`` calls)."""
        return cls(model.feature_store)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Read images in a new fit until its store is complete."""
        del trainer, pl_module
        self.restore()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Once the store holds every training image (after the first epoch), serve the next epochs from it."""
        del pl_module
        features = self.store.complete_features()
        if self.serving or features is None:
            return
        combined = training_loader(trainer)
        if combined is None or len(combined.flattened) != 1 or not isinstance(combined.flattened[0], DataLoader):
            logger.info("Stored features not served as batches: the fit loop's training loader is not one DataLoader.")
            return
        self._combined_loader, self._image_loader = combined, combined.flattened[0]
        replace_training_loader(combined, feature_loader(features, self._image_loader))
        self.serving = True
        logger.info("The following epochs read no image: their batches are the stored features.")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Put the image loader back."""
        del trainer, pl_module
        self.restore()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Put the image loader back after a fit that raised."""
        del trainer, pl_module, exception
        self.restore()

    def restore(self) -> None:
        """Give the fit loop its image loader again, if it was swapped."""
        if self.serving and self._combined_loader is not None:
            replace_training_loader(self._combined_loader, self._image_loader)
        self.serving = False
        self._image_loader = self._combined_loader = None
