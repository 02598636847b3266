# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Image anomaly score of SimpleNet: one number per image, pooled from its patch-score map (eq. 11).

The paper takes the largest patch score. Every location competes for that maximum on equal terms, so a
location whose scores run high or spread widely on *good* images -- the image border, whose features the
backbone computes from zero padding, or a busy background -- can decide the score of a good image and
push it above a defective one. ``"standardised_max"`` measures each location against itself first: its
score minus the mean, divided by the standard deviation, of the scores that location gets on the
training images; then the maximum is taken. The statistics are fitted once per fit on the final model
(:meth:`ImageScore.fit`), saved with the model and part of the exported graph.
"""

from typing import Literal

import torch
from anomalib.models.components import DynamicBufferMixin
from torch.nn import functional as F  # noqa: N812

ImagePooling = Literal["max", "standardised_max"]
POOLINGS = ("max", "standardised_max")


class ImageScore(DynamicBufferMixin):
    """Pool ``(B, 1, h, w)`` patch scores into ``(B,)`` image scores.

    Args:
        pooling (ImagePooling): ``"max"`` (the paper's, eq. 11) or ``"standardised_max"`` (each location standardised
            with the training images' scores at that location, then the maximum).

    Example:
        >>> import torch
        >>> scorer = ImageScore("standardised_max")
        >>> training = torch.randn(50, 1, 4, 4) * torch.tensor([1.0, 1.0, 1.0, 10.0])  # the last column varies 10x
        >>> scorer.fit(training)
        >>> scores = torch.zeros(2, 1, 4, 4)
        >>> scores[0, 0, 0, 3], scores[1, 0, 0, 0] = 5.0, 5.0  # the same raw score, at a wild and at a quiet location
        >>> bool(scorer(scores)[1] > scorer(scores)[0]), ImageScore("max")(scores).tolist()
        (True, [5.0, 5.0])

    """

    def __init__(self, pooling: ImagePooling) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            msg = f"image_score must be one of {POOLINGS}, got {pooling!r}."
            raise ValueError(msg)
        self.pooling = pooling
        # 1x1 until fitted: the identity, whatever the grid (a constant spreads to any size).
        self.register_buffer("location_mean", torch.zeros(1, 1, 1, 1))
        self.register_buffer("location_std", torch.ones(1, 1, 1, 1))

    @property
    def needs_statistics(self) -> bool:
        """Whether this pooling uses statistics of the training images' scores."""
        return self.pooling == "standardised_max"

    @torch.no_grad()
    def fit(self, training_scores: torch.Tensor) -> None:
        """Fit each location's mean and standard deviation on the patch scores of the training images.

        Args:
            training_scores (torch.Tensor): Patch scores ``(N, 1, h, w)`` of the training images.

        Raises:
            ValueError: With fewer than two training images (no spread can be measured).

        """
        if len(training_scores) < 2:
            msg = (
                "image_score='standardised_max' needs at least 2 training images to measure each location's spread, "
                f"got {len(training_scores)}. Add good images, or use image_score='max'."
            )
            raise ValueError(msg)
        self.location_mean = training_scores.mean(dim=0, keepdim=True)
        self.location_std = training_scores.std(dim=0, keepdim=True) + 1e-6  # a location that never varies divides by 1e-6

    def standardise(self, patch_scores: torch.Tensor) -> torch.Tensor:
        """``(s - mean) / std`` per location; the statistics are resized when the grid differs from the training grid.

        Args:
            patch_scores (torch.Tensor): Patch scores ``(B, 1, h, w)``.

        Returns:
            torch.Tensor: Standardised patch scores, same shape.

        """
        size = patch_scores.shape[-2:]
        mean = F.interpolate(self.location_mean, size=size, mode="bilinear", align_corners=False)
        std = F.interpolate(self.location_std, size=size, mode="bilinear", align_corners=False)
        return (patch_scores - mean) / std

    def forward(self, patch_scores: torch.Tensor) -> torch.Tensor:
        """Return the image scores.

        Args:
            patch_scores (torch.Tensor): Patch scores ``(B, 1, h, w)``.

        Returns:
            torch.Tensor: Image scores ``(B,)``.

        """
        if self.pooling == "standardised_max":
            patch_scores = self.standardise(patch_scores)
        return torch.amax(patch_scores, dim=(1, 2, 3))  # eq. 11

    # Loading: fitted statistics have the training grid's shape, not the 1x1 placeholder; anomalib's
    # DynamicBufferMixin resizes the buffers to the saved shapes first.
