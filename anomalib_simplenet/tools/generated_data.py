"""Generated MVTec-AD-layout datasets: the tests' striped texture, and the demo's fabric and washer with real-looking defects.

Deterministic given ``seed``, and written in MVTec AD's layout, so anomalib's ``MVTecAD`` datamodule reads it::

    root/<category>/train/good/*.png
    root/<category>/test/{good,<defect>...}/*.png
    root/<category>/ground_truth/<defect>/*_mask.png

Two generators, one writer (:func:`save_image`):

* :func:`make_synthetic_dataset`, small and quick, for the tests: a striped texture with a dark ``scratch`` or a
  coloured disc (``blob``) (:data:`DEFECT_TYPES`).
* :func:`make_demo_dataset`, what ``simplenet-demo`` trains on when no data is given: a woven *texture* category
  (``fabric``) and an *object* category (``washer``: a shaded metal ring on a dark table, placed and rotated
  slightly differently in each image), with four kinds of defect (:data:`DEMO_DEFECTS`) -- thin curved
  ``scratch``es, branching ``crack``s, soft-edged ``stain``s and ``missing_piece``s (a chunk of the object gone, the
  background showing through). The masks mark exactly the pixels a defect changed.
"""

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

DEFECT_TYPES = ("scratch", "blob")


