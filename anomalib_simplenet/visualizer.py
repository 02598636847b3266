"""Heat-map pictures and a per-image score table for ``anomalib test`` / ``anomalib predict``.

anomalib's :class:`~anomalib.visualization.ImageVisualizer` saves one picture per image (image, ground
truth, heat-map overlay, predicted mask) but writes no scores anywhere, and it draws the heat map over
the *original* image even when the pre-processor centre-cropped it, so with a crop (the paper's
protocol) the map lands beside the defect. :class:`ScoredImageVisualizer` fixes both:

* the picture is drawn on the image as the model saw it (the pre-processor's resize and crop, without
  its normalisation), so the heat map sits on the defect;
* a line under each picture gives the image score and the predicted label;
* ``predictions.csv`` beside the pictures lists every image: path, score, label, true label (when the
  data has one) and the picture's path.

The same drawing and table code serves exported models (see :mod:`anomalib_simplenet.predict`).
"""

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from anomalib.data import ImageItem
from anomalib.utils.path import generate_output_filename
from anomalib.visualization import ImageVisualizer
from anomalib.visualization.image.item_visualizer import visualize_image_item
from lightning.pytorch import LightningModule, Trainer
from PIL import Image, ImageDraw, ImageFont
from torchvision.transforms.v2 import Compose, Normalize, Transform
from torchvision.transforms.v2.functional import to_dtype, to_image

logger = logging.getLogger(__name__)

CSV_NAME = "predictions.csv"
CSV_COLUMNS = ("image_path", "pred_score", "pred_label", "label", "gt_label", "visualization")


@dataclass(frozen=True)
class Prediction:
    """One row of ``predictions.csv``.

    Example:
        >>> Prediction("a.png", 0.93, True, None, "out/a.png").row()["label"]
        'anomalous'

    """

    image_path: str
    pred_score: float
    pred_label: bool
    gt_label: bool | None
    visualization: str

    def row(self) -> dict[str, Any]:
        """Return the CSV row: the score with 4 decimals, the label as 0/1 and as a word."""
        return {
            "image_path": self.image_path,
            "pred_score": f"{self.pred_score:.4f}",
            "pred_label": int(self.pred_label),
            "label": "anomalous" if self.pred_label else "normal",
            "gt_label": "" if self.gt_label is None else int(self.gt_label),
            "visualization": self.visualization,
        }


