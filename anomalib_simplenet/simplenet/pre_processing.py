# Copyright (C) 2026 anomalib-simplenet contributors
# SPDX-License-Identifier: Apache-2.0

"""SimpleNet's default pre-processing: the whole image resized (no antialiasing, as in the export), ImageNet statistics.

The paper's MVTec protocol centre-crops 256 -> 224 (Sec. 4.1), which removes 23 % of every image: a defect
near the border is never seen. The paper configs keep that crop; for a user's own images the default keeps
everything, as anomalib's PatchCore and PaDiM do.
"""

from anomalib.pre_processing import PreProcessor
from torch import nn
from torchvision.transforms.v2 import CenterCrop, Compose, Normalize, Resize

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def simplenet_pre_processor(
    image_size: tuple[int, int] = (256, 256), center_crop_size: tuple[int, int] | None = None
) -> PreProcessor:
    """Resize to ``image_size``, optionally centre-crop, and normalise with ImageNet statistics.

    Args:
        image_size (tuple[int, int]): Resize target ``(height, width)``. Defaults to ``(256, 256)``.
        center_crop_size (tuple[int, int] | None): Optional centre crop after resizing, e.g. ``(224, 224)`` for the
            paper.

    Returns:
        PreProcessor: anomalib's pre-processor with these transforms.

    Raises:
        ValueError: For a size that is not positive, or a crop larger than the resized image.

    Example:
        >>> import torch
        >>> simplenet_pre_processor()(torch.rand(1, 3, 300, 400)).shape
        torch.Size([1, 3, 256, 256])
        >>> simplenet_pre_processor(center_crop_size=(224, 224))(torch.rand(1, 3, 300, 400)).shape
        torch.Size([1, 3, 224, 224])

    """
    sizes = [*image_size, *(center_crop_size or ())]
    if any(size <= 0 for size in sizes):
        msg = f"Image and crop sizes must be positive, got image_size={image_size}, center_crop_size={center_crop_size}."
        raise ValueError(msg)
    # No antialiasing: anomalib's export (and PreProcessor.forward, used by every deployed model) drops it,
    # since ONNX export does not support it. With it in training and validation, thresholds would be set on
    # inputs the exported model never sees, and a downscaled image (900 -> 256) would score differently.
    steps: list[nn.Module] = [Resize(image_size, antialias=False)]
    if center_crop_size is not None:
        if center_crop_size[0] > image_size[0] or center_crop_size[1] > image_size[1]:
            msg = f"center_crop_size {center_crop_size} is larger than image_size {image_size}."
            raise ValueError(msg)
        steps.append(CenterCrop(center_crop_size))
    steps.append(Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD))
    return PreProcessor(transform=Compose(steps))
