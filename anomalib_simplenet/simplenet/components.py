# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""The four components of SimpleNet, in the paper's order (Liu et al., CVPR 2023, Sec. 3.1-3.4).

1. :class:`FeatureExtractor` -- frozen ImageNet backbone; each location's neighbourhood on every hierarchy
   level, levels resized to one grid and combined into one local feature (eqs. 1-4; :mod:`.embedding`).
2. :class:`FeatureAdaptor` -- one linear layer per location (eq. 5).
3. :class:`AnomalousFeatureGenerator` -- i.i.d. Gaussian noise added to adapted features, training
   only (eq. 6).
4. :class:`Discriminator` -- a two-layer MLP scoring normality per location (Sec. 3.4).

:class:`~.torch_model.SimpleNetModel` wires them together. The settings have no defaults here: the model's
defaults are written once, in :class:`~.lightning_model.SimpleNet`.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
from anomalib.models.components import TimmFeatureExtractor
from torch import nn

from .backbone_weights import load_backbone_weights
from .embedding import ChannelMeanEmbedding, EmbeddingKind, UnfoldedEmbedding

AdaptorType = Literal["linear", "linear_no_bias", "none", "mlp"]
AdaptorInit = Literal["default", "xavier_normal"]
NoiseScale = Literal["relative", "absolute"]


def require_positive(**values: float) -> None:
    """Raise a ``ValueError`` naming every value that is not positive.

    Args:
        **values (float): The values to check, by the name of their argument.

    Raises:
        ValueError: If any value is zero, negative or NaN.

    Example:
        >>> require_positive(noise_std=0.35)
        >>> require_positive(noise_std=0.0, patch_size=3)
        Traceback (most recent call last):
        ...
        ValueError: SimpleNet needs positive values, got noise_std=0.0.

    """
    bad = {name: value for name, value in values.items() if not value > 0}
    if bad:
        msg = ", ".join(f"{name}={value!r}" for name, value in bad.items())
        raise ValueError(f"SimpleNet needs positive values, got {msg}.")


