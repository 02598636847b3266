"""Synthetic defects with exact masks, drawn on good training images: the validation data of the defaults study.

Two families, so that a setting is judged on defects like the real ones as well as on easy ones:

- **large** (what the first study used): anomalib's Perlin-noise anomaly (``PerlinAnomalyGenerator``: texture-like
  blends over a large irregular region) and a CutPaste-style patch (6 % to 20 % of the side, cut from another image,
  rotated, pasted elsewhere).
- **small and faint** (added for the second study): a tiny CutPaste patch (4 % to 7 % of the side, pasted
  half-transparent or opaque), a thin scratch (a curved stroke 1 to 2.5 px wide, 6 % to 15 % of the side long,
  brightness shifted by 0.08 to 0.3), and a spot (a soft ellipse of radius 2 to 7 px, colour shifted by 0.08 to
  0.35). Each covers well under 1 % of the image (:data:`SMALL_AREA_LIMIT`); real defects of this kind are small
  cracks, scratches, spots and bits of contamination.

Masks mark the pixels a defect actually changed (by more than :data:`VISIBLE_CHANGE` in some channel), so a
patch pasted onto a look-alike region is not labelled as a defect where nothing changed. Images are ``(N, 3, H, W)``
floats in [0, 1], before normalisation; every draw comes from the ``torch.Generator`` passed in.
"""

import math

import torch
from anomalib.data.utils.generators import PerlinAnomalyGenerator
from torchvision.transforms.v2 import functional as TF  # noqa: N812

LARGE_KINDS = ("perlin", "cutpaste")
SMALL_KINDS = ("small_patch", "scratch", "spot")
SMALL_AREA_LIMIT = 0.01  # share of the image a small defect may cover
VISIBLE_CHANGE = 0.02  # a pixel belongs to the mask when some channel changed by more than this


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(1, generator=generator))


def _changed(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    return (after - before).abs().amax(0, keepdim=True) > VISIBLE_CHANGE


def _paste(
    image: torch.Tensor, source: torch.Tensor, side: tuple[float, float], opacity: tuple[float, float], generator: torch.Generator
) -> torch.Tensor:
    """Paste a rotated rectangle of ``source`` (side a share of the image side) into ``image``; return the new image."""
    _, height, width = image.shape
    h = max(2, int(height * _uniform(generator, *side)))
    w = max(2, int(width * _uniform(generator, *side)))
    y, x = (
        int(torch.randint(0, height - h + 1, (1,), generator=generator)),
        int(torch.randint(0, width - w + 1, (1,), generator=generator)),
    )
    angle = _uniform(generator, -45, 45)
    patch = TF.rotate(source[:, y : y + h, x : x + w], angle, expand=True)
    valid = TF.rotate(torch.ones(1, h, w), angle, expand=True) > 0.5
    ph, pw = patch.shape[-2:]
    ty, tx = (
        int(torch.randint(0, height - ph + 1, (1,), generator=generator)),
        int(torch.randint(0, width - pw + 1, (1,), generator=generator)),
    )
    alpha = _uniform(generator, *opacity)
    out = image.clone()
    region = out[:, ty : ty + ph, tx : tx + pw]
    out[:, ty : ty + ph, tx : tx + pw] = torch.where(valid, alpha * patch + (1 - alpha) * region, region)
    return out


def _stroke_coverage(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """Anti-aliased coverage (0..1) of a thin curved stroke: a quadratic Bezier curve 1 to 2.5 px wide."""
    side = min(height, width)
    length = side * _uniform(generator, 0.06, 0.15)
    start = torch.tensor([_uniform(generator, 0.1, 0.9) * height, _uniform(generator, 0.1, 0.9) * width])
    heading = _uniform(generator, 0, 2 * math.pi)
    direction = torch.tensor([math.sin(heading), math.cos(heading)])
    bend = torch.tensor([-direction[1], direction[0]]) * length * _uniform(generator, -0.3, 0.3)
    end = start + direction * length
    control = (start + end) / 2 + bend
    t = torch.linspace(0, 1, 32)[:, None]
    points = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end  # (32, 2)
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    pixels = torch.stack([yy, xx], -1).reshape(-1, 1, 2)
    a, b = points[:-1], points[1:]
    along = ((pixels - a) * (b - a)).sum(-1) / ((b - a) ** 2).sum(-1).clamp(min=1e-6)
    nearest = a + along.clamp(0, 1)[..., None] * (b - a)
    distance = (pixels - nearest).norm(dim=-1).amin(1).reshape(height, width)
    half_width = _uniform(generator, 1.0, 2.5) / 2
    return (half_width + 0.5 - distance).clamp(0, 1)


def _spot_coverage(height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """Soft-edged ellipse, radii 2 to 7 px, anywhere in the image."""
    cy, cx = _uniform(generator, 0.05, 0.95) * height, _uniform(generator, 0.05, 0.95) * width
    ry, rx = _uniform(generator, 2, 7), _uniform(generator, 2, 7)
    yy, xx = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32), indexing="ij")
    radius = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2).sqrt()
    return ((1.0 - radius) * 3).clamp(0, 1)  # a soft rim about a third of the radius wide


