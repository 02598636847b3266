"""The metrics this project's tools report for every model: anomalib's default test metrics and PRO, on raw scores.

SimpleNet itself reports anomalib's default metrics (image AUROC/F1, pixel AUROC/F1), the same as PaDiM and PatchCore,
so anomalib's own benchmark pipeline can set them side by side. The project's tools (``simplenet-benchmark``, the demo,
the notebook, the studies) give every model they run the two parts of :func:`evaluation_with_pro`, so all their figures
are comparable and none depends on the validation split:

- PRO, the area under the per-region-overlap curve up to a false-positive rate of 0.3, joins the metrics.
- The threshold-free metrics (AUROC, PRO) are computed on the model's raw scores and maps. anomalib's post-processor
  min-max normalises them with the validation set's statistics and clamps the result to [0, 1] before its evaluator
  sees them (anomalib 2.7, ``PostProcessor._normalize``): every test value beyond the validation range becomes 0 or 1,
  ties that change AUROC and PRO with the validation split. F1 stays on the thresholded labels, as in anomalib.
  AUROC is asked for without torchmetrics' input normalisation: given a batch with values outside [0, 1], torchmetrics
  takes them for logits and applies a sigmoid to that batch alone, which saturates large raw scores (ties again) and
  mixes batches with and without it.
"""

from anomalib.data import Batch
from anomalib.metrics import AUPRO, AUROC, Evaluator, F1Score
from anomalib.post_processing import PostProcessor

RAW_SCORE = "raw_pred_score"
RAW_MAP = "raw_anomaly_map"


class PostProcessorKeepingRawScores(PostProcessor):
    """anomalib's post-processor that keeps the batch's raw ``pred_score`` and ``anomaly_map`` beside the normalised ones.

    Before normalising, it puts the model's own values on the batch as ``raw_pred_score`` and ``raw_anomaly_map``
    (the same tensors; normalisation makes new ones), where the evaluator of :func:`evaluation_with_pro` reads them.

    Example:
        >>> import torch
        >>> from anomalib.data import ImageBatch
        >>> post = PostProcessorKeepingRawScores()
        >>> validation = ImageBatch(image=torch.zeros(2, 3, 8, 8), gt_label=torch.tensor([0, 1]),
        ...                         pred_score=torch.tensor([0.0, 1.0]))
        >>> post.on_validation_batch_end(None, None, validation)
        >>> post.on_validation_epoch_end(None, None)
        >>> test = ImageBatch(image=torch.zeros(2, 3, 8, 8), pred_score=torch.tensor([2.0, 3.0]))
        >>> post.post_process_batch(test)
        >>> test.pred_score.tolist(), test.raw_pred_score.tolist()  # both clamped to 1 (a tie), not the raw ones
        ([1.0, 1.0], [2.0, 3.0])

    """

    def post_process_batch(self, batch: Batch) -> None:
        """Keep the raw values, then normalise and threshold as anomalib does.

        Args:
            batch (Batch): The batch with the model's predictions, changed in place.

        """
        object.__setattr__(batch, RAW_SCORE, batch.pred_score)
        object.__setattr__(batch, RAW_MAP, batch.anomaly_map)
        super().post_process_batch(batch)


def evaluation_with_pro() -> dict[str, PostProcessor | Evaluator]:
    """Make a post-processor and an evaluator for any anomalib model: anomalib's default metrics and PRO, raw.

    Image AUROC reads ``raw_pred_score``; pixel AUROC and PRO read ``raw_anomaly_map``; image and pixel F1 read the
    labels thresholded by the post-processor, as anomalib's defaults do. The image metric is strict, so an evaluator
    used without its post-processor fails at the first test batch instead of reporting nothing.

    Returns:
        dict[str, PostProcessor | Evaluator]: ``post_processor`` and ``evaluator``, new instances, to pass as keyword
        arguments: ``Padim(..., **evaluation_with_pro())``.

    Example:
        >>> parts = evaluation_with_pro()
        >>> sorted(metric.name for metric in parts["evaluator"].test_metrics)
        ['image_AUROC', 'image_F1Score', 'pixel_AUPRO', 'pixel_AUROC', 'pixel_F1Score']
        >>> type(parts["post_processor"]).__name__
        'PostProcessorKeepingRawScores'

    """
    metrics = [
        AUROC(fields=[RAW_SCORE, "gt_label"], prefix="image_", normalization=None),
        F1Score(fields=["pred_label", "gt_label"], prefix="image_"),
        AUROC(fields=[RAW_MAP, "gt_mask"], prefix="pixel_", strict=False, normalization=None),
        F1Score(fields=["pred_mask", "gt_mask"], prefix="pixel_", strict=False),
        AUPRO(fields=[RAW_MAP, "gt_mask"], prefix="pixel_", strict=False),
    ]
    return {"post_processor": PostProcessorKeepingRawScores(), "evaluator": Evaluator(test_metrics=metrics)}
