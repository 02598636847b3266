"""Every use of Lightning's internals, in one place and outside the model folder: the swap of the training loader.

Lightning has no public way to change a running fit's training data. :mod:`anomalib_simplenet.stored_feature_loader`
needs one: after the first epoch it makes the fit loop draw its batches from a loader over the stored features, so
later epochs read no image. It reads the fit loop's combined training loader (``trainer.fit_loop._combined_loader``)
and replaces its one loader. Tested against the installed Lightning (``tests/unit/test_lightning_compat.py``), which is
why ``pyproject.toml`` bounds ``lightning`` to the versions tested. The model folder (``anomalib_simplenet/simplenet/``)
uses public Lightning only; without this module a fit still runs the backbone only once per image, and reads the
images in every epoch.
"""

from lightning.pytorch import Trainer
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DataLoader


def training_loader(trainer: Trainer) -> CombinedLoader | None:
    """Return the fit loop's combined training loader, or ``None`` before it exists (or if Lightning moved it)."""
    combined = getattr(trainer.fit_loop, "_combined_loader", None)
    return combined if isinstance(combined, CombinedLoader) else None


def replace_training_loader(combined: CombinedLoader, loader: DataLoader) -> None:
    """Make ``loader`` the only loader the running fit loop draws training batches from, from the next epoch on."""
    combined.flattened = [loader]
