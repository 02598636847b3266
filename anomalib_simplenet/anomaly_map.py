"""Pixel-level anomaly map of SimpleNet: upsample the patch scores, then smooth them."""

import torch
from anomalib.models.components import GaussianBlur2d
from torch import nn
from torch.nn import functional as F  # noqa: N812


class AnomalyMapGenerator(nn.Module):
    """Turn a ``(B, 1, h, w)`` patch-score map into a ``(B, 1, H, W)`` pixel map.

    The paper interpolates the score map ``S_AL`` (eq. 10) to the input resolution and applies a
    Gaussian filter with ``sigma = 4`` (Sec. 3.6). Interpolation is bilinear; the blur is anomalib's
    ``GaussianBlur2d`` with the same kernel-size rule PatchCore uses (``2 * int(4 * sigma + 0.5) + 1``).
    Both are plain torch operations, so the generator exports to ONNX/OpenVINO.

    Args:
        sigma: Standard deviation of the Gaussian blur in pixels. Defaults to ``4.0``.

    Example:
        >>> import torch
        >>> generator = AnomalyMapGenerator(sigma=4.0)
        >>> generator(torch.rand(2, 1, 28, 28), image_size=(224, 224)).shape
        torch.Size([2, 1, 224, 224])

    """

    def __init__(self, sigma: float = 4.0) -> None:
        super().__init__()
        if sigma <= 0:
            msg = f"Anomaly-map blur sigma must be positive, got {sigma}."
            raise ValueError(msg)
        kernel_size = 2 * int(4.0 * sigma + 0.5) + 1
        self.blur = GaussianBlur2d(kernel_size=(kernel_size, kernel_size), sigma=(sigma, sigma), channels=1)

    def forward(self, patch_scores: torch.Tensor, image_size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """Upsample ``patch_scores`` to ``image_size`` and blur.

        Args:
            patch_scores: Patch anomaly scores, shape ``(B, 1, h, w)``.
            image_size: Output ``(H, W)``, normally the input image size.

        Returns:
            Anomaly map of shape ``(B, 1, H, W)``.

        """
        upsampled = F.interpolate(patch_scores, size=(image_size[0], image_size[1]), mode="bilinear", align_corners=False)
        return self.blur(upsampled)
