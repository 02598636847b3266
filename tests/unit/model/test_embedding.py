"""Unit tests of the feature extractor's embeddings: the unfolded one (authors' code) and the channel mean."""

import pytest
import torch
from embedding_step_by_step import unfolded_embedding_step_by_step
from model_defaults import make_extractor

from anomalib_simplenet.simplenet.embedding import (
    ChannelMeanEmbedding,
    UnfoldedEmbedding,
    adaptive_pooling_matrix,
    unfold_neighbourhoods,
)


@pytest.mark.parametrize(
    ("channels", "grids", "dim", "patch_size"),
    [
        ((40, 112), ((32, 32), (16, 16)), 384, 3),  # EfficientNet-Lite0 blocks.2 + blocks.4 at 256 px
        ((40, 112), ((32, 32), (16, 16)), 1536, 3),  # more outputs than unfolded values: pooling repeats them
        ((112, 40), ((16, 16), (32, 32)), 100, 3),  # levels named coarse first
        ((24, 40, 112), ((64, 64), (32, 32), (16, 16)), 500, 3),  # three levels; 500 does not divide 3 * 500 evenly
        ((16, 32), ((12, 20), (6, 10)), 96, 5),  # non-square grid, larger neighbourhood
        ((16, 32), ((12, 12), (6, 6)), 48, 1),  # p = 1: no neighbourhood
    ],
)
def test_unfolded_embedding_equals_the_construction_step_by_step(
    channels: tuple[int, ...], grids: tuple[tuple[int, int], ...], dim: int, patch_size: int
) -> None:
    torch.manual_seed(0)
    levels = [torch.randn(2, c, *grid) for c, grid in zip(channels, grids, strict=True)]
    finest = max(range(len(grids)), key=lambda i: grids[i][0] * grids[i][1])
    embedding = UnfoldedEmbedding(channels, finest, patch_size, dim)
    fast = embedding(levels)
    assert fast.shape == (2, dim, *grids[finest])
    torch.testing.assert_close(fast, unfolded_embedding_step_by_step(levels, finest, patch_size, dim), atol=1e-5, rtol=1e-5)


def test_unfolded_embedding_reads_few_values_per_output() -> None:
    """The band is short: WideResNet50 levels 2+3 at the paper's 1536 read 6 and 12 values, not 4608 and 9216."""
    embedding = UnfoldedEmbedding((512, 1024), finest_level=0, patch_size=3, embedding_dim=1536)
    assert embedding.window == [6, 12]
    assert embedding.output_ranges == [(0, 768), (768, 1536)]


def test_neighbourhood_layout_is_kept() -> None:
    """Two neighbourhoods with the same values in other places: the channel mean cannot tell them apart, unfolded can."""
    top_left, bottom_right = torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 5, 5)
    top_left[0, 0, 1, 1] = 1.0
    bottom_right[0, 0, 3, 3] = 1.0  # both inside the 3x3 neighbourhood of the centre (2, 2)
    mean = ChannelMeanEmbedding([1], finest_level=0, patch_size=3)
    unfolded = UnfoldedEmbedding([1], finest_level=0, patch_size=3, embedding_dim=9)
    assert torch.equal(mean([top_left])[..., 2, 2], mean([bottom_right])[..., 2, 2])
    centre_a, centre_b = unfolded([top_left])[0, :, 2, 2], unfolded([bottom_right])[0, :, 2, 2]
    assert not torch.equal(centre_a, centre_b)
    assert centre_a.argmax() == 0  # the first of the 9 values: the top-left neighbour, row-major
    assert centre_b.argmax() == 8


def test_unfold_matches_torch_unfold_with_zero_padding() -> None:
    level = torch.randn(2, 3, 7, 5)
    expected = torch.nn.functional.unfold(level, 3, padding=1).reshape(2, 27, 7, 5)
    assert torch.equal(unfold_neighbourhoods(level, 3), expected)


@pytest.mark.parametrize(("length", "size"), [(10, 4), (4, 10), (360, 384), (9216, 1536), (7, 7)])
def test_pooling_matrix_is_adaptive_average_pooling(length: int, size: int) -> None:
    values = torch.randn(3, 1, length)
    expected = torch.nn.functional.adaptive_avg_pool1d(values, size).squeeze(1)
    torch.testing.assert_close(values.squeeze(1) @ adaptive_pooling_matrix(length, size).T, expected)


def test_channel_mean_keeps_the_previous_construction() -> None:
    """``embedding="channel_mean"``: the 0.1 construction, the border average leaving out the padding."""
    impulse = torch.zeros(1, 1, 5, 5)
    impulse[0, 0, 0, 0] = 1.0
    averaged = ChannelMeanEmbedding([1], finest_level=0, patch_size=3)([impulse])
    assert averaged[0, 0, 0, 0] == pytest.approx(1 / 4)  # corner: 2x2 real neighbours
    assert averaged[0, 0, 1, 1] == pytest.approx(1 / 9)
    assert averaged[0, 0, 3, 3] == 0


class TestFeatureExtractorEmbedding:
    def test_length_is_embedding_dim_whatever_the_backbone(self) -> None:
        for backbone, layers in (("resnet18", ("layer2", "layer3")), ("efficientnet_lite0", ("blocks.2", "blocks.4"))):
            extractor = make_extractor(backbone=backbone, layers=layers, pre_trained=False, embedding_dim=200)
            assert extractor.out_channels == 200
            assert extractor(torch.rand(1, 3, 128, 128)).shape == (1, 200, 16, 16)

    def test_channel_mean_length_is_the_channel_count(self) -> None:
        extractor = make_extractor(backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding="channel_mean")
        assert extractor(torch.rand(1, 3, 224, 224)).shape == (1, 128 + 256, 28, 28)

    def test_unknown_embedding_names_the_choices(self) -> None:
        with pytest.raises(ValueError, match=r"embedding must be 'unfolded'.*'channel_mean', got 'pca'"):
            make_extractor(backbone="resnet18", layers=("layer2",), pre_trained=False, embedding="pca")  # type: ignore[arg-type]

    @pytest.mark.parametrize("dim", [0, -8])
    def test_non_positive_embedding_dim(self, dim: int) -> None:
        with pytest.raises(ValueError, match=f"embedding_dim={dim}"):
            make_extractor(backbone="resnet18", layers=("layer2",), pre_trained=False, embedding_dim=dim)

    def test_the_fixed_pooling_is_no_weight(self) -> None:
        """The pooling's index and weights follow from the settings: not trained, not in the state dict."""
        extractor = make_extractor(backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, embedding_dim=64)
        assert not any(key.startswith("embedding") for key in extractor.state_dict())
        assert all(not p.requires_grad for p in extractor.parameters())
