"""Checks around SimpleNet's fit and its checkpoints: bad input named by file, damaged and foreign checkpoints refused.

- :mod:`.data_checks`: unreadable or 16-bit training images, masks of another size, NaN/Inf inputs, empty or anomalous
  training sets, and the warning when the validation set is the test set.
- :mod:`.checkpoint`: damaged and foreign checkpoints refused by name, the saved architecture adopted, the random state
  kept for resumed fits (the ``CheckpointHooks`` mixin of the model).

The model package imports these names from here, never the modules inside.
"""

from .checkpoint import CheckpointHooks
from .data_checks import check_datamodule, check_finite, check_training_data, reject_anomalous_training_images

__all__ = ["CheckpointHooks", "check_datamodule", "check_finite", "check_training_data", "reject_anomalous_training_images"]
