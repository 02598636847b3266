# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""SimpleNet's loss: the truncated L1 loss (Liu et al., CVPR 2023, eqs. 7-8), or cross-entropy (Table 3, "Ours-CE").

:func:`make_loss` builds the one a model is configured with (``loss="truncated_l1"``, the default, or ``"bce"``).
"""

import math
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

# A mean loss at or above this share of its no-separation floor (th+ - th-) counts as "learning nothing".
STUCK_SHARE = 0.9

LossKind = Literal["truncated_l1", "bce"]


class TruncatedL1Loss(nn.Module):
    """Hinge-style loss pushing normal scores above ``th+`` and anomalous ones below ``th-``.

    Per location ``l = max(0, th+ - D(q)) + max(0, -th- + D(q-))`` (eq. 7), averaged over all
    locations of the batch (eq. 8). The thresholds stop the discriminator from driving scores
    to infinity once a feature is classified with margin. Paper defaults: ``th+ = 0.5``,
    ``th- = -0.5``.

    Args:
        normal_threshold (float): ``th+``, the score a normal feature must reach (the paper's is ``0.5``).
        anomalous_threshold (float): ``th-``, the score an anomalous feature must stay under (the paper's is
            ``-0.5``). Must be lower than ``normal_threshold``.

    Example:
        >>> import torch
        >>> loss = TruncatedL1Loss(normal_threshold=0.5, anomalous_threshold=-0.5)
        >>> loss(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])).item()
        0.5

    """

    def __init__(self, *, normal_threshold: float, anomalous_threshold: float) -> None:
        super().__init__()
        if not anomalous_threshold < normal_threshold:
            msg = (
                f"anomalous_threshold ({anomalous_threshold}) must be lower than normal_threshold "
                f"({normal_threshold}); the paper uses -0.5 and 0.5."
            )
            raise ValueError(msg)
        self.normal_threshold = normal_threshold
        self.anomalous_threshold = anomalous_threshold

    def forward(self, normal_scores: torch.Tensor, anomalous_scores: torch.Tensor) -> torch.Tensor:
        """Return the mean truncated L1 loss over locations.

        Args:
            normal_scores (torch.Tensor): Discriminator outputs ``D(q)`` for adapted normal features.
            anomalous_scores (torch.Tensor): Discriminator outputs ``D(q-)`` for the noisy copies, same shape.

        Returns:
            torch.Tensor: Scalar loss.

        """
        normal_term = F.relu(self.normal_threshold - normal_scores)  # eq. 7, first term
        anomalous_term = F.relu(anomalous_scores - self.anomalous_threshold)  # eq. 7, second term
        return (normal_term + anomalous_term).mean()  # eq. 8

    def cannot_separate(self, epoch_loss: float) -> bool:
        """Tell whether a mean loss shows a discriminator that cannot tell normal from anomalous features.

        When ``D(q)`` and ``D(q-)`` are alike, the loss cannot fall below ``th+ - th-`` (1.0 with the
        paper's thresholds); a discriminator that learns drives it towards 0.

        Args:
            epoch_loss (float): Mean training loss of an epoch.

        Returns:
            bool: Whether the loss is still at 90 % or more of its no-separation floor.

        Example:
            >>> loss = TruncatedL1Loss(normal_threshold=0.5, anomalous_threshold=-0.5)
            >>> loss.cannot_separate(0.998), loss.cannot_separate(0.3)
            (True, False)

        """
        return epoch_loss >= STUCK_SHARE * (self.normal_threshold - self.anomalous_threshold)


class DiscriminatorCrossEntropyLoss(nn.Module):
    """Binary cross-entropy on the discriminator's outputs as logits: normal features are class 1, noisy ones 0.

    Per location ``l = softplus(-D(q)) + softplus(D(q-))``, i.e. ``-log sigmoid(D(q)) - log(1 - sigmoid(D(q-)))``,
    averaged over the locations of the batch: the paper's "Ours-CE" (Table 3), which it reports 0.2 image AUROC
    points below the truncated L1 loss on MVTec AD. Unlike eq. 7 it has no margin: it keeps pushing scores
    apart after a feature is classified. The image and pixel scores are still ``-D(q)`` (eq. 9).

    Example:
        >>> import torch
        >>> loss = DiscriminatorCrossEntropyLoss()
        >>> round(loss(torch.zeros(4), torch.zeros(4)).item(), 4)  # no separation: 2 ln 2
        1.3863
        >>> loss(torch.full((4,), 20.0), torch.full((4,), -20.0)).item() < 1e-6
        True

    """

    def forward(self, normal_scores: torch.Tensor, anomalous_scores: torch.Tensor) -> torch.Tensor:
        """Return the mean cross-entropy over locations (normal: label 1, anomalous: label 0).

        Args:
            normal_scores (torch.Tensor): Discriminator outputs ``D(q)`` for adapted normal features.
            anomalous_scores (torch.Tensor): Discriminator outputs ``D(q-)`` for the noisy copies, same shape.

        Returns:
            torch.Tensor: Scalar loss.

        """
        return (F.softplus(-normal_scores) + F.softplus(anomalous_scores)).mean()

    @staticmethod
    def cannot_separate(epoch_loss: float) -> bool:
        """Tell whether a mean loss shows a discriminator that cannot tell the two apart (floor ``2 ln 2``).

        Args:
            epoch_loss (float): Mean training loss of an epoch.

        Returns:
            bool: Whether the loss is still at 90 % or more of ``2 ln 2``.

        Example:
            >>> DiscriminatorCrossEntropyLoss.cannot_separate(1.38), DiscriminatorCrossEntropyLoss.cannot_separate(0.2)
            (True, False)

        """
        return epoch_loss >= STUCK_SHARE * 2 * math.log(2)


def make_loss(kind: LossKind, *, normal_threshold: float, anomalous_threshold: float) -> nn.Module:
    """Return the loss named ``kind``: ``"truncated_l1"`` (eqs. 7-8, with the thresholds) or ``"bce"`` (Table 3).

    Args:
        kind (LossKind): ``"truncated_l1"`` or ``"bce"``.
        normal_threshold (float): ``th+`` of the truncated L1 loss (not used by ``"bce"``).
        anomalous_threshold (float): ``th-`` of the truncated L1 loss (not used by ``"bce"``).

    Returns:
        nn.Module: The loss, called as ``loss(normal_scores, anomalous_scores)``.

    Raises:
        ValueError: For another name.

    Example:
        >>> type(make_loss("bce", normal_threshold=0.5, anomalous_threshold=-0.5)).__name__
        'DiscriminatorCrossEntropyLoss'

    """
    if kind == "truncated_l1":
        return TruncatedL1Loss(normal_threshold=normal_threshold, anomalous_threshold=anomalous_threshold)
    if kind == "bce":
        return DiscriminatorCrossEntropyLoss()
    msg = f"loss must be 'truncated_l1' (the paper's eqs. 7-8) or 'bce' (cross-entropy, Table 3), got {kind!r}."
    raise ValueError(msg)
