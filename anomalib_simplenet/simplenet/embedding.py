# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""How the feature extractor turns backbone levels into one local feature per location (eqs. 1-3).

Two constructions, chosen with SimpleNet's ``embedding`` argument:

- :class:`UnfoldedEmbedding` (``"unfolded"``, the default): the construction of the authors' code, which is
  PatchCore's. Each level's ``p x p`` neighbourhood is unfolded with its layout kept (``C * p * p`` values per
  location, channel-major), the coarser levels are resized bilinearly to the finest grid, each level's vector is
  average-pooled (1-D adaptive pooling over those values) to a common length, and the levels' vectors, laid end to
  end, are pooled the same way to ``embedding_dim`` values. The paper's ``embedding_dim`` is 1536 (Sec. 4.1).
- :class:`ChannelMeanEmbedding` (``"channel_mean"``): each channel averaged over the neighbourhood and the
  levels concatenated; its length is the sum of the levels' channels (152 on EfficientNet-Lite0 blocks.2+4).

Every step of the unfolded construction is linear, so it is computed here as an equivalent that does far less
work: a fixed matrix maps each level's unfolded values straight to its share of the output, at the level's own
resolution, and only that share is resized (resizing and a per-location linear map commute). The matrix is
banded: each output value averages a short run of neighbouring unfolded values (its pooling window), so it is
applied as ``window`` gathers and weighted sums, ``embedding_dim x window`` multiply-adds per location instead
of ``embedding_dim x C x p x p`` for a dense matrix (EfficientNet-Lite0 at 512 dimensions: 4 instead of 360 per
output value on blocks.2; WideResNet50 at 1536: 6 and 12 instead of 4608 and 9216). Plain torch, so it exports
to ONNX/OpenVINO. The tests hold it against the construction written step by step.
"""

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

EmbeddingKind = Literal["unfolded", "channel_mean"]


def adaptive_pooling_matrix(length: int, size: int) -> torch.Tensor:
    """Return the ``(size, length)`` matrix of ``F.adaptive_avg_pool1d`` from ``length`` to ``size`` values.

    Output ``i`` averages inputs ``floor(i * length / size)`` to ``ceil((i + 1) * length / size) - 1``.

    Args:
        length (int): Number of input values.
        size (int): Number of output values.

    Returns:
        torch.Tensor: The pooling matrix ``(size, length)``.

    Example:
        >>> adaptive_pooling_matrix(4, 2)
        tensor([[0.5000, 0.5000, 0.0000, 0.0000],
                [0.0000, 0.0000, 0.5000, 0.5000]])

    """
    index = torch.arange(size)
    start = index * length // size
    end = -((-(index + 1) * length) // size)  # ceiling division
    inputs = torch.arange(length)
    window = (inputs >= start[:, None]) & (inputs < end[:, None])
    return window / (end - start)[:, None]


def unfold_neighbourhoods(level: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Each location's zero-padded ``p x p`` neighbourhood as ``C * p * p`` channels, channel-major (as ``F.unfold``).

    Written with padding and slices, which every exporter reads, instead of ``F.unfold``.

    Args:
        level (torch.Tensor): A feature map ``(B, C, H, W)``.
        patch_size (int): Neighbourhood size ``p``.

    Returns:
        torch.Tensor: ``(B, C * p * p, H, W)``.

    Example:
        >>> import torch
        >>> level = torch.arange(9.0).reshape(1, 1, 3, 3)
        >>> unfold_neighbourhoods(level, 3)[0, :, 1, 1]  # the centre's neighbourhood, row by row
        tensor([0., 1., 2., 3., 4., 5., 6., 7., 8.])

    """
    batch, channels, height, width = level.shape
    padded = F.pad(level, [patch_size // 2] * 4)
    shifted = [padded[..., dy : dy + height, dx : dx + width] for dy in range(patch_size) for dx in range(patch_size)]
    return torch.stack(shifted, dim=2).reshape(batch, channels * patch_size * patch_size, height, width)


class UnfoldedEmbedding(nn.Module):
    """Neighbourhoods unfolded with their layout, pooled to ``embedding_dim`` values per location (authors' code).

    Args:
        level_channels (Sequence[int]): Channels of each backbone level, in the order the levels arrive.
        finest_level (int): Index of the level with the finest grid; the others are resized to it.
        patch_size (int): Neighbourhood size ``p``.
        embedding_dim (int): Values per location after pooling (the paper's 1536). Each level is first pooled to
            this length too, as in the authors' code, where both dimensions are equal.

    Example:
        >>> import torch
        >>> embedding = UnfoldedEmbedding([40, 112], finest_level=0, patch_size=3, embedding_dim=256)
        >>> embedding([torch.rand(2, 40, 32, 32), torch.rand(2, 112, 16, 16)]).shape
        torch.Size([2, 256, 32, 32])
        >>> embedding.window  # unfolded values read per output value (dense: 40 * 9 = 360 on the first level)
        [4, 9]

    """

    def __init__(self, level_channels: Sequence[int], finest_level: int, patch_size: int, embedding_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.finest_level = finest_level
        self.out_channels = embedding_dim
        levels = len(level_channels)
        # Pooling of the levels' vectors, laid end to end, to embedding_dim: columns l*dim .. (l+1)*dim - 1 are level l's.
        across_levels = adaptive_pooling_matrix(levels * embedding_dim, embedding_dim)
        self.window: list[int] = []
        self.output_ranges: list[tuple[int, int]] = []
        for level, channels in enumerate(level_channels):
            within_level = adaptive_pooling_matrix(channels * patch_size * patch_size, embedding_dim)
            matrix = across_levels[:, level * embedding_dim : (level + 1) * embedding_dim] @ within_level
            self._register_band(level, matrix)

    def _register_band(self, level: int, matrix: torch.Tensor) -> None:
        """Keep the rows of ``matrix`` that read this level, as (first input, window) gathers with weights."""
        used = matrix.ne(0)
        rows = used.any(1).nonzero().flatten()
        first_row, last_row = int(rows[0]), int(rows[-1])
        band = used[first_row : last_row + 1]
        start = band.float().argmax(1)  # each row's support is one run of neighbouring inputs
        length = band.sum(1, keepdim=True)
        window = int(length.max())
        offset = torch.arange(window)
        index = (start[:, None] + offset).clamp(max=matrix.shape[1] - 1)  # shorter runs at the end repeat the last input
        weight = matrix[first_row : last_row + 1].gather(1, index) * (offset < length)  # ... with weight 0
        self.register_buffer(f"index_{level}", index, persistent=False)
        self.register_buffer(f"weight_{level}", weight, persistent=False)
        self.window.append(window)
        self.output_ranges.append((first_row, last_row + 1))

    def forward(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        """Embed the levels' neighbourhoods on the finest grid (eqs. 1-3).

        Args:
            levels (Sequence[torch.Tensor]): One ``(B, C_l, h_l, w_l)`` map per level.

        Returns:
            torch.Tensor: ``(B, embedding_dim, H, W)`` on the finest level's grid.

        """
        grid = levels[self.finest_level].shape[-2:]
        embedded = None
        for number, level in enumerate(levels):
            index, weight = getattr(self, f"index_{number}"), getattr(self, f"weight_{number}")
            unfolded = unfold_neighbourhoods(level, self.patch_size)  # eqs. 1-2, layout kept
            pooled = unfolded[:, index[:, 0]] * weight[:, 0, None, None]  # both poolings at once, one tap at a time
            for tap in range(1, index.shape[1]):
                pooled = pooled + unfolded[:, index[:, tap]] * weight[:, tap, None, None]
            if number != self.finest_level:
                pooled = F.interpolate(pooled, size=grid, mode="bilinear", align_corners=False)
            first, last = self.output_ranges[number]
            pooled = F.pad(pooled, (0, 0, 0, 0, first, self.out_channels - last))
            embedded = pooled if embedded is None else embedded + pooled  # eq. 3
        return embedded


class ChannelMeanEmbedding(nn.Module):
    """Each channel averaged over the ``p x p`` neighbourhood, levels resized to the finest grid and concatenated.

    The average leaves out the zero padding at the image border. Length: the sum of the levels' channels.

    Args:
        level_channels (Sequence[int]): Channels of each backbone level.
        finest_level (int): Index of the level with the finest grid.
        patch_size (int): Neighbourhood size ``p``.

    Example:
        >>> import torch
        >>> embedding = ChannelMeanEmbedding([40, 112], finest_level=0, patch_size=3)
        >>> embedding([torch.rand(2, 40, 32, 32), torch.rand(2, 112, 16, 16)]).shape
        torch.Size([2, 152, 32, 32])

    """

    def __init__(self, level_channels: Sequence[int], finest_level: int, patch_size: int) -> None:
        super().__init__()
        self.finest_level = finest_level
        self.out_channels = sum(level_channels)
        self.local_average = nn.AvgPool2d(patch_size, stride=1, padding=patch_size // 2, count_include_pad=False)

    def forward(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        """Average each level over the neighbourhood and stack the levels on the finest grid.

        Args:
            levels (Sequence[torch.Tensor]): One ``(B, C_l, h_l, w_l)`` map per level.

        Returns:
            torch.Tensor: ``(B, sum C_l, H, W)`` on the finest level's grid.

        """
        grid = levels[self.finest_level].shape[-2:]
        averaged = [self.local_average(level) for level in levels]  # eqs. 1-2
        resized = [
            level if number == self.finest_level else F.interpolate(level, size=grid, mode="bilinear", align_corners=False)
            for number, level in enumerate(averaged)
        ]
        return torch.cat(resized, dim=1)  # eq. 3
