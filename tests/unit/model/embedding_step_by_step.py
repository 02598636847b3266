"""The unfolded embedding computed as its description reads, one step after the other: the oracle of the fast one.

Slow on purpose: the tests and ``benchmarks/profile_inference.py`` hold the model's banded
:class:`~anomalib_simplenet.simplenet.embedding.UnfoldedEmbedding` against it.
"""

from collections.abc import Sequence

import torch
from torch.nn import functional as F  # noqa: N812


def unfolded_embedding_step_by_step(
    levels: Sequence[torch.Tensor], finest_level: int, patch_size: int, embedding_dim: int
) -> torch.Tensor:
    """Compute the unfolded embedding as its description reads, one step after the other (slow; for checking).

    Unfold every level, resize the unfolded coarser levels to the finest grid, pool each location's values per level
    to ``embedding_dim``, lay the levels end to end and pool again.
    """
    batch = levels[0].shape[0]
    grid = levels[finest_level].shape[-2:]
    per_level = []
    for number, level in enumerate(levels):
        unfolded = F.unfold(level, patch_size, padding=patch_size // 2).unflatten(-1, level.shape[-2:])
        if number != finest_level:
            unfolded = F.interpolate(unfolded, size=grid, mode="bilinear", align_corners=False)
        locations = unfolded.permute(0, 2, 3, 1).reshape(-1, 1, unfolded.shape[1])
        per_level.append(F.adaptive_avg_pool1d(locations, embedding_dim))
    end_to_end = torch.cat(per_level, dim=-1)
    pooled = F.adaptive_avg_pool1d(end_to_end, embedding_dim)
    return pooled.reshape(batch, *grid, embedding_dim).permute(0, 3, 1, 2)
