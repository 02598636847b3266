"""How a SimpleNet fit runs around the model: its schedule and the Lightning callbacks the model returns.

- :mod:`.schedule`: whose epoch count applies (the trainer's, else SimpleNet's), validation once at the end.
- :mod:`.feature_store` (with :mod:`.feature_store_eligibility`): one backbone pass per training image per fit.
- :mod:`.image_score_statistics`: the standardised image score's per-location statistics, fitted on the final head.
- :mod:`.learning_check`: a fit that learns nothing is reported, with what to change.

Lightning's private attributes are reached only through :mod:`anomalib_simplenet.lightning_compat`. The model package
imports these names from here, never the modules inside.
"""

from .feature_store import FeatureStore, StoredFeatureBatch, StoreDtype
from .image_score_statistics import ImageScoreStatistics
from .learning_check import LearningCheck
from .schedule import apply_default_schedule, validate_once_at_end

__all__ = [
    "FeatureStore",
    "ImageScoreStatistics",
    "LearningCheck",
    "StoreDtype",
    "StoredFeatureBatch",
    "apply_default_schedule",
    "validate_once_at_end",
]
