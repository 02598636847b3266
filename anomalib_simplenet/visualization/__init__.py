"""What SimpleNet shows a person: captioned heat maps on the image as the model saw it, and ``predictions.csv``.

- :mod:`.visualizer`: ``ScoredImageVisualizer``, the model's default anomalib visualizer.
- :mod:`.predictions`: the prediction table, the captions and the image as the model saw it, free of Lightning and
  anomalib (the exported-model command uses it), which is why ``ScoredImageVisualizer`` is imported only when asked for.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .visualizer import ScoredImageVisualizer

__all__ = ["ScoredImageVisualizer"]


def __getattr__(name: str) -> Any:  # noqa: ANN401
    """Import ``ScoredImageVisualizer`` (and with it anomalib and Lightning) on first access."""
    if name == "ScoredImageVisualizer":
        from .visualizer import ScoredImageVisualizer  # noqa: PLC0415

        return ScoredImageVisualizer
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