class FeatureExtractor(nn.Module):
    """Component 1: local features ``o = F_phi(x)`` from a frozen pre-trained CNN (eqs. 1-4).

    The backbone (anomalib's :class:`~anomalib.models.components.TimmFeatureExtractor`, so any timm CNN)
    gives the requested hierarchy levels; the embedding (:mod:`.embedding`) takes each location's ``p x p``
    neighbourhood on every level (eqs. 1-2, stride 1), brings the levels to the finest grid and combines them
    into one vector per location (eq. 3). The backbone stays in eval mode and receives no gradients.

    Args:
        backbone (str): timm model name, e.g. ``"wide_resnet50_2"`` (the paper's).
        layers (Sequence[str]): Hierarchy levels to use, by timm module name, e.g. ``("layer2", "layer3")``.
        pre_trained (bool): Load ImageNet weights through timm (downloads on first use). Ignored when
            ``backbone_weights`` is given.
        backbone_weights (str | Path | None): Local weights file to load instead of downloading
            (see :mod:`.backbone_weights`).
        patch_size (int): Neighbourhood size ``p`` (odd).
        embedding (EmbeddingKind): ``"unfolded"`` (the authors' code: neighbourhoods unfolded with their layout,
            pooled to ``embedding_dim``) or ``"channel_mean"`` (each channel averaged over the neighbourhood).
        embedding_dim (int): Length of the unfolded embedding (the paper's is 1536, Sec. 4.1). Not used by
            ``"channel_mean"``, whose length is the sum of the levels' channels.

    Example:
        >>> import torch
        >>> extractor = FeatureExtractor(
        ...     backbone="resnet18", layers=("layer2", "layer3"), pre_trained=False, backbone_weights=None,
        ...     patch_size=3, embedding="unfolded", embedding_dim=512,
        ... )
        >>> extractor(torch.rand(1, 3, 224, 224)).shape  # 512 values per location on layer2's 28x28 grid
        torch.Size([1, 512, 28, 28])

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
    ) -> None:
        super().__init__()
        require_positive(patch_size=patch_size, embedding_dim=embedding_dim)
        if embedding not in {"unfolded", "channel_mean"}:
            msg = f"embedding must be 'unfolded' (the authors' code) or 'channel_mean', got {embedding!r}."
            raise ValueError(msg)
        if patch_size % 2 == 0:
            msg = f"patch_size must be odd so the neighbourhood is centred on its location, got {patch_size}."
            raise ValueError(msg)
        if not layers:
            msg = "layers must name at least one backbone level, e.g. ('layer2', 'layer3')."
            raise ValueError(msg)
        self.backbone_name = backbone
        self.backbone = TimmFeatureExtractor(backbone, layers=list(layers), pre_trained=False, requires_grad=False)
        self.backbone.requires_grad_(False)
        if list(self.backbone.layers) != list(layers):  # TimmFeatureExtractor drops unknown names with a warning
            self._raise_unknown_layers(backbone, layers)
        if pre_trained or backbone_weights is not None:
            self.load_weights(backbone_weights)
        # A dry run tells each level's channels and which has the finest grid, in the order the levels arrive:
        # TimmFeatureExtractor returns them in the network's order, whatever order they were named in.
        with torch.no_grad():
            levels = list(self.backbone.eval()(torch.zeros(1, 3, 64, 64)).values())
        channels, widths = [level.shape[1] for level in levels], [level.shape[-1] for level in levels]
        finest_level = widths.index(max(widths))
        if embedding == "unfolded":
            self.embedding = UnfoldedEmbedding(channels, finest_level, patch_size, embedding_dim)
        else:
            self.embedding = ChannelMeanEmbedding(channels, finest_level, patch_size)
        self.out_channels = self.embedding.out_channels
        self.eval()

    @staticmethod
    def _raise_unknown_layers(backbone: str, layers: Sequence[str]) -> None:
        import timm  # noqa: PLC0415  (only on the error path)

        available = [info["module"] for info in timm.create_model(backbone, features_only=True).feature_info.info]
        unknown = [layer for layer in layers if layer not in available]
        msg = f"Unknown backbone level(s) {unknown} for '{backbone}'. Available levels: {available}."
        raise ValueError(msg)

    def load_weights(self, path: str | Path | None = None) -> None:
        """Load ImageNet weights into the backbone: from ``path`` if given, else through timm's download.

        Args:
            path (str | Path | None): Local weights file; ``None`` downloads through timm.

        Raises:
            RuntimeError: If the download fails (no network); the message says how to work offline.

        """
        if path is not None:
            load_backbone_weights(self.backbone.feature_extractor, self.backbone_name, path)
            return
        import timm  # noqa: PLC0415

        try:
            pretrained = timm.create_model(self.backbone_name, pretrained=True, features_only=True, out_indices=self.backbone.idx)
        except Exception as error:  # timm raises various hub/HTTP/OS errors when offline
            msg = (
                f"Could not fetch ImageNet weights for '{self.backbone_name}' through timm ({type(error).__name__}: "
                f"{error}). Offline? Pass backbone_weights='<file.pth>' (--model.backbone_weights) "
                "or pre_trained=False."
            )
            raise RuntimeError(msg) from error
        self.backbone.feature_extractor.load_state_dict(pretrained.state_dict())

    def train(self, mode: bool = True) -> "FeatureExtractor":
        """Keep the frozen backbone in eval mode so its BatchNorm statistics never change.

        Args:
            mode (bool): Ignored: the extractor is always in eval mode.

        Returns:
            FeatureExtractor: This module.

        """
        super().train(False)
        del mode
        return self

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return the local-feature map ``o``.

        Args:
            images (torch.Tensor): Normalised images ``(B, 3, H, W)``.

        Returns:
            torch.Tensor: Local features ``(B, C, H0, W0)`` on the finest level's grid.

        """
        return self.embedding(list(self.backbone(images).values()))  # eqs. 1-3


