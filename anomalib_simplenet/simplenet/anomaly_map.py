# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""Pixel-level anomaly map of SimpleNet: upsample the patch scores, then smooth them."""

import torch
from kornia.filters import get_gaussian_kernel1d
from torch import nn
from torch.nn import functional as F  # noqa: N812


class AnomalyMapGenerator(nn.Module):
    """Turn a ``(B, 1, h, w)`` patch-score map into a ``(B, 1, H, W)`` pixel map.

    The paper interpolates the score map ``S_AL`` (eq. 10) to the input resolution and applies a
    Gaussian filter with ``sigma = 4`` (Sec. 3.6). Interpolation is bilinear; the blur uses kornia's
    Gaussian kernel with the kernel-size rule of anomalib's PatchCore (``2 * int(4 * sigma + 0.5) + 1``)
    and reflect borders, so it equals anomalib's ``GaussianBlur2d`` (tested to 1e-6).

    It is computed differently, though: a Gaussian blur with reflect borders is a linear map along
    each axis, so the whole blur is ``B_H^T @ map @ B_W`` with two small ``(n, n)`` matrices, much less work
    on a CPU than the 33x33 convolution of ``GaussianBlur2d``.
    Both are plain torch, so the generator exports to ONNX/OpenVINO.

    Args:
        sigma (float): Standard deviation of the Gaussian blur in pixels (the paper's is ``4``).

    Example:
        >>> import torch
        >>> generator = AnomalyMapGenerator(sigma=4.0)
        >>> generator(torch.rand(2, 1, 28, 28), image_size=(224, 224)).shape
        torch.Size([2, 1, 224, 224])

    """

    def __init__(self, sigma: float) -> None:
        super().__init__()
        if sigma <= 0:
            msg = f"Anomaly-map blur sigma must be positive, got {sigma}."
            raise ValueError(msg)
        kernel_size = 2 * int(4.0 * sigma + 0.5) + 1
        self.register_buffer("kernel", get_gaussian_kernel1d(kernel_size, sigma).view(1, 1, kernel_size), persistent=False)

    def blur_matrix(self, size: int) -> torch.Tensor:
        """``(size, size)`` matrix whose row ``i`` is the blurred unit vector ``e_i`` (reflect borders).

        Args:
            size (int): Length of the axis to blur.

        Returns:
            torch.Tensor: The blur matrix ``(size, size)``.

        Raises:
            ValueError: If the axis is not longer than the blur radius.

        """
        radius = self.kernel.shape[-1] // 2
        if size <= radius:
            msg = f"Anomaly maps must be larger than the blur radius ({radius} px) in both directions, got {size} px."
            raise ValueError(msg)
        unit_vectors = torch.eye(size, dtype=self.kernel.dtype, device=self.kernel.device).unsqueeze(1)
        return F.conv1d(F.pad(unit_vectors, (radius, radius), mode="reflect"), self.kernel).squeeze(1)

    def forward(self, patch_scores: torch.Tensor, image_size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Upsample ``patch_scores`` to ``image_size`` and blur.

        Args:
            patch_scores (torch.Tensor): Patch anomaly scores, shape ``(B, 1, h, w)``.
            image_size (tuple[int, int] | torch.Size): Output ``(H, W)``, normally the input image size.

        Returns:
            torch.Tensor: Anomaly map of shape ``(B, 1, H, W)``.

        """
        height, width = int(image_size[0]), int(image_size[1])
        upsampled = F.interpolate(patch_scores, size=(height, width), mode="bilinear", align_corners=False)
        return self.blur_matrix(height).T @ upsampled @ self.blur_matrix(width)
