"""Heat-map pictures and a per-image score table for ``anomalib test`` / ``anomalib predict``.

anomalib's :class:`~anomalib.visualization.ImageVisualizer` saves one picture per image (image, ground
truth, heat-map overlay, predicted mask) but writes no scores anywhere, and it draws the heat map over
the *original* image even when the pre-processor centre-cropped it, so with a crop (the paper's
protocol) the map lands beside the defect. :class:`ScoredImageVisualizer` fixes both:

* the picture is drawn on the image as the model saw it (the pre-processor's resize and crop, without
  its normalisation), so the heat map sits on the defect;
* a line under each picture gives the image score and the predicted label;
* ``predictions.csv`` beside the pictures lists every image: path, score, label, true label (when the
  data has one), the picture's path, its heat map and true defect mask (saved in ``anomaly_maps/`` and
  ``gt_masks/`` beside the table, as the model saw the image), which is what ``simplenet-review`` shows.

The table, the captions and the model's view of an image are :mod:`anomalib_simplenet.visualization.predictions`, which the
exported-model predict command uses too.
"""

import logging
from pathlib import Path
from typing import Any

from anomalib.data import ImageItem
from anomalib.utils.path import generate_output_filename
from anomalib.visualization import ImageVisualizer
from anomalib.visualization.image.item_visualizer import visualize_image_item
from lightning.pytorch import LightningModule, Trainer
from PIL import Image
from torchvision.transforms.v2 import Transform

from .predictions import (
    ANOMALY_MAPS,
    CSV_NAME,
    GT_MASKS,
    Prediction,
    add_caption,
    caption_text,
    geometric_transform,
    model_view,
    save_map,
    write_predictions_csv,
)

logger = logging.getLogger(__name__)


class ScoredImageVisualizer(ImageVisualizer):
    """anomalib's image visualizer, drawn on the model's view of the image, with scores and a CSV table.

    Pictures are saved where anomalib saves them (``<default_root_dir>/images/...`` unless
    ``output_dir`` is given); ``predictions.csv`` goes to the same folder at the end of each
    ``test``/``predict`` run.

    Args:
        output_dir: Folder for pictures and table. Defaults to ``<trainer.default_root_dir>/images``.
        pictures: Draw a picture per image; ``False`` keeps only the table and the heat maps (the benchmark's
            ``save_predictions``, where pictures of every run would take the disk).
        **kwargs: Passed to :class:`~anomalib.visualization.ImageVisualizer` (fields, overlays, sizes).

    Example:
        >>> visualizer = ScoredImageVisualizer(output_dir="results/heatmaps")
        >>> visualizer.overlay_fields
        [('image', ['anomaly_map']), ('image', ['pred_mask'])]

    """

    def __init__(self, output_dir: str | Path | None = None, pictures: bool = True, **kwargs) -> None:
        super().__init__(output_dir=output_dir, **kwargs)
        self.pictures = pictures
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
            filename = Path(
                generate_output_filename(
                    input_path=item.image_path or "",
                    output_path=self.output_dir,
                    dataset_name=getattr(datamodule, "name", None) if datamodule else None,
                    category=getattr(datamodule, "category", None) if datamodule else None,
                )
            )
            score, anomalous = float(item.pred_score), bool(item.pred_label)
            gt_label = None if item.gt_label is None else bool(item.gt_label)
            picture = self.draw(item, view) if self.pictures else None
            if picture is not None:
                add_caption(picture, caption_text(score, anomalous, gt_label), anomalous).save(filename)
            elif self.pictures:
                continue
            # The maps as the model saw the image. The mask comes from gt_mask, not mask_path: anomalib's collate
            # leaves mask_path None for a whole batch whose first image is good.
            # Their paths in the table are relative to its folder, so that the folder can be moved.
            anomaly_map, mask, relative = "", "", filename.relative_to(self.output_dir).with_suffix(".png")
            if item.anomaly_map is not None:
                save_map(item.anomaly_map, Path(self.output_dir) / ANOMALY_MAPS / relative)
                anomaly_map = str(ANOMALY_MAPS / relative)
            if item.gt_mask is not None and bool(item.gt_mask.any()):
                save_map(item.gt_mask, Path(self.output_dir) / GT_MASKS / relative)
                mask = str(GT_MASKS / relative)
            self.predictions.append(
                Prediction(
                    str(item.image_path),
                    score,
                    anomalous,
                    gt_label,
                    str(filename) if picture is not None else "",
                    anomaly_map,
                    mask,
                )
            )

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
            item = item.update(in_place=False, image=model_view(item.image_path, view), image_path=None)
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
