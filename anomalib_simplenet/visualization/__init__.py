"""What SimpleNet shows a person: captioned heat maps on the image as the model saw it, and ``predictions.csv``.

- :mod:`.visualizer`: ``ScoredImageVisualizer``, the model's default anomalib visualizer.
- :mod:`.predictions`: the prediction table, the captions and the image as the model saw it, free of Lightning (the
  tools use it too).
"""

from .visualizer import ScoredImageVisualizer

__all__ = ["ScoredImageVisualizer"]
