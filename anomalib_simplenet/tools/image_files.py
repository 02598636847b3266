"""Which files are images: the suffixes anomalib's ``Folder`` dataset reads, for the tools' checks of a folder.

The suffixes are torchvision's ``IMG_EXTENSIONS``, which anomalib's ``Folder`` dataset uses to list a folder.
They are written out here so that the tools can check a user's folders before torch is imported (a mistake
is then reported at once); ``tests/integration/test_newcomer_errors.py`` holds them against torchvision's.
"""

from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def is_image(path: Path) -> bool:
    """Tell whether ``path`` names an image file by its suffix (any case).

    Example:
        >>> is_image(Path("scan.TIF")), is_image(Path("notes.txt"))
        (True, False)

    """
    return path.suffix.lower() in IMAGE_SUFFIXES


def images_under(folder: Path) -> list[Path]:
    """Return the image files below ``folder``, searched recursively, sorted.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> for name in ("b.png", "a.jpg", "notes.txt"):
        ...     _ = (folder / name).write_bytes(b"")
        >>> [path.name for path in images_under(folder)]
        ['a.jpg', 'b.png']

    """
    return sorted(path for path in folder.rglob("*") if is_image(path) and path.is_file())