class FeatureAdaptor(nn.Module):
    """Component 2: ``q = G_theta(o)``, one fully connected layer applied per location (eq. 5).

    The paper describes it without bias; the authors' code uses a bias (their ``pre_proj=1``).
    ``"none"`` skips adaptation (Table 3: "Ours-w/o-FA") and ``"mlp"`` is a non-linear one, two layers with a
    LeakyReLU between them (Table 3: "Ours-complex-FA"; for the ablation).

    Args:
        channels (int): Feature dimension ``C`` (input = output).
        adaptor (AdaptorType): ``"linear"`` (with bias), ``"linear_no_bias"``, ``"none"`` or ``"mlp"``.
        init (AdaptorInit): Weight initialisation: ``"default"`` (PyTorch's) or ``"xavier_normal"`` (the authors' code).

    Example:
        >>> import torch
        >>> FeatureAdaptor(8, adaptor="linear", init="default")(torch.rand(5, 8)).shape
        torch.Size([5, 8])

    """

    def __init__(self, channels: int, *, adaptor: AdaptorType, init: AdaptorInit) -> None:
        super().__init__()
        if adaptor not in {"linear", "linear_no_bias", "none", "mlp"}:
            msg = f"adaptor must be 'linear', 'linear_no_bias', 'none' or 'mlp', got {adaptor!r}."
            raise ValueError(msg)
        if init not in {"default", "xavier_normal"}:
            msg = f"adaptor_init must be 'default' or 'xavier_normal', got {init!r}."
            raise ValueError(msg)
        if adaptor == "mlp":
            self.projection = nn.Sequential(nn.Linear(channels, channels), nn.LeakyReLU(0.2), nn.Linear(channels, channels))
        else:
            self.projection = nn.Identity() if adaptor == "none" else nn.Linear(channels, channels, bias=adaptor == "linear")
        for layer in self.projection.modules():
            if init == "xavier_normal" and isinstance(layer, nn.Linear):
                nn.init.xavier_normal_(layer.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Adapt features to the target domain.

        Args:
            features (torch.Tensor): Local features ``(N, C)``, one row per location.

        Returns:
            torch.Tensor: Adapted features ``(N, C)``.

        """
        return self.projection(features)  # eq. 5


class AnomalousFeatureGenerator(nn.Module):
    """Component 3: ``q- = q + eps``, ``eps ~ N(0, sigma^2)`` i.i.d. per channel (eq. 6). Training only.

    ``noise_scale="absolute"`` is the paper's: ``sigma = noise_std`` whatever the features' scale (0.015
    was set for WideResNet50 features). ``"relative"`` measures ``sigma`` in units of each channel's
    standard deviation over the batch's locations, so one value fits every backbone (EfficientNet-Lite0
    features have a std near 6.5, WideResNet50's near 0.5): the adaptor cannot make the noise negligible
    by scaling its output either.

    Args:
        noise_std (float): ``sigma``, relative or absolute. The paper's absolute value is ``0.015`` (Fig. 5).
        noise_scale (NoiseScale): ``"relative"`` or ``"absolute"``.

    Example:
        >>> import torch
        >>> generator = AnomalousFeatureGenerator(noise_std=0.5, noise_scale="relative")
        >>> features = 100 * torch.randn(10000, 8)
        >>> round(float((generator(features) - features).std() / features.std()), 1)
        0.5

    """

    def __init__(self, *, noise_std: float, noise_scale: NoiseScale) -> None:
        super().__init__()
        require_positive(noise_std=noise_std)
        if noise_scale not in {"relative", "absolute"}:
            msg = f"noise_scale must be 'relative' or 'absolute', got {noise_scale!r}."
            raise ValueError(msg)
        self.noise_std = noise_std
        self.noise_scale = noise_scale

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return a noisy copy of the features.

        Args:
            features (torch.Tensor): Adapted features ``(N, C)``.

        Returns:
            torch.Tensor: ``features`` plus Gaussian noise, ``(N, C)``.

        """
        sigma = self.noise_std
        if self.noise_scale == "relative":
            sigma = self.noise_std * features.detach().std(dim=0, keepdim=True)  # per channel, over the batch
        return features + sigma * torch.randn_like(features)  # eq. 6


class Discriminator(nn.Module):
    """Component 4: ``D_psi``, normality score per location (Sec. 3.4).

    Linear -> BatchNorm1d -> LeakyReLU(0.2) -> Linear(hidden, 1), no sigmoid; positive means normal.
    Layout, slope, bias-free last layer and Xavier initialisation follow the authors' code.

    Args:
        channels (int): Input feature dimension ``C``.
        hidden (int): Hidden width (the paper's is 1024).

    Example:
        >>> import torch
        >>> Discriminator(8, hidden=16).eval()(torch.rand(5, 8)).shape
        torch.Size([5, 1])

    """

    def __init__(self, channels: int, *, hidden: int) -> None:
        super().__init__()
        require_positive(discriminator_hidden=hidden)
        self.layers = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1, bias=False),
        )
        for module in self.layers:
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Score features; positive means normal.

        Args:
            features (torch.Tensor): Adapted features ``(N, C)``.

        Returns:
            torch.Tensor: Normality scores ``(N, 1)``.

        """
        return self.layers(features)
