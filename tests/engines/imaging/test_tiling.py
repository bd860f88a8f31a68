"""Tile grid geometry: starts, edge tiles shifted inside, raster order, padded small images."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.core.errors import InputError
from engines.imaging.tiling import TileGrid, axis_starts, crop_window, iter_tiles


def test_axis_starts_shift_the_last_window_inside():
    assert axis_starts(10, 4, 3).tolist() == [0, 3, 6]        # 6 + 4 = 10 exactly
    assert axis_starts(11, 4, 3).tolist() == [0, 3, 6, 7]     # last shifted to end at 11
    assert axis_starts(4, 4, 1).tolist() == [0]
    assert axis_starts(3, 4, 2).tolist() == [0]                # smaller than the window


def test_paper_patch_counts():
    # Azimi et al. §4.3.4: 7000 x 8000 px, 1000 px patches: 56 without overlap, 4331 at stride 100
    assert len(TileGrid((7000, 8000), 1000, 1000)) == 7 * 8
    assert len(TileGrid((7000, 8000), 1000, 100)) == 61 * 71


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), wh=st.integers(1, 40),
       ww=st.integers(1, 40), data=st.data())
def test_tiles_cover_every_pixel_and_stay_inside(height, width, wh, ww, data):
    sh = data.draw(st.integers(1, wh))
    sw = data.draw(st.integers(1, ww))
    grid = TileGrid((height, width), (wh, ww), (sh, sw))
    covered = np.zeros((height, width), dtype=int)
    tiles = list(grid)
    for tile in tiles:
        assert 0 <= tile.y0 and tile.y0 + tile.h <= height
        assert 0 <= tile.x0 and tile.x0 + tile.w <= width
        assert (tile.h, tile.w) == (min(wh, height), min(ww, width))
        covered[tile.slices] += 1
    assert covered.min() >= 1
    # raster order: rows top to bottom, each left to right, one y0 per tile row
    keys = [(t.row, t.col) for t in tiles]
    assert keys == sorted(keys) and len(set(keys)) == len(grid)
    for tile in tiles:
        assert tile.y0 == grid.ys[tile.row] and tile.x0 == grid.xs[tile.col]
    assert [t.bounds for t in iter_tiles((height, width), (wh, ww), (sh, sw))] == \
        [t.bounds for t in tiles]


def test_small_image_is_one_reflection_padded_tile_with_its_valid_region():
    image = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5)
    grid = TileGrid(image.shape, 8, 4)
    assert len(grid) == 1 and grid.padded
    (tile,) = list(grid)
    assert tile.bounds == (0, 0, 3, 5)
    crop = grid.crop(image, tile)
    assert crop.shape == (8, 8)
    np.testing.assert_array_equal(crop[:3, :5], image)
    np.testing.assert_array_equal(crop[3, :5], image[1])        # reflection, not junk
    np.testing.assert_array_equal(crop[:3, 5], image[:, 3])
    # a one-pixel axis pads by repetition
    assert np.all(crop_window(np.full((1, 2, 3), 7), 0, 0, (4, 4)) == 7)


def test_large_image_crops_are_views_of_full_windows():
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    grid = TileGrid(image.shape, (16, 32), (12, 24))
    assert not grid.padded
    for tile in grid:
        crop = grid.crop(image, tile)
        assert crop.shape == (16, 32, 3)
        assert np.shares_memory(crop, image)
        np.testing.assert_array_equal(crop, image[tile.slices])


def test_batches_follow_raster_order_and_end_with_a_short_batch():
    image = np.random.default_rng(1).random((40, 40)).astype(np.float32)
    grid = TileGrid(image.shape, 16, 10)
    batches = list(grid.batches(image, 4))
    tiles = [t for batch, _ in batches for t in batch]
    assert tiles == list(grid)
    assert [len(b) for b, _ in batches] == [4] * (len(grid) // 4) + ([len(grid) % 4]
                                                                       if len(grid) % 4 else [])
    for batch, crops in batches:
        assert crops.shape == (len(batch), 16, 16) and crops.flags.c_contiguous
        for tile, crop in zip(batch, crops, strict=True):
            np.testing.assert_array_equal(crop, image[tile.slices])


@pytest.mark.parametrize(("window", "stride"), [(0, 1), (8, 0), (8, 9), ((8, 8), (4, 9)),
                                                (8.5, 4), ((1, 2, 3), 1)])
def test_bad_window_or_stride_is_an_input_error(window, stride):
    with pytest.raises(InputError):
        TileGrid((32, 32), window, stride)


def test_crop_of_another_image_size_is_an_input_error():
    grid = TileGrid((32, 32), 16, 8)
    with pytest.raises(InputError, match="does not match"):
        grid.crop(np.zeros((32, 31)), grid.tile(0, 0))
    with pytest.raises(InputError, match="batch size"):
        next(grid.batches(np.zeros((32, 32)), 0))
