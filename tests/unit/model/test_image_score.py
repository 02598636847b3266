"""Image score pooling: the paper's max, and the max of per-location standardised scores fitted on the training images."""

import pytest
import torch

from anomalib_simplenet.simplenet.image_score import ImageScore


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
