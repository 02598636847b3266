"""Feature reuse: exact results, bounded memory, random transforms detected."""

import torch
from torchvision.transforms import v2

from anomalib_simplenet.feature_cache import FeatureCache, find_random_transforms


def _counting_extractor() -> tuple[list[int], callable]:
    calls: list[int] = []

    def extract(images: torch.Tensor) -> torch.Tensor:
        calls.append(len(images))
        return images * 3 + 1

    return calls, extract


def test_second_epoch_is_served_from_the_cache_with_identical_values() -> None:
    cache = FeatureCache(max_bytes=10**6)
    calls, extract = _counting_extractor()
    images = torch.rand(4, 2, 3, 3)
    keys = [f"img{i}.png" for i in range(4)]
    first = cache.features(keys, images, extract)
    second = cache.features(keys[::-1], images.flip(0), extract)
    assert calls == [4]  # the extractor ran once, for the first epoch only
    assert torch.equal(second, first.flip(0))
    assert (cache.hits, cache.misses, len(cache)) == (4, 4, 4)


def test_only_missing_images_are_computed() -> None:
    cache = FeatureCache(max_bytes=10**6)
    calls, extract = _counting_extractor()
    images = torch.rand(3, 2)
    cache.features(["a", "b"], images[:2], extract)
    out = cache.features(["b", "c", "a"], images[[1, 2, 0]], extract)
    assert calls == [2, 1]
    assert torch.equal(out, images[[1, 2, 0]] * 3 + 1)


def test_budget_is_never_exceeded_and_overflow_is_recomputed() -> None:
    one_entry = torch.rand(2, 4).nbytes // 2  # bytes of one image's features
    cache = FeatureCache(max_bytes=2 * one_entry)
    calls, extract = _counting_extractor()
    images = torch.rand(3, 4)
    keys = ["a", "b", "c"]
    first = cache.features(keys, images, extract)
    again = cache.features(keys, images, extract)
    assert cache.nbytes <= cache.max_bytes
    assert len(cache) == 2
    assert calls == [3, 1]  # the image that did not fit is recomputed, the rest reused
    assert torch.equal(first, again)
    assert "2 images" in cache.summary()


def test_zero_budget_stores_nothing() -> None:
    cache = FeatureCache(max_bytes=0)
    calls, extract = _counting_extractor()
    cache.features(["a"], torch.rand(1, 2), extract)
    cache.features(["a"], torch.rand(1, 2), extract)
    assert calls == [1, 1]
    assert len(cache) == 0


def test_clear_frees_everything() -> None:
    cache = FeatureCache(max_bytes=10**6)
    cache.features(["a"], torch.rand(1, 8), lambda x: x)
    cache.clear()
    assert (len(cache), cache.nbytes, cache.hits, cache.misses) == (0, 0, 0, 0)


def test_random_transforms_are_found_inside_compose() -> None:
    deterministic = v2.Compose([v2.Resize(256), v2.CenterCrop(224), v2.Normalize([0.5] * 3, [0.5] * 3)])
    assert find_random_transforms([deterministic, None]) == []
    augmented = v2.Compose([v2.RandomHorizontalFlip(), v2.Compose([v2.ColorJitter(0.1)])])
    assert find_random_transforms([deterministic, augmented]) == ["RandomHorizontalFlip", "ColorJitter"]
    assert find_random_transforms([v2.Lambda(lambda x: x)]) == ["Lambda"]  # unknown code counts as random
