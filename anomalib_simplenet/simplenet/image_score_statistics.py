# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Fitting the standardised image score: each location's statistics, from the final head's scores of the training images.

``image_score="standardised_max"`` (:mod:`.image_score`) measures each location's patch score against the
mean and standard deviation of the scores that location gets on the training images. Those statistics must
describe the head that validation, test, predict and export use -- the final one -- so they are fitted once
at the end of a fit: after the last epoch (before the checkpoint of that epoch is written), or before a
validation that runs during the fit, or, failing both, when training ends. The training images' features come
from the feature store when it holds them all (no image is read); otherwise from one pass over the batches the
trainer trains on. :class:`ImageScoreStatistics` is a Lightning callback, which
:class:`~.lightning_model.SimpleNet` returns from ``configure_callbacks``.
"""

import itertools
from collections.abc import Iterator

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn

from .feature_store import FeatureStore
from .schedule import last_epoch_ends


class ImageScoreStatistics(Callback):
    """Fit ``pl_module.model.image_score`` on the training images once the head has stopped changing.

    Args:
        feature_store (FeatureStore): The model's feature store, asked for the training images' features.

    Example:
        >>> statistics = ImageScoreStatistics(FeatureStore(budget_mb=None, dtype="auto"))
        >>> statistics.stale  # nothing trained yet: nothing to fit
        False

    """

    def __init__(self, feature_store: FeatureStore) -> None:
        self.feature_store = feature_store
        self.stale = False  # the head changed since the statistics were fitted

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: object) -> None:
        """Mark the statistics as due again: an optimiser step changed the head."""
        del trainer, pl_module, args
        self.stale = True

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After the last epoch, fit the statistics (the last checkpoint is written after this hook)."""
        if last_epoch_ends(trainer):
            self.fit(trainer, pl_module)

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Before validating during a fit, fit the statistics to the head as it is now."""
        if trainer.state.fn == TrainerFn.FITTING:
            self.fit(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Fit the statistics if a fit ended where no epoch end saw it coming."""
        self.fit(trainer, pl_module)

    @torch.no_grad()
    def fit(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Fit the statistics on the patch scores of every training image, if they are stale and used."""
        model = pl_module.model
        if not (self.stale and model.image_score.needs_statistics):
            return
        was_training = model.training
        model.eval()
        scores = torch.cat([model.patch_scores(features) for features in self._training_features(trainer, pl_module)])
        model.image_score.fit(scores)
        model.train(was_training)
        self.stale = False

    def _training_features(self, trainer: Trainer, pl_module: LightningModule) -> Iterator[torch.Tensor]:
        stored = self.feature_store.complete_features()
        if stored is not None:  # every training image's features are in memory
            yield from (features.to(pl_module.device, torch.float32) for features in stored.split(32))
            return
        transform = getattr(pl_module.pre_processor, "transform", None) or nn.Identity()
        for batch in itertools.islice(trainer.train_dataloader, trainer.num_training_batches):  # limit_train_batches too
            yield pl_module.model.feature_extractor(transform(batch.image.to(pl_module.device)))
