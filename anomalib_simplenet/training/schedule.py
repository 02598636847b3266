"""Training schedule: the trainer's settings win; SimpleNet's own ``max_epochs`` applies only where there are none.

anomalib's ``Engine`` lets a model's ``trainer_arguments`` replace what the user passed to the trainer, so
SimpleNet keeps its epoch count out of them. Instead it uses the moment Lightning attaches the trainer to
the model at the start of ``Trainer.fit``, before Lightning fills a missing ``max_epochs`` with its own
default of 1000: if the trainer has no ``max_epochs``, ``max_steps`` or ``max_time`` (a bare ``anomalib
train``, anomalib's benchmark pipeline), SimpleNet's schedule is set there; otherwise the trainer's stands.

SimpleNet selects nothing on validation data, so validation only fits anomalib's thresholds on the
final model: with Lightning's default ``check_val_every_n_epoch=1`` it is moved to the end of the schedule.
"""

import logging

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.trainer.states import TrainerFn

from ..lightning_compat import max_epochs_as_given, set_max_epochs

logger = logging.getLogger(__name__)


def apply_default_schedule(trainer: Trainer, max_epochs: int) -> None:
    """Give a trainer that is about to fit without any limit of the user's the schedule of ``max_epochs`` epochs.

    Example:
        >>> from lightning.pytorch import Trainer
        >>> from lightning.pytorch.trainer.states import TrainerFn
        >>> trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.state.fn = TrainerFn.FITTING
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
    limits = {
        "max_epochs": max_epochs_as_given(trainer),
        "max_steps": None if trainer.max_steps == -1 else trainer.max_steps,
        "max_time": "set" if any(isinstance(callback, Timer) for callback in trainer.callbacks) else None,
    }
    given = {name: value for name, value in limits.items() if value is not None}
    if not given:
        set_max_epochs(trainer, max_epochs)
        logger.info(
            "The trainer sets no max_epochs, max_steps or max_time: SimpleNet trains for its own schedule of %d epochs "
            "(model argument max_epochs). Pass --trainer.max_epochs to train for another number.",
            max_epochs,
        )
    elif given != {"max_epochs": max_epochs}:
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
