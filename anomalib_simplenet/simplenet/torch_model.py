"""SimpleNet as a plain torch module: the four components wired together (math only, no Lightning).

Liu et al., "SimpleNet: A Simple Network for Image Anomaly Detection and Localization", CVPR 2023.
:class:`SimpleNetModel` takes the components of :mod:`anomalib_simplenet.simplenet.components` in the paper's
order: :meth:`SimpleNetModel.compute_loss` is the training objective (eqs. 7-8), and the eval-mode
``forward`` scores images (eqs. 9-11).
"""

import inspect
from collections.abc import Sequence
from pathlib import Path

import torch
from anomalib.data import InferenceBatch
from torch import nn

from .anomaly_map import AnomalyMapGenerator
from .components import (
    DEFAULT_EMBEDDING_DIM,
    DEFAULT_NOISE_STD,
    AdaptorInit,
    AdaptorType,
    AnomalousFeatureGenerator,
    Discriminator,
    FeatureAdaptor,
    FeatureExtractor,
    NoiseScale,
)
from .embedding import EmbeddingKind
from .image_score import DEFAULT_IMAGE_SCORE, ImagePooling, ImageScore
from .loss import LossKind, make_loss


def _to_locations(feature_map: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B*H*W, C)``: one row per spatial location."""
    return feature_map.permute(0, 2, 3, 1).reshape(-1, feature_map.shape[1])


class SimpleNetModel(nn.Module):
    """SimpleNet: feature extractor -> feature adaptor -> anomalous feature generator -> discriminator.

    In training, :meth:`compute_loss` takes the extractor's output (possibly from a cache) and
    returns the loss (truncated L1 unless ``loss="bce"``). In eval mode, ``forward`` returns an
    :class:`~anomalib.data.InferenceBatch` with the image score (pooled from the patch scores, eq. 11; see
    :mod:`.image_score`)
    and the pixel anomaly map (patch scores upsampled and blurred, eq. 10 and Sec. 3.6).

    Args:
        backbone: timm CNN name. Defaults to ``"wide_resnet50_2"``.
        layers: Backbone levels. Defaults to ``("layer2", "layer3")``.
        pre_trained: Load ImageNet weights via timm. Defaults to ``True``.
        backbone_weights: Local backbone weights file instead of the timm download.
        patch_size: Neighbourhood ``p``. Defaults to ``3``.
        embedding: ``"unfolded"`` (authors' code, layout kept) or ``"channel_mean"``. Defaults to ``"unfolded"``.
        embedding_dim: Length of the unfolded embedding. Defaults to ``1536`` (paper).
        adaptor: ``"linear"``, ``"linear_no_bias"``, ``"none"`` or ``"mlp"``. Defaults to ``"linear"``.
        adaptor_init: ``"default"`` or ``"xavier_normal"``. Defaults to ``"default"``.
        noise_std: Noise ``sigma``. Defaults to ``0.35`` (relative).
        noise_scale: ``"relative"`` or ``"absolute"`` (paper). Defaults to ``"relative"``.
        discriminator_hidden: Discriminator hidden width. Defaults to ``1024``.
        normal_threshold: ``th+`` of the loss. Defaults to ``0.5``.
        anomalous_threshold: ``th-`` of the loss. Defaults to ``-0.5``.
        loss: ``"truncated_l1"`` (eqs. 7-8, default) or ``"bce"`` (cross-entropy, Table 3 "Ours-CE").
        blur_sigma: Anomaly-map blur sigma. Defaults to ``4.0``.
        image_score: How the image score is pooled from the patch scores: ``"standardised_max"`` (default) or
            ``"max"`` (paper); see :mod:`anomalib_simplenet.simplenet.image_score`.

    Example:
        >>> import torch
        >>> model = SimpleNetModel("resnet18", ("layer2", "layer3"), pre_trained=False, embedding_dim=64, discriminator_hidden=64)
        >>> images = torch.rand(2, 3, 224, 224)
        >>> model.compute_loss(model.feature_extractor(images)).ndim
        0
        >>> output = model.eval()(images)
        >>> output.pred_score.shape, output.anomaly_map.shape
        (torch.Size([2]), torch.Size([2, 1, 224, 224]))

    """

    def __init__(
        self,
        backbone: str = "wide_resnet50_2",
        layers: Sequence[str] = ("layer2", "layer3"),
        pre_trained: bool = True,
        backbone_weights: str | Path | None = None,
        patch_size: int = 3,
        embedding: EmbeddingKind = "unfolded",
        embedding_dim: int = DEFAULT_EMBEDDING_DIM,
        adaptor: AdaptorType = "linear",
        adaptor_init: AdaptorInit = "default",
        noise_std: float = DEFAULT_NOISE_STD,
        noise_scale: NoiseScale = "relative",
        discriminator_hidden: int = 1024,
        normal_threshold: float = 0.5,
        anomalous_threshold: float = -0.5,
        loss: LossKind = "truncated_l1",
        blur_sigma: float = 4.0,
        image_score: ImagePooling = DEFAULT_IMAGE_SCORE,
    ) -> None:
        super().__init__()
        self.feature_extractor = FeatureExtractor(
            backbone, layers, pre_trained, backbone_weights, patch_size, embedding, embedding_dim
        )
        channels = self.feature_extractor.out_channels
        self.feature_adaptor = FeatureAdaptor(channels, adaptor, adaptor_init)
        self.anomalous_feature_generator = AnomalousFeatureGenerator(noise_std, noise_scale)
        self.discriminator = Discriminator(channels, discriminator_hidden)
        self.loss = make_loss(loss, normal_threshold, anomalous_threshold)
        self.anomaly_map_generator = AnomalyMapGenerator(blur_sigma)
        self.image_score = ImageScore(image_score)

    def compute_loss(self, features: torch.Tensor) -> torch.Tensor:
        """Training objective for a batch of extractor outputs ``(B, C, H0, W0)`` (eqs. 5-8)."""
        adapted = self.feature_adaptor(_to_locations(features))  # eq. 5
        anomalous = self.anomalous_feature_generator(adapted)  # eq. 6
        normal_scores, anomalous_scores = self.discriminator(torch.cat([adapted, anomalous])).chunk(2)
        return self.loss(normal_scores, anomalous_scores)  # eqs. 7-8

    def patch_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Anomaly score ``s = -D(G(o))`` per location (eq. 9), shape ``(B, 1, H0, W0)``."""
        batch, _, height, width = features.shape
        normality = self.discriminator(self.feature_adaptor(_to_locations(features)))
        return -normality.reshape(batch, 1, height, width)

    def forward(self, images: torch.Tensor) -> InferenceBatch:
        """Score ``(B, 3, H, W)`` normalised images (eval mode).

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


# The arguments that shape a SimpleNetModel: all but how its backbone gets its weights. A checkpoint records them.
TORCH_MODEL_ARGUMENTS = tuple(
    name for name in inspect.signature(SimpleNetModel).parameters if name not in {"pre_trained", "backbone_weights"}
)
