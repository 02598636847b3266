"""Truncated L1 loss of SimpleNet (Liu et al., CVPR 2023, eqs. 7-8)."""

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

# A mean loss at or above this share of its no-separation floor (th+ - th-) counts as "learning nothing".
STUCK_SHARE = 0.9


class TruncatedL1Loss(nn.Module):
    """Hinge-style loss pushing normal scores above ``th+`` and anomalous ones below ``th-``.

    Per location ``l = max(0, th+ - D(q)) + max(0, -th- + D(q-))`` (eq. 7), averaged over all
    locations of the batch (eq. 8). The thresholds stop the discriminator from driving scores
    to infinity once a feature is classified with margin. Paper defaults: ``th+ = 0.5``,
    ``th- = -0.5``.

    Args:
        normal_threshold: ``th+``, the score a normal feature must reach. Defaults to ``0.5``.
        anomalous_threshold: ``th-``, the score an anomalous feature must stay under.
            Defaults to ``-0.5``. Must be lower than ``normal_threshold``.

    Example:
        >>> import torch
        >>> loss = TruncatedL1Loss()
        >>> loss(torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])).item()
        0.5

    """

    def __init__(self, normal_threshold: float = 0.5, anomalous_threshold: float = -0.5) -> None:
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
            normal_scores: Discriminator outputs ``D(q)`` for adapted normal features.
            anomalous_scores: Discriminator outputs ``D(q-)`` for the noisy copies, same shape.

        Returns:
            Scalar loss tensor.

        """
        normal_term = F.relu(self.normal_threshold - normal_scores)  # eq. 7, first term
        anomalous_term = F.relu(anomalous_scores - self.anomalous_threshold)  # eq. 7, second term
        return (normal_term + anomalous_term).mean()  # eq. 8

    def cannot_separate(self, epoch_loss: float) -> bool:
        """Tell whether a mean loss shows a discriminator that cannot tell normal from anomalous features.

        When ``D(q)`` and ``D(q-)`` are alike, the loss cannot fall below ``th+ - th-`` (1.0 with the
        paper's thresholds); a discriminator that learns drives it towards 0.

        Example:
            >>> loss = TruncatedL1Loss()
            >>> loss.cannot_separate(0.998), loss.cannot_separate(0.3)
            (True, False)

        """
        return epoch_loss >= STUCK_SHARE * (self.normal_threshold - self.anomalous_threshold)