def _shift(image: torch.Tensor, coverage: torch.Tensor, amount: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """Brighten or darken ``image`` under ``coverage`` by 0.08..0.35, the same way in every channel or tinted."""
    sign = 1.0 if float(torch.rand(1, generator=generator)) < 0.5 else -1.0
    tint = (
        torch.ones(3, 1, 1) if float(torch.rand(1, generator=generator)) < 0.5 else 0.5 + torch.rand(3, 1, 1, generator=generator)
    )
    return (image + sign * _uniform(generator, *amount) * tint * coverage).clamp(0, 1)


def small_defect(
    image: torch.Tensor, source: torch.Tensor, kind: str, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one small, faint defect of ``kind`` on ``image`` ``(3, H, W)``; return the image and its ``(1, H, W)`` mask.

    ``source`` is another good image (what ``small_patch`` cuts from). Draws again, up to 20 times, when the defect
    changed too few pixels to be seen (a patch pasted onto a look-alike region) or covers 1 % of the image or more.

    Example:
        >>> import torch
        >>> generator = torch.Generator().manual_seed(0)
        >>> image, mask = small_defect(torch.full((3, 128, 128), 0.5), torch.rand(3, 128, 128), "spot", generator)
        >>> 0 < mask.float().mean().item() < SMALL_AREA_LIMIT
        True

    """
    _, height, width = image.shape
    for _ in range(20):
        if kind == "small_patch":
            changed = _paste(image, source, side=(0.04, 0.07), opacity=(0.5, 1.0), generator=generator)
        elif kind == "scratch":
            changed = _shift(image, _stroke_coverage(height, width, generator), (0.08, 0.3), generator)
        elif kind == "spot":
            changed = _shift(image, _spot_coverage(height, width, generator), (0.08, 0.35), generator)
        else:
            msg = f"Unknown small defect kind {kind!r}; one of {SMALL_KINDS}."
            raise ValueError(msg)
        mask = _changed(image, changed)
        if 4 <= int(mask.sum()) < SMALL_AREA_LIMIT * height * width:
            return changed, mask
    msg = f"Could not draw a visible small {kind} on this image in 20 tries (is the image flat where it was drawn?)."
    raise RuntimeError(msg)


def large_defects(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Large defects, alternately Perlin and CutPaste; ``(N, 3, H, W)`` images, ``(N, 1, H, W)`` masks, kinds."""
    torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))  # anomalib's Perlin draws globally
    perlin = PerlinAnomalyGenerator(probability=1.0, blend_factor=(0.5, 1.0))
    out, masks, kinds = [], [], []
    for number, image in enumerate(images):
        if number % 2 == 0:
            changed, _ = perlin(image[None])
            changed = changed[0]
        else:
            changed = _paste(image, images[(number + 1) % len(images)], side=(0.06, 0.2), opacity=(1.0, 1.0), generator=generator)
        out.append(changed)
        masks.append(_changed(image, changed))
        kinds.append(LARGE_KINDS[number % 2])
    return torch.stack(out), torch.stack(masks), kinds


def small_defects(images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Small, faint defects, the kinds in turn; ``(N, 3, H, W)`` images, ``(N, 1, H, W)`` masks, kinds.

    Example:
        >>> import torch
        >>> images, masks, kinds = small_defects(torch.rand(3, 3, 64, 64), torch.Generator().manual_seed(1))
        >>> kinds, bool((masks.flatten(1).float().mean(1) < SMALL_AREA_LIMIT).all())
        (['small_patch', 'scratch', 'spot'], True)

    """
    out, masks, kinds = [], [], []
    for number, image in enumerate(images):
        kind = SMALL_KINDS[number % len(SMALL_KINDS)]
        changed, mask = small_defect(image, images[(number + 1) % len(images)], kind, generator)
        out.append(changed)
        masks.append(mask)
        kinds.append(kind)
    return torch.stack(out), torch.stack(masks), kinds
