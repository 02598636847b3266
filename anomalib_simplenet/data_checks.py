"""Checks of the input that anomalib would otherwise take silently or report obscurely: each error names the file.

* :func:`check_training_images` -- before a fit, every training image must be readable, and none may have
  16- or 32-bit pixels: anomalib reads images as 8-bit RGB and clips larger values to 255, which would
  turn a 16-bit image into a mostly white one without a word.
* :func:`check_masks_match_images` -- a ground-truth mask of another size than its image would be stretched
  onto it by the resize, and the pixel metrics computed against a misplaced defect.
* :func:`check_finite` -- images with NaN or Inf values give NaN scores; they are refused by name.
* :func:`check_checkpoint_file` -- a truncated or damaged checkpoint file is named as such, instead of
  PyTorch's "failed finding central directory".
"""

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

# PIL modes of images with more than 8 bits per channel.
HIGH_BIT_DEPTH_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})


def check_training_images(paths: Iterable[str | Path]) -> None:
    """Open every training image (header and integrity check, no decoding); raise on the first bad one.

    Raises:
        ValueError: If an image cannot be read, or has 16/32-bit pixels; the message names the file.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (8, 8)).save(folder / "good.png")
        >>> check_training_images([folder / "good.png"])
        >>> Image.new("I;16", (8, 8)).save(folder / "deep.png")
        >>> check_training_images([folder / "deep.png"])
        Traceback (most recent call last):
        ...
        ValueError: Training image '...deep.png' has 16/32-bit pixels (PIL mode I;16)...

    """
    for path in paths:
        try:
            with Image.open(path) as image:
                mode = image.mode
                image.verify()
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
            msg = (
                f"Training image '{path}' cannot be read ({type(error).__name__}: {error}). "
                "Replace it with a good copy or remove it from the training folder, then train again."
            )
            raise ValueError(msg) from error
        if mode in HIGH_BIT_DEPTH_MODES:
            msg = (
                f"Training image '{path}' has 16/32-bit pixels (PIL mode {mode}). anomalib reads images as 8-bit RGB "
                "and clips values above 255, so it would train on a wrong, mostly white image. Convert the images "
                "to 8 bits per channel first (scale to 0..255), for training and inference alike."
            )
            raise ValueError(msg)


def check_masks_match_images(image_paths: Iterable[str | Path], mask_paths: Iterable[str | Path | None]) -> None:
    """Compare the pixel size of every mask file with its image's (headers only); raise on the first mismatch.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> folder = Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (64, 48)).save(folder / "a.png"); Image.new("L", (64, 48)).save(folder / "a_mask.png")
        >>> check_masks_match_images([folder / "a.png"], [folder / "a_mask.png"])
        >>> Image.new("L", (32, 32)).save(folder / "a_mask.png")
        >>> check_masks_match_images([folder / "a.png"], [folder / "a_mask.png"])
        Traceback (most recent call last):
        ...
        ValueError: Mask '...a_mask.png' is 32x32 pixels but its image '...a.png' is 64x48...

    """
    for image_path, mask_path in zip(image_paths, mask_paths, strict=True):
        if not mask_path or not Path(mask_path).is_file():
            continue
        with Image.open(image_path) as image, Image.open(mask_path) as mask:
            if image.size != mask.size:
                msg = (
                    f"Mask '{mask_path}' is {mask.size[0]}x{mask.size[1]} pixels but its image '{image_path}' is "
                    f"{image.size[0]}x{image.size[1]}: the resize would stretch the mask onto the image and the pixel "
                    "metrics would be computed against a misplaced defect. Give each mask its image's size."
                )
                raise ValueError(msg)


def check_finite(images: torch.Tensor, paths: Sequence[str] | None = None) -> None:
    """Refuse a batch with NaN or Inf values, naming the images (or their batch positions).

    Example:
        >>> check_finite(torch.zeros(2, 3, 4, 4))
        >>> check_finite(torch.full((1, 3, 4, 4), float("nan")), ["a.png"])
        Traceback (most recent call last):
        ...
        ValueError: 1 input image(s) contain NaN or Inf values: ['a.png']...

    """
    finite = torch.isfinite(images.flatten(1)).all(dim=1)
    if bool(finite.all()):
        return
    bad = [str(paths[i]) if paths else f"batch position {i}" for i in torch.nonzero(~finite).flatten().tolist()]
    msg = (
        f"{len(bad)} input image(s) contain NaN or Inf values: {bad[:5]}. SimpleNet would score them NaN. "
        "Check the image source or the transform that produced them."
    )
    raise ValueError(msg)


def check_checkpoint_file(path: str | Path) -> None:
    """Refuse a checkpoint file that is not a complete PyTorch archive (truncated copy, wrong file).

    Example:
        >>> import tempfile
        >>> broken = Path(tempfile.mkdtemp()) / "model.ckpt"
        >>> _ = broken.write_bytes(b"PK truncated")
        >>> check_checkpoint_file(broken)
        Traceback (most recent call last):
        ...
        ValueError: Checkpoint '...model.ckpt' is damaged or incomplete...

    """
    path = Path(path)
    if not path.is_file():
        msg = f"Checkpoint '{path}' not found. Pass the model.ckpt written by training (results/.../weights/lightning/)."
        raise FileNotFoundError(msg)
    if not zipfile.is_zipfile(path):
        msg = (
            f"Checkpoint '{path}' is damaged or incomplete ({path.stat().st_size} bytes; a PyTorch checkpoint is a "
            "complete zip archive). Copy it again from where it was trained, or train again."
        )
        raise ValueError(msg)
