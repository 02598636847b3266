"""Image score pooling: the paper's max, and the max of per-location standardised scores fitted on the training images."""

from pathlib import Path

import pytest
import torch
from anomalib.data import MVTecAD
from anomalib.engine import Engine

from anomalib_simplenet import SimpleNet
from anomalib_simplenet.image_score import ImageScore


def test_max_is_the_papers_score() -> None:
    scores = torch.randn(3, 1, 8, 8)
    assert torch.equal(ImageScore("max")(scores), scores.amax(dim=(1, 2, 3)))


def test_unfitted_standardised_max_is_the_plain_max() -> None:
    scores = torch.randn(3, 1, 8, 8)
    assert torch.allclose(ImageScore("standardised_max")(scores), scores.amax(dim=(1, 2, 3)))


def test_a_location_that_is_wild_on_good_images_no_longer_decides_the_score() -> None:
    torch.manual_seed(0)
    training = torch.randn(200, 1, 8, 8) * 0.1
    training[:, :, 0, :] *= 20  # the top row (an image border, say) spreads 20x more on good images
    scorer = ImageScore("standardised_max")
    scorer.fit(training)
    good_with_border_noise = torch.zeros(1, 1, 8, 8)
    good_with_border_noise[0, 0, 0, 3] = 1.5  # within the border's usual range
    defect_inside = torch.zeros(1, 1, 8, 8)
    defect_inside[0, 0, 4, 4] = 1.0  # ten times the interior's spread
    assert ImageScore("max")(good_with_border_noise) > ImageScore("max")(defect_inside)  # the paper's score ranks them wrong
    assert scorer(defect_inside) > scorer(good_with_border_noise)


def test_statistics_follow_the_grid_and_survive_a_state_dict_round_trip() -> None:
    scorer = ImageScore("standardised_max")
    scorer.fit(torch.randn(10, 1, 6, 5))
    restored = ImageScore("standardised_max")
    restored.load_state_dict(scorer.state_dict())
    assert restored.location_mean.shape == (1, 1, 6, 5)
    scores = torch.randn(2, 1, 6, 5)
    assert torch.equal(restored(scores), scorer(scores))
    assert restored(torch.randn(2, 1, 12, 10)).shape == (2,)  # another input size: statistics resized


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="image_score must be one of"):
        ImageScore("mean")
    with pytest.raises(ValueError, match="at least 2 training images"):
        ImageScore("standardised_max").fit(torch.randn(1, 1, 4, 4))


def _fit(small_simplenet, root: Path, workdir: Path, **model_args: object) -> SimpleNet:
    torch.manual_seed(0)
    model = small_simplenet(image_score="standardised_max", **model_args)
    engine = Engine(max_epochs=3, default_root_dir=workdir, logger=False, enable_progress_bar=False)
    engine.fit(model, datamodule=MVTecAD(root=root, category="synthetic", train_batch_size=4, num_workers=0))
    return model


def test_a_fit_ends_with_statistics_of_the_final_head_with_or_without_the_feature_store(
    tmp_path: Path, synthetic_root: Path, small_simplenet
) -> None:
    with_store = _fit(small_simplenet, synthetic_root, tmp_path / "store")
    without_store = _fit(small_simplenet, synthetic_root, tmp_path / "images", feature_store_mb=0)
    fitted = with_store.model.image_score
    assert fitted.location_mean.shape[-2:] == (32, 32)  # stride 8 on the 256 px input of the default pre-processor
    assert torch.allclose(fitted.location_mean, without_store.model.image_score.location_mean, atol=1e-5)
    assert torch.allclose(fitted.location_std, without_store.model.image_score.location_std, atol=1e-5)
    # the statistics are those of the final head on the training images
    datamodule = MVTecAD(root=synthetic_root, category="synthetic", num_workers=0)
    datamodule.setup("fit")
    images = torch.stack([item.image for item in datamodule.train_data])
    model = with_store.model.eval()
    with torch.no_grad():
        scores = model.patch_scores(model.feature_extractor(with_store.pre_processor.transform(images)))
    assert torch.allclose(fitted.location_mean, scores.mean(0, keepdim=True), atol=1e-5)


def test_checkpoint_keeps_the_statistics(tmp_path: Path, synthetic_root: Path, small_simplenet) -> None:
    model = _fit(small_simplenet, synthetic_root, tmp_path)
    (checkpoint,) = tmp_path.rglob("model.ckpt")
    restored = SimpleNet.load_from_checkpoint(checkpoint)
    assert torch.equal(restored.model.image_score.location_std, model.model.image_score.location_std)
