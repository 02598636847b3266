"""The standardised image score's statistics at the end of a fit: those of the final head, stored and restored."""

from pathlib import Path

import torch

from anomalib_simplenet import SimpleNet

from conftest import fit, synthetic_datamodule


def _fitted(small_simplenet, root: Path, workdir: Path, **model_args: object) -> SimpleNet:
    torch.manual_seed(0)
    model = small_simplenet(image_score="standardised_max", **model_args)
    fit(model, root, workdir, max_epochs=3)
    return model


def test_a_fit_ends_with_statistics_of_the_final_head_with_or_without_the_feature_store(
    tmp_path: Path, synthetic_root: Path, small_simplenet
) -> None:
    with_store = _fitted(small_simplenet, synthetic_root, tmp_path / "store")
    without_store = _fitted(small_simplenet, synthetic_root, tmp_path / "images", feature_store_mb=0)
    fitted = with_store.model.image_score
    assert fitted.location_mean.shape[-2:] == (16, 16)  # stride 8 on the 128 px input of the small models
    assert torch.allclose(fitted.location_mean, without_store.model.image_score.location_mean, atol=1e-5)
    assert torch.allclose(fitted.location_std, without_store.model.image_score.location_std, atol=1e-5)
    # the statistics are those of the final head on the training images
    datamodule = synthetic_datamodule(synthetic_root)
    datamodule.setup("fit")
    images = torch.stack([item.image for item in datamodule.train_data])
    model = with_store.model.eval()
    with torch.no_grad():
        scores = model.patch_scores(model.feature_extractor(with_store.pre_processor.transform(images)))
    assert torch.allclose(fitted.location_mean, scores.mean(0, keepdim=True), atol=1e-5)


def test_checkpoint_keeps_the_statistics(tmp_path: Path, synthetic_root: Path, small_simplenet) -> None:
    model = _fitted(small_simplenet, synthetic_root, tmp_path)
    (checkpoint,) = tmp_path.rglob("model.ckpt")
    restored = SimpleNet.load_from_checkpoint(checkpoint)
    assert torch.equal(restored.model.image_score.location_std, model.model.image_score.location_std)
