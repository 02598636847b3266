"""The defaults study's synthetic validation defects (benchmarks/validation_defects.py): small, faint, exactly masked."""

import pytest
import torch
from validation_defects import SMALL_AREA_LIMIT, SMALL_KINDS, VISIBLE_CHANGE, large_defects, small_defect, small_defects


def _textured_images(count: int, size: int = 128) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(count, 3, size // 8, size // 8, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


@pytest.mark.parametrize("kind", SMALL_KINDS)
def test_small_defects_cover_well_under_one_percent_and_the_mask_is_what_changed(kind: str) -> None:
    images = _textured_images(8)
    generator = torch.Generator().manual_seed(1)
    for number, image in enumerate(images):
        changed, mask = small_defect(image, images[(number + 1) % len(images)], kind, generator)
        area = mask.float().mean().item()
        assert 0 < area < SMALL_AREA_LIMIT
        difference = (changed - image).abs().amax(0, keepdim=True)
        assert torch.equal(mask, difference > VISIBLE_CHANGE)  # exactly the pixels that changed visibly
        if kind != "small_patch":  # scratches and spots are faint shifts: at most 0.35, tinted up to 1.5x
            assert difference.max() < 0.55


def test_small_defects_take_turns_and_are_reproducible() -> None:
    images = _textured_images(6)
    first = small_defects(images, torch.Generator().manual_seed(3))
    again = small_defects(images, torch.Generator().manual_seed(3))
    assert first[2] == list(SMALL_KINDS) * 2
    assert torch.equal(first[0], again[0])
    assert torch.equal(first[1], again[1])


def test_large_defects_are_larger_than_small_ones() -> None:
    images = _textured_images(6)
    _, large_masks, kinds = large_defects(images, torch.Generator().manual_seed(0))
    _, small_masks, _ = small_defects(images, torch.Generator().manual_seed(0))
    assert kinds == ["perlin", "cutpaste"] * 3
    assert large_masks.float().mean() > 5 * small_masks.float().mean()


def test_a_flat_image_cannot_hide_a_patch_forever() -> None:
    """A patch pasted from an identical image changes nothing: the generator says so instead of returning an empty mask."""
    flat = torch.full((3, 64, 64), 0.5)
    with pytest.raises(RuntimeError, match="Could not draw a visible small small_patch"):
        small_defect(flat, flat.clone(), "small_patch", torch.Generator().manual_seed(0))
