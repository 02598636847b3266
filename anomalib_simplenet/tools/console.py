"""What the project's commands print: their own progress and results, errors and real warnings; not libraries' chatter.

Lightning announces itself on every fit (``GPU available``, ``TPU available``, a tip to install a cloud logger,
``Trainer.fit stopped``, ``Restoring states from the checkpoint``) and, when a test follows a fit with the same trainer,
that the model's callbacks "override" themselves. It logs them at INFO through the loggers below, which
:func:`quiet_libraries` raises to WARNING, so warnings and errors still show. Python warnings are filtered only for the
few messages of this kind that Lightning and PyTorch give as warnings.

Example:
    >>> import logging
    >>> quiet_libraries()
    >>> logging.getLogger("lightning_fabric.utilities.rank_zero").isEnabledFor(logging.INFO)
    False
    >>> logging.getLogger("lightning_fabric.utilities.rank_zero").isEnabledFor(logging.WARNING)
    True

"""

import logging
import warnings

# Lightning's messages go through whichever of its packages imported ``lightning_utilities``' rank-zero logger last.
LOGGERS_AT_WARNING = (
    "anomalib_simplenet",  # the package's own notes (which schedule applies, ...): for `anomalib train`, not here
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
    "pytorch_lightning",
    "lightning_utilities",
    "anomalib",
    "timm",
    "nncf",
)
# The ONNX step of an OpenVINO export narrates, as warnings with a traceback, an opset fallback that does not matter.
LOGGERS_AT_ERROR = ("onnxscript", "torch.onnx")
# Warnings that say nothing to a user of these commands (each is about how a library is wired, not about the data).
NOISE = (
    r"Found \d+ module\(s\) in eval mode",  # the frozen backbone is in eval mode on purpose
    r".*isinstance\(treespec, LeafSpec\)",  # a deprecation inside Lightning
    r"The '\w+_dataloader' does not have many workers",  # small data: workers would cost more than they save
    r"`max_epochs` was not set",  # SimpleNet then applies its own schedule, and says so
)


def quiet_libraries() -> None:
    """Keep the console to the command's own lines: library loggers at WARNING, and Lightning's noise filtered."""
    for name in LOGGERS_AT_WARNING:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in LOGGERS_AT_ERROR:
        logging.getLogger(name).setLevel(logging.ERROR)
    for message in NOISE:
        warnings.filterwarnings("ignore", message=message)
