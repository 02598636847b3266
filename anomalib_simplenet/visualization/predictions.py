"""Predictions as people read them: the ``predictions.csv`` table, the caption under each picture, the image as the model saw it.

Written once for the three places that show predictions: the torch model's visualizer
(:class:`~anomalib_simplenet.visualization.visualizer.ScoredImageVisualizer`), the pictures of the demo and the notebook
(:mod:`anomalib_simplenet.tools.plots`) and the OpenVINO predict command (:mod:`anomalib_simplenet.tools.predict`).
It needs torch, torchvision and PIL, and neither Lightning nor anomalib.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.transforms.v2 import Compose, Normalize, Transform
from torchvision.transforms.v2.functional import to_dtype, to_image

CSV_NAME = "predictions.csv"
CSV_COLUMNS = ("image_path", "pred_score", "pred_label", "label", "gt_label", "visualization", "anomaly_map", "gt_mask")
ANOMALY_MAPS = "anomaly_maps"  # folder beside the table: each image's heat map as an 8-bit grayscale PNG
GT_MASKS = "gt_masks"  # and each defective image's true mask, as the model saw it


@dataclass(frozen=True)
class Prediction:
    """One row of ``predictions.csv``.

    ``anomaly_map`` is the heat map saved by :func:`save_map` (normalised, 0.5 = the model's pixel threshold) and
    ``gt_mask`` the true defect mask at the same size, each ``""`` when there is none, as paths relative to the
    table's folder.

    Example:
        >>> Prediction("a.png", 0.93, True, None, "out/a.png").row()["label"]
        'anomalous'

    """

    image_path: str
    pred_score: float
    pred_label: bool
    gt_label: bool | None
    visualization: str
    anomaly_map: str = ""
    gt_mask: str = ""

    def row(self) -> dict[str, Any]:
        """Return the CSV row: the score with 6 decimals, the label as 0/1 and as a word."""
        return {
            "image_path": self.image_path,
            "pred_score": f"{self.pred_score:.6f}",
            "pred_label": int(self.pred_label),
            "label": "anomalous" if self.pred_label else "normal",
            "gt_label": "" if self.gt_label is None else int(self.gt_label),
            "visualization": self.visualization,
            "anomaly_map": self.anomaly_map,
            "gt_mask": self.gt_mask,
        }


def write_predictions_csv(predictions: Iterable[Prediction], path: str | Path) -> Path:
    """Write ``predictions`` to ``path`` (``CSV_COLUMNS``), creating the folder; return the path.

    Example:
        >>> import tempfile
        >>> path = write_predictions_csv([Prediction("a.png", 0.1, False, False, "")], Path(tempfile.mkdtemp()) / "p.csv")
        >>> path.read_text().splitlines()[1]
        'a.png,0.100000,0,normal,0,,,'

    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(prediction.row() for prediction in predictions)
    return path


def save_map(values: torch.Tensor, path: str | Path) -> Path:
    """Save a map of values in [0, 1] (a normalised heat map, a defect mask) as an 8-bit grayscale PNG.

    Leading dimensions of size 1 are dropped.

    Example:
        >>> import tempfile
        >>> path = save_map(torch.full((1, 8, 8), 0.5), Path(tempfile.mkdtemp()) / "maps" / "a.png")
        >>> Image.open(path).mode, Image.open(path).getpixel((0, 0))
        ('L', 128)

    """
    values = torch.as_tensor(values).detach().float().cpu()
    values = values.reshape(values.shape[-2:]).clamp(0, 1).mul(255).round().to(torch.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.numpy()).save(path)
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


def model_view(path: str | Path, view: Transform | None = None) -> torch.Tensor:
    """Read the image at ``path`` as the model saw it: RGB floats in [0, 1], ``(3, H, W)``, after ``view``.

    ``view`` is the pre-processor's resize and crop without its normalisation (:func:`geometric_transform`).

    Example:
        >>> import tempfile
        >>> from torchvision.transforms import v2
        >>> path = Path(tempfile.mkdtemp()) / "gray.png"
        >>> Image.new("L", (40, 30), 255).save(path)
        >>> image = model_view(path, v2.Resize((16, 16)))
        >>> tuple(image.shape), float(image.max())
        ((3, 16, 16), 1.0)

    """
    with Image.open(path) as file:
        image = to_dtype(to_image(file.convert("RGB")), torch.float32, scale=True)
    return image if view is None else view(image)
