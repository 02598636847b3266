"""A fit that learns nothing is reported: the training loss still at its no-separation floor, with what to change.

When the discriminator cannot tell the noisy (anomalous) features from the normal ones, the truncated L1
loss stays near ``th+ - th-`` (:meth:`~anomalib_simplenet.loss.TruncatedL1Loss.cannot_separate`) and the
model will find no defects. That happens when the noise is far below the spread of the features, e.g. the
paper's absolute ``noise_std=0.015`` on a backbone whose features are large. :class:`LearningCheck` looks
once per fit, after :data:`LEARNING_CHECK_STEPS` optimiser steps or at the end of a shorter fit.
"""

import logging

from .torch_model import SimpleNetModel

logger = logging.getLogger(__name__)

# A loss still at its no-separation floor after this many optimiser steps (or at the end of a shorter fit) is reported.
LEARNING_CHECK_STEPS = 100


class LearningCheck:
    """Warn once per fit when the training loss shows a discriminator that learns nothing.

    Example:
        >>> model = SimpleNetModel("resnet18", ("layer2",), pre_trained=False, discriminator_hidden=8, noise_scale="absolute")
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

    def start(self) -> None:
        """Make the check due again: a new fit begins."""
        self.done = False

    def after_epoch(self, model: SimpleNetModel, loss: float | None, steps: int, epochs: int, last_epoch: bool) -> bool:
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
        logger.warning(
            "SimpleNet's training loss is still %.3f after %d steps (%d epochs): the discriminator cannot tell the noisy "
            "(anomalous) features from the normal ones, so the model will not find defects. To fix: %s.",
            float(loss),
            steps,
            epochs,
            advice,
        )
        return True
