"""What ``simplenet-review`` shows: the runs in a results folder, each a table of scored images, and the counts at a threshold.

A run is read from one of four places, all of which hold anomalib's normalised image scores (0.5 = the model's own
threshold, fitted on validation data):

* a ``predictions.csv`` (``simplenet-demo``'s ``<category>/heatmaps/``, ``anomalib test``/``predict`` with SimpleNet's
  visualizer, ``tools/predict/``, a ``simplenet-benchmark`` run with ``save_predictions: true``), anywhere below
  the folder given; its heat maps are the ``anomaly_map`` column's PNGs when there is one;
* a ``simplenet-fleet score`` output (``scores.parquet``): one run per product, its model found by ``score_run.json``.

The exported model of a run (``openvino/model.xml`` or ``weights/openvino/model.xml`` in the table's folder or one
above it, up to the results folder; the fleet's per product) scores uploads, draws heat maps a table does not have,
and is where a chosen threshold is saved. Standard library and pandas only.

Example:
    >>> confusion([0.9, 0.7, 0.2, 0.6], [True, False, False, None], threshold=0.5)
    {'tp': 1, 'fp': 1, 'fn': 0, 'tn': 1, 'flagged': 3, 'precision': 0.5, 'recall': 1.0, 'f1': 0.6666666666666666}

"""

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomalib_simplenet.tools.threshold_file import MODEL_THRESHOLD, ThresholdFileError, read_threshold

TABLE = "predictions.csv"
FLEET_SCORES, FLEET_RUN = "scores.parquet", "score_run.json"
MODEL_PLACES = ("openvino/model.xml", "weights/openvino/model.xml")
SKIPPED_FOLDERS = {"openvino_cache", "anomaly_maps", ".git", ".venv", "node_modules"}


class ReviewError(Exception):
    """Nothing to review where the user pointed, or a run that cannot be read; the message says what to do.

    Example:
        >>> find_runs(Path("/no/such/results"))
        Traceback (most recent call last):
        ...
        anomalib_simplenet.tools.review.runs.ReviewError: '/no/such/results' not found: ...

    """


@dataclass
class Row:
    """One scored image of a run.

    ``gt`` is the true label when the data has one (``True`` = defective), ``anomaly_map`` the saved heat map
    (``""``: none, the model draws it if the run has one), ``mask`` the true defect mask.

    Example:
        >>> Row(3, "/parts/cam1/0007.png", 0.81, gt=True).public()["name"]
        '0007.png'

    """

    id: int
    path: str
    score: float
    gt: bool | None = None
    anomaly_map: str = ""
    mask: str = ""
    picture: str = ""

    def public(self) -> dict[str, Any]:
        """Return the row as the page gets it: no file paths beyond the image's own, which the page shows."""
        return {
            "id": self.id,
            "name": Path(self.path).name,
            "path": self.path,
            "score": self.score,
            "gt": self.gt,
            "saved_map": bool(self.anomaly_map),
            "mask": bool(self.mask),
        }


@dataclass
class Run:
    """A table of scored images, where it came from, and its exported model (``None``: no uploads, no saving).

    Example:
        >>> run = Run("fabric/heatmaps", "predictions.csv", [Row(0, "a.png", 0.9, True), Row(1, "b.png", 0.2, False)])
        >>> run.summary()
        {'name': 'fabric/heatmaps', 'source': 'predictions.csv', 'images': 2, 'defective': 1, 'good': 1, 'model': False}

    """

    name: str
    source: str
    rows: list[Row]
    model_xml: str | None = None
    notes: list[str] = field(default_factory=list)

    def saved_threshold(self) -> float | None:
        """Return the threshold saved beside the run's model, if any (an unreadable file is reported as a note)."""
        if self.model_xml is None:
            return None
        try:
            return read_threshold(self.model_xml)
        except ThresholdFileError as error:
            self.notes.append(str(error))
            return None

    def summary(self) -> dict[str, Any]:
        """Return what the page's run list shows."""
        known = [row for row in self.rows if row.gt is not None]
        return {
            "name": self.name,
            "source": self.source,
            "images": len(self.rows),
            "defective": sum(bool(row.gt) for row in known),
            "good": sum(row.gt is False for row in known),
            "model": self.model_xml is not None,
        }

    def public(self) -> dict[str, Any]:
        """Return the run as the page gets it."""
        return {
            **self.summary(),
            "model_threshold": MODEL_THRESHOLD,
            "saved_threshold": self.saved_threshold(),
            "threshold_file": None if self.model_xml is None else str(Path(self.model_xml).parent / "review_threshold.json"),
            "notes": self.notes,
            "rows": [row.public() for row in self.rows],
        }


def confusion(scores: Sequence[float], gts: Sequence[bool | None], threshold: float) -> dict[str, Any]:
    """Count outcomes at ``threshold`` (anomalous when the score is above it, as anomalib labels) over labelled images.

    ``flagged`` counts every image above the threshold, known label or not. Precision, recall and F1 are 0 when
    their denominator is (as scikit-learn's ``zero_division=0``). The page computes the same figures in JavaScript
    (``static/review.js``, ``confusion``); ``tests/integration/test_review_browser.py`` holds the two together.
    """
    tp = fp = fn = tn = flagged = 0
    for score, gt in zip(scores, gts, strict=True):
        anomalous = score > threshold
        flagged += anomalous
        if gt is None:
            continue
        if anomalous:
            tp, fp = tp + bool(gt), fp + (not gt)
        else:
            fn, tn = fn + bool(gt), tn + (not gt)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "flagged": flagged, "precision": precision, "recall": recall, "f1": f1}


