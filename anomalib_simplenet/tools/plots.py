"""Pictures for people: a grid of heat maps over good and defective images, and the score histogram.

Both take :class:`ScoredImage` records, which :func:`records_from_batches` makes from what
``Engine.predict`` returns (anomalib ``ImageBatch``es, after post-processing: scores and maps in [0, 1],
0.5 being the threshold fitted on validation data).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")  # files only; also safe where no display exists
import numpy as np
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torchvision.transforms.v2 import Transform

from anomalib_simplenet.visualization.predictions import model_view

THRESHOLD = 0.5  # anomalib's post-processor maps the fitted threshold to 0.5


@dataclass
class ScoredImage:
    """One image with its prediction, ready to draw.

    Attributes:
        path: Image file.
        image: ``(H, W, 3)`` floats in [0, 1], the image as the model saw it (resized/cropped).
        anomaly_map: ``(H, W)`` normalised anomaly map.
        score: Normalised image score (anomalous above 0.5).
        anomalous: Predicted label.
        gt_label: True label, if known.
        gt_mask: ``(H, W)`` true defect mask, if known.

    Example:
        >>> record = ScoredImage("test/crack/0.png", np.zeros((4, 4, 3)), np.full((4, 4), 0.8), 0.8, True, True)
        >>> tuple(round(value, 1) for value in heat_inside_outside([record]))  # no mask: nothing to measure
        (nan, nan)

    """

    path: str
    image: np.ndarray
    anomaly_map: np.ndarray
    score: float
    anomalous: bool
    gt_label: bool | None = None
    gt_mask: np.ndarray | None = None


def _model_view(path: str, view: Transform | None, size: tuple[int, int]) -> np.ndarray:
    image = model_view(path, view)
    if tuple(image.shape[-2:]) != size:
        image = torch.nn.functional.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
    return image.permute(1, 2, 0).clamp(0, 1).numpy()


def records_from_batches(batches: Iterable, view: Transform | None = None) -> list[ScoredImage]:
    """Turn ``Engine.predict`` output into records; ``view`` is the pre-processor's resize/crop (no normalisation).

    Use :func:`anomalib_simplenet.visualization.predictions.geometric_transform` on ``model.pre_processor.transform``
    to get ``view``.
    """
    records = []
    for batch in batches:
        for item in batch:
            anomaly_map = item.anomaly_map.detach().cpu().float().reshape(item.anomaly_map.shape[-2:]).numpy()
            mask = None if item.gt_mask is None else item.gt_mask.detach().cpu().reshape(item.gt_mask.shape[-2:]).numpy() > 0
            records.append(
                ScoredImage(
                    path=str(item.image_path),
                    image=_model_view(str(item.image_path), view, anomaly_map.shape),
                    anomaly_map=anomaly_map,
                    score=float(item.pred_score),
                    anomalous=bool(item.pred_label),
                    gt_label=None if item.gt_label is None else bool(item.gt_label),
                    gt_mask=mask,
                )
            )
    return records


def pick(records: Sequence[ScoredImage], n_good: int, n_defective: int) -> list[ScoredImage]:
    """Pick the first ``n_good`` good and ``n_defective`` defective records, defect types taken in turn.

    Example:
        >>> import numpy as np
        >>> make = lambda path, label: ScoredImage(path, np.zeros((2, 2, 3)), np.zeros((2, 2)), 0.0, False, label)
        >>> records = [make(f"test/{kind}/{i}.png", kind != "good") for kind in ("good", "crack", "hole") for i in range(3)]
        >>> [r.path for r in pick(records, 1, 3)]
        ['test/good/0.png', 'test/crack/0.png', 'test/hole/0.png', 'test/crack/1.png']

    """
    good = [record for record in records if record.gt_label is False][:n_good]
    by_type: dict[str, list[ScoredImage]] = {}
    for record in records:
        if record.gt_label:
            by_type.setdefault(Path(record.path).parent.name, []).append(record)
    defective: list[ScoredImage] = []
    queues = list(by_type.values())
    while len(defective) < n_defective and any(queues):
        for queue in queues:
            if queue and len(defective) < n_defective:
                defective.append(queue.pop(0))
    return good + defective


def heatmap_grid(records: Sequence[ScoredImage], columns: int = 4, title: str = "") -> Figure:
    """One panel per record: the image, its heat map (jet, transparent where low), the true defect outline in green.

    Panel titles give the defect type (folder name), the score and the predicted label; red when
    anomalous. Heat maps share the fixed [0, 1] colour scale of anomalib's normalised maps.
    """
    rows = max(1, -(-len(records) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3.1 * columns, 3.3 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, record in zip(axes.ravel(), records, strict=False):
        axis.imshow(record.image)
        heat = np.ma.masked_less(record.anomaly_map, 0.35)
        axis.imshow(heat, cmap="jet", vmin=0.0, vmax=1.0, alpha=0.5)
        if record.gt_mask is not None and record.gt_mask.any():
            axis.contour(record.gt_mask, levels=[0.5], colors="lime", linewidths=1.0)
        kind = Path(record.path).parent.name
        colour = "red" if record.anomalous else "green"
        axis.set_title(f"{kind}: {record.score:.2f} {'ANOMALOUS' if record.anomalous else 'normal'}", fontsize=9, color=colour)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def score_histogram(records: Sequence[ScoredImage], title: str = "") -> Figure:
    """Histogram of the image scores of good vs defective test images, with the decision threshold (the paper's Fig. 5 idea)."""
    good = [record.score for record in records if record.gt_label is False]
    defective = [record.score for record in records if record.gt_label]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(0, 1, 26)
    axis.hist(good, bins=bins, alpha=0.6, color="tab:green", label=f"good ({len(good)})")
    axis.hist(defective, bins=bins, alpha=0.6, color="tab:red", label=f"defective ({len(defective)})")
    axis.axvline(THRESHOLD, color="black", linestyle="--", linewidth=1, label="threshold")
    axis.set_xlabel("image score (normalised; anomalous above 0.5)")
    axis.set_ylabel("test images")
    axis.legend()
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def save(figure: Figure, path: str | Path) -> Path:
    """Save ``figure`` as a PNG (creating the folder), close it and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def heat_inside_outside(records: Sequence[ScoredImage]) -> tuple[float, float]:
    """Mean heat-map value inside and outside the true defect masks of the defective records.

    Example:
        >>> import numpy as np
        >>> mask = np.zeros((4, 4), bool); mask[:2] = True
        >>> record = ScoredImage("d.png", np.zeros((4, 4, 3)), mask * 0.9 + 0.1, 1.0, True, True, mask)
        >>> tuple(round(v, 2) for v in heat_inside_outside([record]))
        (1.0, 0.1)

    """
    inside = [record.anomaly_map[record.gt_mask] for record in records if record.gt_mask is not None and record.gt_mask.any()]
    outside = [record.anomaly_map[~record.gt_mask] for record in records if record.gt_mask is not None and record.gt_mask.any()]
    if not inside:
        return float("nan"), float("nan")
    return float(np.concatenate(inside).mean()), float(np.concatenate(outside).mean())
