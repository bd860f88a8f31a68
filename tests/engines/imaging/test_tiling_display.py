"""Display data for the large image view: pyramid levels, robust levels, overlay codes."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.image_display import (
    NO_CLASS,
    OUTLINE,
    build_pyramid,
    class_codes,
    downsample2,
    overlay_codes,
    robust_levels,
)


def test_downsample2_averages_blocks_and_drops_an_odd_edge():
    image = np.array([[0, 2, 4, 6, 9], [2, 4, 6, 8, 9], [1, 1, 1, 1, 9]], dtype=np.uint8)
    np.testing.assert_array_equal(downsample2(image), [[2, 6]])
    rgb = np.stack([image * 10, image, image], axis=2).astype(np.uint16)
    assert downsample2(rgb).shape == (1, 2, 3) and downsample2(rgb)[0, 1, 0] == 60
    assert downsample2(np.full((2, 2), 255, np.uint8))[0, 0] == 255    # no overflow
    assert downsample2(np.array([[0.5, 1.0], [0.0, 0.5]], np.float32))[0, 0] == 0.5


def test_pyramid_halves_until_the_minimum_size():
    image = np.random.default_rng(0).integers(0, 255, (700, 1000), dtype=np.uint8)
    levels = build_pyramid(image, min_size=128)
    assert levels[0] is image
    assert [lvl.shape for lvl in levels] == [(700, 1000), (350, 500), (175, 250), (87, 125)]
    # level 2 pixel (i, j) is the mean of the 4 x 4 block at (4i, 4j) (to rounding)
    block = image[8:12, 20:24].astype(float).mean()
    assert abs(float(levels[2][2, 5]) - block) <= 1.0
    with pytest.raises(InputError):
        build_pyramid(np.zeros((4, 4), dtype=object))


def test_robust_levels_from_a_subsample_match_the_full_percentiles():
    rng = np.random.default_rng(1)
    image = rng.normal(20000, 3000, (1200, 1100)).clip(0, 65535).astype(np.uint16)
    lo, hi = robust_levels(image, 1, 99, max_samples=50_000)
    full_lo, full_hi = np.percentile(image, [1, 99])
    assert lo == pytest.approx(full_lo, rel=0.02) and hi == pytest.approx(full_hi, rel=0.02)
    assert robust_levels(np.full((10, 10), 7.0)) == (7.0, 8.0)
    assert robust_levels(np.full((4, 4), np.nan)) == (0.0, 1.0)


def test_overlay_codes_mark_object_outlines_with_their_class():
    classes = np.zeros((8, 10), dtype=np.int32)
    objects = np.zeros((8, 10), dtype=np.int32)
    classes[2:6, 2:6] = 3
    objects[2:6, 2:6] = 1
    classes[0, 9] = 200       # outside 0..126: unlabelled
    codes = overlay_codes(classes, objects)
    assert codes.dtype == np.uint8
    ring = np.zeros((8, 10), dtype=bool)
    ring[2:6, 2:6] = True
    ring[3:5, 3:5] = False
    np.testing.assert_array_equal(codes >= OUTLINE, ring)      # inner boundary of the object
    assert np.all(codes[ring] == 3 + OUTLINE) and np.all(codes[3:5, 3:5] == 3)
    assert codes[0, 9] == NO_CLASS and codes[0, 0] == 0
    # without objects: boundaries between classes, on both sides
    by_class = overlay_codes(classes[:, :8])
    assert by_class[1, 3] == OUTLINE and by_class[2, 3] == 3 + OUTLINE
    assert by_class[4, 4] == 3
    with pytest.raises(InputError, match="differ"):
        overlay_codes(classes, objects[:4])


def test_class_codes_map_everything_outside_0_to_126_to_no_class():
    np.testing.assert_array_equal(class_codes(np.array([[0, 126, 127, 255]], np.uint8)),
                                  [[0, 126, NO_CLASS, NO_CLASS]])
    np.testing.assert_array_equal(class_codes(np.array([[-1, 5, 300]], np.int32)),
                                  [[NO_CLASS, 5, NO_CLASS]])