def save_image(array: np.ndarray, path: Path) -> None:
    """Save an ``(H, W, 3)`` or ``(H, W)`` array of floats in [0, 1] as an 8-bit PNG, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)


# The tests' dataset: a striped texture with scratches and blobs.


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


# The demo's dataset: a woven texture and a metal part, with defects drawn the way they look on real parts.

DEMO_CATEGORIES = ("fabric", "washer")
DEMO_DEFECTS = ("scratch", "crack", "stain", "missing_piece")


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Band-limited noise in [0, 1]: a ``cells x cells`` random grid upsampled bicubically to ``size``."""
    grid = Image.fromarray(rng.random((cells, cells)).astype(np.float32), mode="F")
    noise = np.asarray(grid.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    return (noise - noise.min()) / max(float(np.ptp(noise)), 1e-6)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return yy, xx


def _fabric(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw a woven textile (warp and weft threads, fibre noise); return ``(image, where_the_part_is)``."""
    yy, xx = _grid(size)
    period = 9.0
    shift = rng.uniform(0, period, size=2)
    warp = 0.5 + 0.5 * np.cos(2 * np.pi * (xx + shift[0]) / period)
    weft = 0.5 + 0.5 * np.cos(2 * np.pi * (yy + shift[1]) / period)
    over = (np.floor((xx + shift[0]) / period) + np.floor((yy + shift[1]) / period)) % 2  # plain weave
    threads = np.where(over > 0, warp * (0.6 + 0.4 * weft), weft * (0.6 + 0.4 * warp))
    fibres = _smooth_noise(rng, size, size // 3) - 0.5
    light = 0.9 + 0.1 * _smooth_noise(rng, size, 3)
    value = (0.45 + 0.35 * threads + 0.08 * fibres) * light
    colour = np.array([0.55, 0.62, 0.78]) * rng.uniform(0.95, 1.05)
    image = value[..., None] * colour + rng.normal(0, 0.01, size=(size, size, 3))
    return np.clip(image, 0, 1).astype(np.float32), np.ones((size, size), dtype=bool)


def _washer(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw a brushed metal ring with a stamped notch on a dark table; return ``(image, ring_mask)``."""
    yy, xx = _grid(size)
    cy, cx = size / 2 + rng.uniform(-0.02, 0.02, size=2) * size
    dy, dx = yy - cy, xx - cx
    radius = np.hypot(dy, dx)
    angle = np.arctan2(dy, dx)
    outer, inner = 0.36 * size, 0.17 * size
    ring = (radius < outer) & (radius > inner)
    notch_at = rng.uniform(-np.pi, np.pi)
    notch = (np.abs(np.angle(np.exp(1j * (angle - notch_at)))) < 0.08) & (radius > outer - 0.05 * size)
    ring &= ~notch
    across = (radius - inner) / (outer - inner)  # 0 at the hole, 1 at the rim
    bevel = 0.55 + 0.35 * np.sin(np.pi * across)  # rounded profile
    highlight = 0.25 * np.clip(np.cos(angle - rng.uniform(-3.0, -2.4)), 0, 1) ** 4
    brushed = 0.06 * (_smooth_noise(rng, size, size // 2) - 0.5)
    metal = np.clip(bevel + highlight + brushed, 0, 1)
    table = 0.12 + 0.05 * _smooth_noise(rng, size, 4)
    shadow = np.clip((radius - outer) / (0.05 * size), 0, 1) * 0.4 + 0.6
    background = (table * np.where(radius > outer, shadow, 1.0))[..., None] * np.array([0.9, 0.85, 0.8])
    steel = metal[..., None] * np.array([0.82, 0.84, 0.88])
    image = np.where(ring[..., None], steel, background) + rng.normal(0, 0.008, size=(size, size, 3))
    return np.clip(image, 0, 1).astype(np.float32), ring


def _stroke(size: int, points: np.ndarray, width: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a polyline of ``points`` (``(N, 2)`` as x, y) drawn ``width`` wide."""
    yy, xx = _grid(size)
    distance = np.full((size, size), np.inf, dtype=np.float32)
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        vx, vy = x1 - x0, y1 - y0
        t = np.clip(((xx - x0) * vx + (yy - y0) * vy) / max(vx * vx + vy * vy, 1e-6), 0, 1)
        distance = np.minimum(distance, np.hypot(xx - (x0 + t * vx), yy - (y0 + t * vy)))
    return np.clip(width / 2 + 0.5 - distance, 0, 1)


def _window(size: int) -> np.ndarray:
    """Return where defects may go: everything but the outer eighth on each side (a 256 -> 224 centre crop keeps it)."""
    window = np.zeros((size, size), dtype=bool)
    window[size // 8 : size - size // 8, size // 8 : size - size // 8] = True
    return window


def _place(rng: np.random.Generator, part: np.ndarray, margin: float) -> tuple[float, float]:
    """Pick a random (x, y) on the part, at least ``margin`` (fraction of the side) from the image border."""
    size = part.shape[0]
    lo, hi = int(margin * size), int((1 - margin) * size)
    ys, xs = np.nonzero(part[lo:hi, lo:hi])
    pick = rng.integers(len(ys))
    return float(xs[pick] + lo), float(ys[pick] + lo)


def _scratch(rng: np.random.Generator, image: np.ndarray, part: np.ndarray) -> np.ndarray:
    size = image.shape[0]
    x, y = _place(rng, part, 0.25)
    direction, length, bend = rng.uniform(0, np.pi), rng.uniform(0.15, 0.3) * size, rng.uniform(-0.3, 0.3)
    t = np.linspace(-0.5, 0.5, 24)[:, None]
    along = np.array([np.cos(direction), np.sin(direction)])
    normal = np.array([-along[1], along[0]])
    points = np.array([x, y]) + length * t * along + bend * length * (t**2 - 0.25) * normal
    alpha = _stroke(size, points, rng.uniform(1.5, 2.5)) * part * _window(size)
    bright = rng.random() < 0.5
    tone = np.array([0.95, 0.95, 0.92]) if bright else np.array([0.1, 0.09, 0.08])
    image[:] = image * (1 - 0.85 * alpha[..., None]) + 0.85 * alpha[..., None] * tone
    return alpha > 0.25


def _random_walk(rng: np.random.Generator, start: np.ndarray, heading: float, steps: int) -> np.ndarray:
    """Return a jagged path: ``steps`` segments of 3-6 px whose direction wanders."""
    path = [start]
    for _ in range(steps):
        heading += rng.normal(0, 0.45)
        path.append(path[-1] + rng.uniform(3, 6) * np.array([np.cos(heading), np.sin(heading)]))
    return np.array(path)


def _crack(rng: np.random.Generator, image: np.ndarray, part: np.ndarray) -> np.ndarray:
    size = image.shape[0]
    heading = rng.uniform(0, 2 * np.pi)
    trunk = _random_walk(rng, np.array(_place(rng, part, 0.25)), heading, int(rng.integers(10, 16)))
    alpha = _stroke(size, trunk, 2.2)
    for _ in range(int(rng.integers(1, 3))):  # side branches
        fork = trunk[int(rng.integers(2, len(trunk) - 1))]
        turn = rng.choice([-1, 1]) * rng.uniform(0.6, 1.2)
        alpha = np.maximum(alpha, _stroke(size, _random_walk(rng, fork, heading + turn, int(rng.integers(4, 8))), 1.4))
    alpha *= part * _window(size)
    image[:] = image * (1 - 0.9 * alpha[..., None]) + 0.9 * alpha[..., None] * np.array([0.04, 0.03, 0.03])
    return alpha > 0.25


def _stain(rng: np.random.Generator, image: np.ndarray, part: np.ndarray) -> np.ndarray:
    size = image.shape[0]
    x, y = _place(rng, part, 0.25)
    yy, xx = _grid(size)
    radius = rng.uniform(0.05, 0.09) * size
    wobble = 0.35 * (_smooth_noise(rng, size, 12) - 0.5)
    inside = 1 - np.hypot((xx - x) / radius, (yy - y) / (radius * rng.uniform(0.6, 1.0))) + wobble
    alpha = np.clip(inside / 0.25, 0, 1) * rng.uniform(0.6, 0.8) * part * _window(size)
    tint = np.array([0.45, 0.3, 0.12]) * rng.uniform(0.7, 1.1)  # rust / oil
    image[:] = image * (1 - alpha[..., None]) + alpha[..., None] * tint * (0.6 + 0.4 * image)
    return alpha > 0.2


def _missing_piece(rng: np.random.Generator, image: np.ndarray, part: np.ndarray, background: np.ndarray) -> np.ndarray:
    size = image.shape[0]
    yy, xx = _grid(size)
    if part.all():  # texture: a torn hole shows the (dark) backing
        x, y = _place(rng, part, 0.28)
    else:  # object: a chunk broken off the rim
        rim = part & ~np.roll(part, 4, axis=0) | part & ~np.roll(part, -4, axis=1)
        x, y = _place(rng, rim, 0.2)
    radius = rng.uniform(0.045, 0.07) * size
    wobble = 0.3 * (_smooth_noise(rng, size, 16) - 0.5)
    hole = (np.hypot(xx - x, yy - y) / radius - 1 + wobble < 0) & part & _window(size)
    edge = hole & ~(np.roll(hole, 1, 0) & np.roll(hole, -1, 0) & np.roll(hole, 1, 1) & np.roll(hole, -1, 1))
    image[hole] = background[hole]
    image[edge] *= 0.6  # a dark broken edge
    return hole


def _demo_background(category: str, size: int) -> np.ndarray:
    """Return what a missing piece reveals: the dark backing of the fabric, the table under the washer."""
    colour = np.array([0.08, 0.07, 0.06]) if category == "fabric" else np.array([0.13, 0.12, 0.11])
    return np.broadcast_to(colour, (size, size, 3)).astype(np.float32)


_DRAWERS = {"scratch": _scratch, "crack": _crack, "stain": _stain}
_PARTS = {"fabric": _fabric, "washer": _washer}


def make_demo_dataset(
    root: str | Path,
    categories: tuple[str, ...] = DEMO_CATEGORIES,
    n_train: int = 60,
    n_test_good: int = 12,
    n_test_defective: int = 24,
    image_size: int = 256,
    seed: int = 0,
) -> Path:
    """Write the demo dataset (a texture and an object category, four defect types) under ``root``.

    Defects are kept away from the outer eighth of the image so that a 256 -> 224 centre crop keeps them.

    Args:
        root: Dataset root (the ``root`` argument of ``MVTecAD``); one folder per category is written.
        categories: Any of :data:`DEMO_CATEGORIES` (``"fabric"``: texture, ``"washer"``: object).
        n_train: Good training images per category.
        n_test_good: Good test images per category.
        n_test_defective: Defective test images per category, spread evenly over :data:`DEMO_DEFECTS`.
        image_size: Side of the square images (at least 64).
        seed: Random seed; the same seed gives the same files.

    Returns:
        ``root`` as a ``Path``.

    Raises:
        ValueError: For an unknown category or an image size below 64.

    Example:
        >>> import tempfile
        >>> root = make_demo_dataset(tempfile.mkdtemp(), ("washer",), n_train=1, n_test_good=1, n_test_defective=4, image_size=96)
        >>> sorted(p.name for p in (root / "washer" / "ground_truth").iterdir())
        ['crack', 'missing_piece', 'scratch', 'stain']

    """
    unknown = [category for category in categories if category not in _PARTS]
    if unknown:
        msg = f"Unknown demo categories {unknown}: choose from {list(DEMO_CATEGORIES)}."
        raise ValueError(msg)
    if image_size < 64:
        msg = f"image_size must be at least 64 pixels, got {image_size}."
        raise ValueError(msg)
    root = Path(root)
    for category in categories:
        rng = np.random.default_rng([seed, DEMO_CATEGORIES.index(category)])
        folder = root / category
        draw_part = _PARTS[category]
        for i in range(n_train):
            save_image(draw_part(rng, image_size)[0], folder / "train" / "good" / f"{i:03d}.png")
        for i in range(n_test_good):
            save_image(draw_part(rng, image_size)[0], folder / "test" / "good" / f"{i:03d}.png")
        for i in range(n_test_defective):
            defect = DEMO_DEFECTS[i % len(DEMO_DEFECTS)]
            image, part = draw_part(rng, image_size)
            if defect == "missing_piece":
                mask = _missing_piece(rng, image, part, _demo_background(category, image_size))
            else:
                mask = _DRAWERS[defect](rng, image, part)
            save_image(image, folder / "test" / defect / f"{i:03d}.png")
            save_image(mask.astype(np.float32), folder / "ground_truth" / defect / f"{i:03d}_mask.png")
    return root
