# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""SimpleNet as a plain torch module: the four components wired together (math only, no Lightning).

Liu et al., "SimpleNet: A Simple Network for Image Anomaly Detection and Localization", CVPR 2023.
:class:`SimpleNetModel` takes the components of :mod:`.components` in the paper's order:
:meth:`SimpleNetModel.compute_loss` is the training objective (eqs. 7-8), and the eval-mode ``forward`` scores
images (eqs. 9-11).
"""

from collections.abc import Sequence
from pathlib import Path

import torch
from anomalib.data import InferenceBatch
from torch import nn

from .anomaly_map import AnomalyMapGenerator
from .components import (
    AdaptorInit,
    AdaptorType,
    AnomalousFeatureGenerator,
    Discriminator,
    FeatureAdaptor,
    FeatureExtractor,
    NoiseScale,
)
from .embedding import EmbeddingKind
from .image_score import ImagePooling, ImageScore
from .loss import LossKind, make_loss


def _to_locations(feature_map: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B*H*W, C)``: one row per spatial location."""
    return feature_map.permute(0, 2, 3, 1).reshape(-1, feature_map.shape[1])


class SimpleNetModel(nn.Module):
    """SimpleNet: feature extractor -> feature adaptor -> anomalous feature generator -> discriminator.

    In training, :meth:`compute_loss` takes the extractor's output (possibly stored from an earlier epoch) and
    returns the loss. In eval mode, ``forward`` returns an :class:`~anomalib.data.InferenceBatch` with the image
    score (pooled from the patch scores, eq. 11; :mod:`.image_score`) and the pixel anomaly map (patch scores
    upsampled and blurred, eq. 10 and Sec. 3.6).

    Every setting is a keyword without a default: the defaults are :class:`~.lightning_model.SimpleNet`'s.

    Args:
        backbone (str): timm CNN name.
        layers (Sequence[str]): Backbone levels.
        pre_trained (bool): Load ImageNet weights via timm.
        backbone_weights (str | Path | None): Local backbone weights file instead of the timm download.
        patch_size (int): Neighbourhood ``p``.
        embedding (EmbeddingKind): ``"unfolded"`` (authors' code, layout kept) or ``"channel_mean"``.
        embedding_dim (int): Length of the unfolded embedding.
        adaptor (AdaptorType): ``"linear"``, ``"linear_no_bias"``, ``"none"`` or ``"mlp"``.
        adaptor_init (AdaptorInit): ``"default"`` or ``"xavier_normal"``.
        noise_std (float): Noise ``sigma``.
        noise_scale (NoiseScale): ``"relative"`` or ``"absolute"`` (paper).
        discriminator_hidden (int): Discriminator hidden width.
        normal_threshold (float): ``th+`` of the truncated L1 loss.
        anomalous_threshold (float): ``th-`` of the truncated L1 loss.
        loss (LossKind): ``"truncated_l1"`` (eqs. 7-8) or ``"bce"`` (cross-entropy, Table 3 "Ours-CE").
        blur_sigma (float): Anomaly-map blur sigma, in pixels.
        image_score (ImagePooling): ``"standardised_max"`` or ``"max"`` (paper); see :mod:`.image_score`.

    Example:
        >>> import torch
        >>> model = SimpleNetModel(
        ...     backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, backbone_weights=None,
        ...     patch_size=3, embedding="unfolded", embedding_dim=64, adaptor="linear", adaptor_init="default",
        ...     noise_std=0.35, noise_scale="relative", discriminator_hidden=64, normal_threshold=0.5,
        ...     anomalous_threshold=-0.5, loss="truncated_l1", blur_sigma=4.0, image_score="max",
        ... )
        >>> images = torch.rand(2, 3, 224, 224)
        >>> model.compute_loss(model.feature_extractor(images)).ndim
        0
        >>> output = model.eval()(images)
        >>> output.pred_score.shape, output.anomaly_map.shape
        (torch.Size([2]), torch.Size([2, 1, 224, 224]))

    """

    def __init__(
        self,
        *,
        backbone: str,
        layers: Sequence[str],
        pre_trained: bool,
        backbone_weights: str | Path | None,
        patch_size: int,
        embedding: EmbeddingKind,
        embedding_dim: int,
        adaptor: AdaptorType,
        adaptor_init: AdaptorInit,
        noise_std: float,
        noise_scale: NoiseScale,
        discriminator_hidden: int,
        normal_threshold: float,
        anomalous_threshold: float,
        loss: LossKind,
        blur_sigma: float,
        image_score: ImagePooling,
    ) -> None:
        super().__init__()
        self.feature_extractor = FeatureExtractor(
            backbone=backbone,
            layers=layers,
            pre_trained=pre_trained,
            backbone_weights=backbone_weights,
            patch_size=patch_size,
            embedding=embedding,
            embedding_dim=embedding_dim,
        )
        channels = self.feature_extractor.out_channels
        self.feature_adaptor = FeatureAdaptor(channels, adaptor=adaptor, init=adaptor_init)
        self.anomalous_feature_generator = AnomalousFeatureGenerator(noise_std=noise_std, noise_scale=noise_scale)
        self.discriminator = Discriminator(channels, hidden=discriminator_hidden)
        self.loss = make_loss(loss, normal_threshold=normal_threshold, anomalous_threshold=anomalous_threshold)
        self.anomaly_map_generator = AnomalyMapGenerator(sigma=blur_sigma)
        self.image_score = ImageScore(pooling=image_score)

    def compute_loss(self, features: torch.Tensor) -> torch.Tensor:
        """Training objective for a batch of extractor outputs (eqs. 5-8).

        Args:
            features (torch.Tensor): Extractor outputs ``(B, C, H0, W0)``.

        Returns:
            torch.Tensor: The scalar loss.

        """
        adapted = self.feature_adaptor(_to_locations(features))  # eq. 5
        anomalous = self.anomalous_feature_generator(adapted)  # eq. 6
        normal_scores, anomalous_scores = self.discriminator(torch.cat([adapted, anomalous])).chunk(2)
        return self.loss(normal_scores, anomalous_scores)  # eqs. 7-8

    def patch_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``s = -D(G(o))`` per location (eq. 9).

        Args:
            features (torch.Tensor): Extractor outputs ``(B, C, H0, W0)``.

        Returns:
            torch.Tensor: Patch scores ``(B, 1, H0, W0)``.

        """
        batch, _, height, width = features.shape
        normality = self.discriminator(self.feature_adaptor(_to_locations(features)))
        return -normality.reshape(batch, 1, height, width)

    def forward(self, images: torch.Tensor) -> InferenceBatch:
        """Score normalised images (eval mode).

        Args:
            images (torch.Tensor): Normalised RGB images ``(B, 3, H, W)``.

        Returns:
            InferenceBatch: ``pred_score`` ``(B,)`` and ``anomaly_map`` ``(B, 1, H, W)``.

        Raises:
            ValueError: If ``images`` is not a batch of 3-channel images.

        """
        if images.ndim != 4 or images.shape[1] != 3:
            msg = (
                f"SimpleNet expects a (batch, 3, height, width) tensor of RGB images, got shape {tuple(images.shape)}. "
                "Convert grayscale or RGBA images to RGB first."
            )
            raise ValueError(msg)
        patch_scores = self.patch_scores(self.feature_extractor(images))
        pred_score = self.image_score(patch_scores)  # eq. 11, on the unsmoothed map
        anomaly_map = self.anomaly_map_generator(patch_scores, images.shape[-2:])  # eq. 10 + Sec. 3.6
        return InferenceBatch(pred_score=pred_score, anomaly_map=anomaly_map)
