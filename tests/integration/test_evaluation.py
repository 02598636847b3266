"""The tools' metrics: AUROC and PRO of one fitted model do not move with the validation split; anomalib's clamped ones do."""

from pathlib import Path

import pytest
import torch
from anomalib.metrics import AUPRO, AUROC

from anomalib_simplenet.evaluation import evaluation_with_pro

from conftest import fit, synthetic_datamodule

THRESHOLD_FREE = ("image_AUROC", "pixel_AUROC", "pixel_AUPRO")


def test_auroc_and_pro_of_one_fitted_model_do_not_move_with_the_validation_split(
    synthetic_root: Path, tmp_path: Path, small_simplenet, lite0_weights: str
) -> None:
    parts = evaluation_with_pro()
    parts["evaluator"].test_metrics.extend(
        [  # anomalib's own metrics, on the values its post-processor leaves
            AUROC(fields=["pred_score", "gt_label"], prefix="clamped_image_"),
            AUROC(fields=["anomaly_map", "gt_mask"], prefix="clamped_pixel_", strict=False),
            AUPRO(fields=["anomaly_map", "gt_mask"], prefix="clamped_pixel_", strict=False),
        ]
    )
    torch.manual_seed(0)  # the model's initial weights too: the same model on every run
    model = small_simplenet(pre_trained=True, backbone_weights=lite0_weights, embedding_dim=384, discriminator_hidden=256,
                            max_epochs=6, **parts)  # fmt: skip
    engine = fit(model, synthetic_root, tmp_path)
    results, ranges = {}, {}
    # The whole test set as validation, then a quarter of the good training images (a narrow range: the defects lie beyond).
    for split, ratio in (("same_as_test", 0.5), ("from_train", 0.25)):
        datamodule = synthetic_datamodule(synthetic_root, val_split_mode=split, val_split_ratio=ratio, seed=0)
        engine.validate(model, datamodule=datamodule, verbose=False)
        ranges[split] = (float(model.post_processor.pixel_min), float(model.post_processor.pixel_max))
        datamodule = synthetic_datamodule(synthetic_root, val_split_mode="same_as_test")  # the same 8 test images
        results[split] = engine.test(model, datamodule=datamodule, verbose=False)[0]

    first, second = results.values()
    assert ranges["same_as_test"][1] > ranges["from_train"][1], "the good images alone must give a narrower range"
    for name in THRESHOLD_FREE:
        assert first[name] == pytest.approx(second[name], abs=1e-6), name
    assert first["pixel_AUROC"] > 0.6, f"the fitted model must rank defect pixels above good ones: {first}"
    # anomalib's own figures, on normalised and clamped values, do move: what the raw ones protect against.
    assert any(abs(first[f"clamped_{name}"] - second[f"clamped_{name}"]) > 1e-5 for name in THRESHOLD_FREE), results


def test_the_evaluator_without_its_post_processor_fails_instead_of_reporting_nothing(
    synthetic_root: Path, tmp_path: Path, small_simplenet
) -> None:
    model = small_simplenet(max_epochs=1, evaluator=evaluation_with_pro()["evaluator"])
    engine = fit(model, synthetic_root, tmp_path)
    with pytest.raises(ValueError, match="raw_pred_score"):
        engine.test(model, datamodule=synthetic_datamodule(synthetic_root), verbose=False)
