# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Training schedule: the trainer's settings win; SimpleNet's own ``max_epochs`` applies only where there are none.

anomalib's ``Engine`` lets a model's ``trainer_arguments`` replace what the user passed to the trainer, so
SimpleNet keeps its epoch count out of them. Lightning, for its part, fills a missing ``max_epochs`` with its
default of 1000 when a fit starts, before any hook of the model runs. So in ``setup("fit")`` SimpleNet looks
for exactly that state -- ``max_epochs`` at Lightning's default, no ``max_steps``, no ``max_time`` -- and only
then trains for its own schedule (a bare ``anomalib train``, anomalib's benchmark pipeline, ``Engine()``).
Lightning does not say whether a ``max_epochs`` of 1000 was filled in or given; a user who wants 1000 epochs
passes ``max_steps`` or SimpleNet's own ``max_epochs=1000``.

SimpleNet selects nothing on validation data, so validation only fits anomalib's thresholds on the
final model: with Lightning's default ``check_val_every_n_epoch=1`` it is moved to the end of the schedule.
"""

import logging

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.trainer.states import TrainerFn

logger = logging.getLogger(__name__)

# The max_epochs Lightning gives a fit whose trainer sets no max_epochs, max_steps or max_time.
LIGHTNING_DEFAULT_MAX_EPOCHS = 1000


def apply_default_schedule(trainer: Trainer, max_epochs: int) -> None:
    """Give a trainer that fits without any limit of the user's the schedule of ``max_epochs`` epochs.

    Called from the model's ``setup("fit")``, after Lightning has filled in its defaults.

    Args:
        trainer (Trainer): The trainer about to fit.
        max_epochs (int): SimpleNet's own number of epochs.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from lightning.pytorch.trainer.states import TrainerFn
        >>> trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.state.fn = TrainerFn.FITTING
        >>> trainer.fit_loop.max_epochs = 1000  # as Lightning fills it in when the fit starts
        >>> apply_default_schedule(trainer, 20)
        >>> trainer.max_epochs
        20
        >>> trainer = Trainer(max_epochs=3, logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.state.fn = TrainerFn.FITTING
        >>> apply_default_schedule(trainer, 20)
        >>> trainer.max_epochs
        3

    """
    if trainer.state.fn != TrainerFn.FITTING:
        return
    timer = any(isinstance(callback, Timer) for callback in trainer.callbacks)
    if trainer.max_epochs == LIGHTNING_DEFAULT_MAX_EPOCHS and trainer.max_steps == -1 and not timer:
        trainer.fit_loop.max_epochs = max_epochs
        logger.info(
            "The trainer sets no max_epochs, max_steps or max_time: SimpleNet trains for its own schedule of %d epochs "
            "(model argument max_epochs). Pass --trainer.max_epochs to train for another number.",
            max_epochs,
        )
        return
    given = {
        "max_epochs": trainer.max_epochs if trainer.max_epochs not in {None, -1} else None,
        "max_steps": None if trainer.max_steps == -1 else trainer.max_steps,
        "max_time": "set" if timer else None,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if given != {"max_epochs": max_epochs}:
        logger.info(
            "Training as the trainer says (%s); SimpleNet's own schedule (max_epochs=%d) applies only when the trainer "
            "sets no limit.",
            ", ".join(f"{name}={value}" for name, value in given.items()),
            max_epochs,
        )


def validate_once_at_end(trainer: Trainer) -> None:
    """Run validation (anomalib's thresholds) after the last epoch only, unless the user chose an interval.

    Lightning's default ``check_val_every_n_epoch=1`` counts as no choice; with ``max_steps`` and no
    ``max_epochs`` the number of epochs is not fixed, and Lightning's cadence is kept.

    Args:
        trainer (Trainer): The trainer at the start of training.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> trainer = Trainer(max_epochs=20, logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> validate_once_at_end(trainer)
        >>> trainer.check_val_every_n_epoch
        20

    """
    if trainer.check_val_every_n_epoch == 1 and trainer.max_epochs is not None and trainer.max_epochs > 1:
        trainer.check_val_every_n_epoch = trainer.max_epochs


def last_epoch_ends(trainer: Trainer) -> bool:
    """Tell, at the end of a training epoch, whether it is the fit's last: the schedule is done or the trainer stops.

    Args:
        trainer (Trainer): The trainer at the end of a training epoch.

    Returns:
        bool: Whether no epoch follows.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> trainer = Trainer(max_epochs=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> last_epoch_ends(trainer)  # epoch 0 of 1
        True

    """
    max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
    return (
        trainer.should_stop
        or (max_epochs is not None and 0 <= max_epochs <= trainer.current_epoch + 1)
        or (max_steps is not None and 0 < max_steps <= trainer.global_step)
    )
