"""A small MVTec-AD-layout dataset generated on the spot, for the tests: a striped texture with scratches and blobs.

Deterministic given ``seed``, and written in MVTec AD's layout, so anomalib's ``MVTecAD`` datamodule reads it::

    root/<category>/train/good/*.png
    root/<category>/test/{good,<defect>...}/*.png
    root/<category>/ground_truth/<defect>/*_mask.png

:func:`make_synthetic_dataset` draws a striped texture with a dark ``scratch`` or a coloured disc (``blob``).
The demo's more realistic categories are :mod:`anomalib_simplenet.tools.demo_dataset`.
"""

from pathlib import Path

import numpy as np
from PIL import Image

DEFECT_TYPES = ("scratch", "blob")


def _good_image(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    phase = rng.uniform(0, 2 * np.pi)
    stripes = 0.5 + 0.25 * np.sin(2 * np.pi * 8 * (xx + 0.05 * np.sin(2 * np.pi * 3 * yy)) + phase)
    shading = 0.15 * (yy - 0.5)
    base = np.stack([stripes * 0.9, stripes * 0.75 + shading, 0.35 + 0.5 * shading], axis=-1)
    base += rng.normal(0, 0.02, size=base.shape)
    return np.clip(base, 0, 1)


def _defect_mask(rng: np.random.Generator, size: int, defect: str) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = rng.uniform(0.25 * size, 0.75 * size, size=2)
    if defect == "blob":
        radius = rng.uniform(0.06, 0.12) * size
        return ((yy - cy) ** 2 + (xx - cx) ** 2) < radius**2
    angle = rng.uniform(0, np.pi)
    along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    return (np.abs(across) < 0.012 * size + 1) & (np.abs(along) < 0.25 * size)


def save_image(array: np.ndarray, path: Path) -> None:
    """Save an ``(H, W, 3)`` or ``(H, W)`` array of floats in [0, 1] as an 8-bit PNG, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)


def make_synthetic_dataset(
    root: str | Path,
    category: str = "synthetic",
    n_train: int = 24,
    n_test_good: int = 6,
    n_test_defective: int = 6,
    image_size: int = 128,
    seed: int = 0,
) -> Path:
    """Write the dataset under ``root/category`` and return that folder.

    Args:
        root: Dataset root (the ``root`` argument of ``MVTecAD``).
        category: Category folder name.
        n_train: Good training images.
        n_test_good: Good test images.
        n_test_defective: Defective test images, split over the defect types.
        image_size: Side of the square images.
        seed: Random seed; the same seed gives the same files.

    Example:
        >>> import tempfile
        >>> folder = make_synthetic_dataset(tempfile.mkdtemp(), n_train=2, n_test_good=1, n_test_defective=2)
        >>> sorted(p.name for p in (folder / "test").iterdir())
        ['blob', 'good', 'scratch']

    """
    rng = np.random.default_rng(seed)
    folder = Path(root) / category
    for i in range(n_train):
        save_image(_good_image(rng, image_size), folder / "train" / "good" / f"{i:03d}.png")
    for i in range(n_test_good):
        save_image(_good_image(rng, image_size), folder / "test" / "good" / f"{i:03d}.png")
    for i in range(n_test_defective):
        defect = DEFECT_TYPES[i % len(DEFECT_TYPES)]
        image = _good_image(rng, image_size)
        mask = _defect_mask(rng, image_size, defect)
        colour = rng.uniform(0, 1, size=3) if defect == "blob" else np.array([0.05, 0.05, 0.05])
        image[mask] = 0.3 * image[mask] + 0.7 * colour
        save_image(image, folder / "test" / defect / f"{i:03d}.png")
        save_image(mask.astype(np.float32), folder / "ground_truth" / defect / f"{i:03d}_mask.png")  # one channel, as MVTec AD
    return folder