def write_predictions_csv(predictions: Iterable[Prediction], path: str | Path) -> Path:
    """Write ``predictions`` to ``path`` (``CSV_COLUMNS``), creating the folder; return the path.

    Example:
        >>> import tempfile
        >>> path = write_predictions_csv([Prediction("a.png", 0.1, False, False, "")], Path(tempfile.mkdtemp()) / "p.csv")
        >>> path.read_text().splitlines()[1]
        'a.png,0.1000,0,normal,0,'

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(prediction.row() for prediction in predictions)
    return path


def add_caption(picture: Image.Image, text: str, anomalous: bool) -> Image.Image:
    """Return ``picture`` with a caption bar underneath: red text for anomalous, green for normal.

    Example:
        >>> add_caption(Image.new("RGB", (100, 50)), "score 0.10  normal", anomalous=False).size
        (100, 72)

    """
    font = ImageFont.load_default(size=16)
    bar = 22
    captioned = Image.new("RGB", (picture.width, picture.height + bar), "black")
    captioned.paste(picture.convert("RGB"), (0, 0))
    colour = (255, 90, 80) if anomalous else (120, 220, 120)
    ImageDraw.Draw(captioned).text((6, picture.height + 2), text, fill=colour, font=font)
    return captioned


def caption_text(score: float, anomalous: bool, gt_label: bool | None = None) -> str:
    """Caption of a picture: score, predicted label and, when known, the true one.

    Example:
        >>> caption_text(0.8731, True, gt_label=True)
        'score 0.873  ANOMALOUS  (true: anomalous)'

    """
    text = f"score {score:.3f}  {'ANOMALOUS' if anomalous else 'normal'}"
    if gt_label is not None:
        text += f"  (true: {'anomalous' if gt_label else 'normal'})"
    return text


def geometric_transform(transform: Transform | None) -> Transform | None:
    """Drop the ``Normalize`` steps of a pre-processor transform: what remains is how the model sees the pixels.

    Example:
        >>> from torchvision.transforms import v2
        >>> view = geometric_transform(v2.Compose([v2.Resize((256, 256)), v2.CenterCrop(224), v2.Normalize([0.5], [0.5])]))
        >>> [type(step).__name__ for step in view.transforms]
        ['Resize', 'CenterCrop']

    """
    if transform is None or isinstance(transform, Normalize):
        return None
    if isinstance(transform, Compose):
        steps = [step for step in (geometric_transform(t) for t in transform.transforms) if step is not None]
        return Compose(steps) if steps else None
    return transform


class ScoredImageVisualizer(ImageVisualizer):
    """anomalib's image visualizer, drawn on the model's view of the image, with scores and a CSV table.

    Pictures are saved where anomalib saves them (``<default_root_dir>/images/...`` unless
    ``output_dir`` is given); ``predictions.csv`` goes to the same folder at the end of each
    ``test``/``predict`` run.

    Args:
        output_dir: Folder for pictures and table. Defaults to ``<trainer.default_root_dir>/images``.
        **kwargs: Passed to :class:`~anomalib.visualization.ImageVisualizer` (fields, overlays, sizes).

    Example:
        >>> visualizer = ScoredImageVisualizer(output_dir="results/heatmaps")
        >>> visualizer.overlay_fields
        [('image', ['anomaly_map']), ('image', ['pred_mask'])]

    """

    def __init__(self, output_dir: str | Path | None = None, **kwargs) -> None:
        super().__init__(output_dir=output_dir, **kwargs)
        self.predictions: list[Prediction] = []

    def _start(self) -> None:
        self.predictions = []

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start a new table."""
        del trainer, pl_module
        self._start()

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start a new table."""
        del trainer, pl_module
        self._start()

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: object,
        batch: Any,  # noqa: ANN401  (an anomalib ImageBatch)
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Save one captioned picture per image and remember its row of the table."""
        del outputs, batch_idx, dataloader_idx
        if self.output_dir is None:
            self.output_dir = Path(trainer.default_root_dir) / "images"
        view = geometric_transform(getattr(getattr(pl_module, "pre_processor", None), "transform", None))
        datamodule = getattr(trainer, "datamodule", None)
        for item in batch:
            filename = generate_output_filename(
                input_path=item.image_path or "",
                output_path=self.output_dir,
                dataset_name=getattr(datamodule, "name", None) if datamodule else None,
                category=getattr(datamodule, "category", None) if datamodule else None,
            )
            picture = self.draw(item, view)
            if picture is None:
                continue
            score, anomalous = float(item.pred_score), bool(item.pred_label)
            gt_label = None if item.gt_label is None else bool(item.gt_label)
            add_caption(picture, caption_text(score, anomalous, gt_label), anomalous).save(filename)
            self.predictions.append(Prediction(str(item.image_path), score, anomalous, gt_label, str(filename)))

    def on_predict_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: object,
        batch: Any,  # noqa: ANN401
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """As for test batches."""
        self.on_test_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)

    def draw(self, item: ImageItem, view: Transform | None = None) -> Image.Image | None:
        """Draw ``item``'s fields on its image as the model saw it (``view`` = resize/crop without normalisation)."""
        if item.image_path is not None:
            image = to_dtype(to_image(Image.open(item.image_path).convert("RGB")), torch.float32, scale=True)
            if view is not None:
                image = view(image)
            item = item.update(in_place=False, image=image, image_path=None)
        return visualize_image_item(
            item,
            fields=self.fields,
            overlay_fields=self.overlay_fields,
            field_size=self.field_size,
            fields_config=self.fields_config,
            overlay_fields_config=self.overlay_fields_config,
            text_config=self.text_config,
        )

    def _finish(self) -> None:
        if self.output_dir is None or not self.predictions:
            return
        path = write_predictions_csv(self.predictions, Path(self.output_dir) / CSV_NAME)
        anomalous = sum(prediction.pred_label for prediction in self.predictions)
        logger.info("Scores of %d images (%d anomalous) in %s; heat maps beside it.", len(self.predictions), anomalous, path)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write ``predictions.csv``."""
        del trainer, pl_module
        self._finish()

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write ``predictions.csv``."""
        del trainer, pl_module
        self._finish()


def scores_of(predictions: Sequence[Prediction]) -> np.ndarray:
    """Image scores as an array, in table order.

    Example:
        >>> scores_of([Prediction("a", 0.25, False, None, "")]).tolist()
        [0.25]

    """
    return np.array([prediction.pred_score for prediction in predictions], dtype=np.float64)
