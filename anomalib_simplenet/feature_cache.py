"""Reuse of the frozen backbone's output across training epochs.

The feature extractor is frozen, so with a deterministic training transform its output for a
given image is the same in every epoch. The authors' code recomputes it each time (160 backbone
passes per image); :class:`FeatureCache` computes it once and serves it afterwards, within a memory
budget. Images that do not fit the budget are simply recomputed, so the result is identical either way.
"""

import logging
from collections.abc import Callable, Iterable, Sequence

import torch

logger = logging.getLogger(__name__)

# Transforms whose output depends only on their input. Anything else in a training pipeline
# (RandomCrop, ColorJitter, a user's Lambda, ...) may be random, and then features must be recomputed.
DETERMINISTIC_TRANSFORMS = frozenset(
    {
        "Compose",
        "Resize",
        "CenterCrop",
        "ExportableCenterCrop",
        "Normalize",
        "ToDtype",
        "ToImage",
        "ToPureTensor",
        "Identity",
        "Grayscale",
        "Pad",
    }
)


def find_random_transforms(transforms: Iterable[object | None]) -> list[str]:
    """Names of the transforms, searched recursively through ``Compose``, not known to be deterministic.

    Example:
        >>> from torchvision.transforms import v2
        >>> find_random_transforms([v2.Compose([v2.Resize(256), v2.RandomHorizontalFlip()]), None])
        ['RandomHorizontalFlip']

    """
    found: list[str] = []
    for transform in transforms:
        if transform is None:
            continue
        name = type(transform).__name__
        if name not in DETERMINISTIC_TRANSFORMS:
            found.append(name)
        found.extend(find_random_transforms(getattr(transform, "transforms", [])))
    return found


class FeatureCache:
    """Per-image store of feature maps, keyed by image path, bounded in bytes.

    Args:
        max_bytes: Memory budget. Entries that would exceed it are not stored (and are recomputed
            whenever they are needed).

    Example:
        >>> import torch
        >>> cache = FeatureCache(max_bytes=1024)
        >>> extract = lambda images: images * 2
        >>> first = cache.features(["a.png", "b.png"], torch.ones(2, 3), extract)
        >>> again = cache.features(["b.png", "a.png"], torch.zeros(2, 3), extract)  # served from the cache
        >>> again.tolist(), cache.hits, cache.misses
        ([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]], 2, 2)

    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            msg = f"Feature-cache budget must be >= 0 bytes, got {max_bytes}."
            raise ValueError(msg)
        self.max_bytes = max_bytes
        self._store: dict[str, torch.Tensor] = {}
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self.rejected = 0

    def __len__(self) -> int:
        """Return the number of cached images."""
        return len(self._store)

    def features(
        self,
        keys: Sequence[str],
        images: torch.Tensor,
        extract: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Return ``extract(images)``, computing only the images not cached yet.

        Args:
            keys: One identifier per image (its path).
            images: Batch of images, ``(B, ...)``.
            extract: The frozen feature extractor. It must treat images independently (true for a
                CNN in eval mode).

        Returns:
            Features for the whole batch, in ``keys`` order, on ``images.device``.

        """
        missing = [i for i, key in enumerate(keys) if key not in self._store]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        computed = dict(zip(missing, extract(images[missing]), strict=True)) if missing else {}
        for i, feature in computed.items():
            self._add(keys[i], feature)
        return torch.stack([computed[i] if i in computed else self._store[key].to(images.device) for i, key in enumerate(keys)])

    def _add(self, key: str, feature: torch.Tensor) -> None:
        if self.nbytes + feature.nbytes > self.max_bytes:
            self.rejected += 1
            return
        self._store[key] = feature.detach().clone()
        self.nbytes += feature.nbytes

    def clear(self) -> None:
        """Drop every entry and reset the counters."""
        self._store.clear()
        self.nbytes = self.hits = self.misses = self.rejected = 0

    def summary(self) -> str:
        """One line for the log: entries, memory used and budget, hits/misses."""
        return (
            f"feature cache: {len(self)} images, {self.nbytes / 2**20:.1f} MiB of {self.max_bytes / 2**20:.0f} MiB budget, "
            f"{self.hits} hits, {self.misses} misses, {self.rejected} not stored (over budget)"
        )
