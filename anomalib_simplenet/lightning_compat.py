"""Every use of Lightning's internals, in one place: what SimpleNet relies on that Lightning does not promise.

Three things, each tested against the installed Lightning (``tests/unit/test_lightning_compat.py``) and the reason
``pyproject.toml`` bounds ``lightning`` to the versions tested:

* :func:`training_loader` / :func:`replace_training_loader` -- the fit loop's combined training loader
  (``trainer.fit_loop._combined_loader``), read by the feature store to find the image loader and swapped for a
  loader over stored features after the first epoch.
* :func:`max_epochs_as_given` / :func:`set_max_epochs` -- the fit loop's ``max_epochs`` is still ``None`` when the
  trainer is attached and the user gave none; Lightning fills in its default of 1000 later.
* :func:`trainer_property` -- ``LightningModule.trainer`` with a hook that runs when Lightning attaches a trainer,
  which is the moment the schedule can still be set.
"""

from collections.abc import Callable

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader


def training_loader(trainer: Trainer) -> CombinedLoader | None:
    """Return the fit loop's combined training loader, or ``None`` before it exists (or if Lightning moved it)."""
    combined = getattr(trainer.fit_loop, "_combined_loader", None)
    return combined if isinstance(combined, CombinedLoader) else None


def replace_training_loader(combined: CombinedLoader, loader: DataLoader) -> None:
    """Make ``loader`` the only loader the running fit loop draws training batches from, from the next epoch on."""
    combined.flattened = [loader]


def max_epochs_as_given(trainer: Trainer) -> int | None:
    """Return ``max_epochs`` as the user gave it: ``None`` when none was given (before Lightning's default)."""
    return trainer.fit_loop.max_epochs


def set_max_epochs(trainer: Trainer, max_epochs: int) -> None:
    """Set the number of epochs of the fit about to run."""
    trainer.fit_loop.max_epochs = max_epochs


def trainer_property(on_attach: Callable[[LightningModule, Trainer], None]) -> property:
    """``LightningModule.trainer``, calling ``on_attach(module, trainer)`` whenever Lightning attaches a trainer.

    Example:
        >>> from lightning.pytorch import LightningModule, Trainer
        >>> seen = []
        >>> class Model(LightningModule):
        ...     trainer = trainer_property(lambda module, trainer: seen.append(trainer.max_epochs))
        >>> model = Model()
        >>> model.trainer = Trainer(max_epochs=3, logger=False, enable_progress_bar=False, enable_model_summary=False)
        >>> seen, model.trainer.max_epochs
        ([3], 3)

    """
    base = LightningModule.trainer

    def attach(module: LightningModule, trainer: Trainer | None) -> None:
        base.fset(module, trainer)
        if trainer is not None:
            on_attach(module, trainer)

    return property(base.fget, attach, doc="The Lightning trainer this model is attached to.")