def find_runs(results: Path) -> list[Run]:
    """Return every run below ``results`` (a folder, a ``predictions.csv``, or a fleet's ``scores.parquet``).

    Raises:
        ReviewError: If ``results`` is missing or holds no run; the message names what is looked for.

    """
    results = results.expanduser()
    if not results.exists():
        msg = (
            f"'{results}' not found: give a simplenet-demo output, an anomalib results folder, a simplenet-benchmark run "
            "or a simplenet-fleet score output."
        )
        raise ReviewError(msg)
    root = results.resolve()
    if root.is_file():
        if root.name != TABLE:
            msg = f"'{results}' is not a {TABLE}: give the file or a folder with runs in it."
            raise ReviewError(msg)
        return [read_table(root, root.parent)]
    if root.name == FLEET_SCORES or (root / FLEET_SCORES).is_dir():
        return read_fleet(root.parent if root.name == FLEET_SCORES else root)
    tables = sorted({path.resolve() for path in _tables(root)}, key=lambda path: (_rank(path), str(path)))
    if not tables:
        msg = (
            f"no runs in '{results}': found no {TABLE} (simplenet-demo, anomalib test/predict with SimpleNet, tools/predict/, "
            f"simplenet-benchmark with save_predictions: true) and no {FLEET_SCORES} (simplenet-fleet score)."
        )
        raise ReviewError(msg)
    return [read_table(table, root) for table in tables]


def _tables(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_dir() and path.name not in SKIPPED_FOLDERS and not path.is_symlink():  # anomalib's "latest" links v0
            found += _tables(path)
        elif path.name == TABLE:
            found.append(path)
    return found


def _rank(table: Path) -> int:
    """Order the model's own tables (with true labels) before the exported model's re-scoring of the same images."""
    return 1 if table.parent.name == "openvino_predictions" else 0


def _model_for(folder: Path, root: Path) -> str | None:
    """Find the exported model nearest to ``folder``: in it or a folder above it, up to ``root`` and never above."""
    for place in (folder, *folder.parents):
        for name in MODEL_PLACES:
            if (place / name).is_file():
                return str(place / name)
        if place == root or root not in place.parents:
            return None
    return None


def _local(path: str, base: Path) -> str:
    """Resolve an image path written in a table: from the working folder if it is there, else from ``base``.

    anomalib writes image paths as it was given them; ``base`` is the table's folder.
    """
    if not path or Path(path).is_absolute() or Path(path).exists():
        return str(Path(path).resolve()) if path else ""
    return str((base / path).resolve())


def _beside(path: str, base: Path) -> str:
    """Resolve a heat map's or mask's path: written relative to the table's folder (``base``), or absolute."""
    return str((base / path).resolve()) if path else ""


def _existing(path: str) -> str:
    """``path`` if it names a file, else ``""``: a mask the table names but that is gone is left out."""
    return path if path and Path(path).is_file() else ""


def read_table(table: Path, root: Path) -> Run:
    """Read a ``predictions.csv`` as a run named by its folder below ``root``.

    Raises:
        ReviewError: If the file lacks the ``image_path`` and ``pred_score`` columns or has a score that is not a number.

    """
    with table.open(newline="") as file:
        records = list(csv.DictReader(file))
    columns = set(records[0]) if records else set()
    if records and not {"image_path", "pred_score"} <= columns:
        msg = f"'{table}' has no image_path and pred_score columns: it is not a predictions table of this package."
        raise ReviewError(msg)
    rows = []
    for index, record in enumerate(records):
        try:
            score = float(record["pred_score"])
        except ValueError as error:
            msg = f"'{table}', row {index + 2}: pred_score {record['pred_score']!r} is not a number."
            raise ReviewError(msg) from error
        gt = record.get("gt_label", "")
        rows.append(
            Row(
                id=index,
                path=_local(record["image_path"], table.parent),
                score=score,
                gt=None if gt in {"", None} else bool(int(gt)),
                anomaly_map=_beside(record.get("anomaly_map", ""), table.parent),
                mask=_existing(_beside(record.get("gt_mask", ""), table.parent)),
                picture=_local(record.get("visualization", ""), table.parent),
            )
        )
    relative = table.parent.relative_to(root) if table.parent != root else Path(table.parent.name)
    return Run(str(relative), "predictions.csv", rows, _model_for(table.parent, root))


def read_fleet(output: Path) -> list[Run]:
    """Read a ``simplenet-fleet score`` output: one run per product, its model from ``score_run.json``.

    Raises:
        ReviewError: If the scores table holds no rows.

    """
    import pandas as pd  # noqa: PLC0415

    parts = sorted((output / FLEET_SCORES).glob("part-*.parquet"))
    table = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True) if parts else pd.DataFrame()
    if table.empty:
        msg = f"'{output / FLEET_SCORES}' holds no scores yet: run simplenet-fleet score first."
        raise ReviewError(msg)
    record = json.loads((output / FLEET_RUN).read_text()) if (output / FLEET_RUN).is_file() else {}
    models = record.get("products", {})
    runs = []
    for product, rows in table.sort_values(["product", "path"]).groupby("product", sort=True):
        xml = models.get(product)
        run = Run(
            f"{product} (fleet scores)",
            "simplenet-fleet score",
            [
                Row(id=index, path=str(path), score=float(score), picture=str(picture or ""))
                for index, (path, score, picture) in enumerate(zip(rows["path"], rows["score"], rows["heatmap"], strict=True))
                if not math.isnan(score)
            ],
            xml if xml and "://" not in xml and Path(xml).is_file() else None,
        )
        if xml is None:
            run.notes.append(f"no model recorded for {product} in {output / FLEET_RUN}: heat maps and uploads are off.")
        runs.append(run)
    return runs
