# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""A fit that learns nothing is reported: the training loss still at its no-separation floor, with what to change.

When the discriminator cannot tell the noisy (anomalous) features from the normal ones, the truncated L1
loss stays near ``th+ - th-`` (:meth:`~.loss.TruncatedL1Loss.cannot_separate`;
cross-entropy near 2 ln 2) and the model will find no defects. That happens when the noise is far below the
spread of the features, e.g. the paper's absolute ``noise_std=0.015`` on a backbone whose features are large.
:class:`LearningCheck` looks once per fit, after :data:`LEARNING_CHECK_STEPS` optimiser steps or at the end of
a shorter fit. It is a Lightning callback, which :class:`~.lightning_model.SimpleNet` returns from
``configure_callbacks``.
"""

import logging

from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn

from .schedule import last_epoch_ends

logger = logging.getLogger(__name__)

# A loss still at its no-separation floor after this many optimiser steps (or at the end of a shorter fit) is reported.
LEARNING_CHECK_STEPS = 100


class LearningCheck(Callback):
    """Warn once per fit when the training loss shows a discriminator that learns nothing.

    Example:
        >>> from anomalib.models import SimpleNet
        >>> model = SimpleNet(backbone="resnet18", layers=("layer2",), pre_trained=False, noise_scale="absolute").model
        >>> check = LearningCheck()
        >>> check.after_epoch(model, loss=1.0, steps=10, epochs=1, last_epoch=False)  # too early to tell
        False
        >>> check.after_epoch(model, loss=1.0, steps=120, epochs=3, last_epoch=False)  # reported, once
        True
        >>> check.after_epoch(model, loss=1.0, steps=240, epochs=6, last_epoch=True)
        False

    """

    def __init__(self) -> None:
        self.done = False

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Make the check due again: a new fit begins."""
        del trainer, pl_module
        self.done = False

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Look at the epoch's mean training loss (``train_loss``) if the check is due."""
        loss = trainer.callback_metrics.get("train_loss")
        loss = None if loss is None else float(loss)
        self.after_epoch(pl_module.model, loss, trainer.global_step, trainer.current_epoch + 1, last_epoch_ends(trainer))

    def after_epoch(self, model: nn.Module, loss: float | None, steps: int, epochs: int, last_epoch: bool) -> bool:
        """Look at the epoch's mean training ``loss`` if the check is due; return whether it warned."""
        if self.done or not (steps >= LEARNING_CHECK_STEPS or last_epoch):
            return False
        self.done = True
        if loss is None or not model.loss.cannot_separate(float(loss)):
            return False
        generator = model.anomalous_feature_generator
        if generator.noise_scale == "absolute":
            advice = (
                f"the absolute noise_std={generator.noise_std} is probably far below the spread of "
                f"{model.feature_extractor.backbone_name} features: use noise_scale='relative' (the default) "
                "or a larger noise_std"
            )
        else:
            advice = f"raise noise_std (now {generator.noise_std} of each channel's std)"
        if steps < LEARNING_CHECK_STEPS:  # a short fit: too few steps may be the whole reason
            advice = (
                f"train longer (SimpleNet's default is 20 epochs; --trainer.max_epochs); if the loss is still there after "
                f"{LEARNING_CHECK_STEPS} steps, {advice}"
            )
        logger.warning(
            "SimpleNet's training loss is still %.3f after %s%d steps (%d epoch%s): the discriminator cannot tell the "
            "noisy (anomalous) features from the normal ones, so the model will not find defects. To fix: %s.",
            float(loss),
            "only " if steps < LEARNING_CHECK_STEPS else "",
            steps,
            epochs,
            "" if epochs == 1 else "s",
            advice,
        )
        return True
