"""The metrics this project's tools report for every model: anomalib's default test metrics and PRO.

SimpleNet itself reports anomalib's default metrics (image AUROC/F1, pixel AUROC/F1), the same as PaDiM and PatchCore,
so anomalib's own benchmark pipeline can set them side by side. The project's tools (``simplenet-benchmark``, the demo,
the notebook) add PRO, the area under the per-region-overlap curve up to a false-positive rate of 0.3, for every model
they run, so all their figures are comparable.
"""

from anomalib.metrics import AUPRO, Evaluator
from anomalib.models.components import AnomalibModule


def evaluator_with_pro() -> Evaluator:
    """Anomalib's default test metrics and PRO (``pixel_AUPRO``).

    Returns:
        Evaluator: A new evaluator, to give to any anomalib model.

    Example:
        >>> sorted(metric.name for metric in evaluator_with_pro().test_metrics)
        ['image_AUROC', 'image_F1Score', 'pixel_AUPRO', 'pixel_AUROC', 'pixel_F1Score']

    """
    metrics = [
        *AnomalibModule.configure_evaluator().test_metrics,
        AUPRO(fields=["anomaly_map", "gt_mask"], prefix="pixel_", strict=False),
    ]
    return Evaluator(test_metrics=metrics)
