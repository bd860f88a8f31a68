"""Streamed stitching: equals a naive whole-image weighted average, no seams, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.core.errors import InputError
from engines.imaging.blend import (
    SlidingWindowConfig,
    Stitcher,
    blend_profile,
    blend_weights,
    stitch,
)
from engines.imaging.tiling import TileGrid


def _predictions(grid: TileGrid, n_classes: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    h, w = grid.window
    return [(tile, rng.random((n_classes, h, w), dtype=np.float32)) for tile in grid]


def _naive(grid: TileGrid, pairs: list, n_classes: int, blend: str) -> np.ndarray:
    """Whole-image Σ w·p / Σ w in float64, every tile at once."""
    height, width = grid.shape
    total = np.zeros((n_classes, height, width))
    weight = np.zeros((height, width))
    for tile, prediction in pairs:
        touches = (tile.y0 == 0, tile.y0 + tile.h == height, tile.x0 == 0,
                   tile.x0 + tile.w == width)
        window = blend_weights(tile.h, tile.w, blend, touches).astype(np.float64)
        total[:, tile.slices[0], tile.slices[1]] += window * prediction[:, :tile.h, :tile.w]
        weight[tile.slices] += window
    return total / weight


@pytest.mark.parametrize("kind", ["hann", "gaussian"])
def test_profiles_are_positive_and_peak_at_one(kind):
    for n in (1, 2, 7, 64, 512):
        profile = blend_profile(n, kind)
        assert profile.min() > 0 and profile.max() == pytest.approx(1.0)
        np.testing.assert_allclose(profile, profile[::-1], atol=1e-12)
    flat = blend_profile(64, kind, flat_start=True)
    assert np.all(flat[:32] == 1.0) and flat[-1] < 0.5
    assert np.all(blend_profile(64, kind, True, True) == 1.0)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 60), width=st.integers(1, 60), wh=st.integers(2, 24),
       ww=st.integers(2, 24), n_classes=st.integers(1, 4), seed=st.integers(0, 2**16),
       blend=st.sampled_from(["hann", "gaussian"]), data=st.data())
def test_streamed_stitch_equals_naive_weighted_average(height, width, wh, ww, n_classes, seed,
                                                       blend, data):
    stride = (data.draw(st.integers(1, wh)), data.draw(st.integers(1, ww)))
    grid = TileGrid((height, width), (wh, ww), stride)
    pairs = _predictions(grid, n_classes, seed)
    expected = _naive(grid, pairs, n_classes, blend)
    result = stitch(grid, pairs, n_classes, blend, keep_scores=True)
    np.testing.assert_allclose(result.scores, expected, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(result.max_score, expected.max(axis=0), rtol=2e-5, atol=1e-6)
    ordered = np.sort(expected, axis=0)
    clear = ordered[-1] - ordered[-2] > 1e-4 if n_classes > 1 else np.ones_like(ordered[0], bool)
    np.testing.assert_array_equal(result.labels[clear], expected.argmax(axis=0)[clear])


@pytest.mark.parametrize("blend", ["hann", "gaussian"])
def test_constant_predictions_stitch_to_the_constant(blend):
    grid = TileGrid((70, 90), (24, 32), (17, 20))
    values = np.array([0.1, 0.7, 0.2], dtype=np.float32)
    pairs = [(tile, np.broadcast_to(values[:, None, None], (3, 24, 32))) for tile in grid]
    result = stitch(grid, pairs, 3, blend)
    np.testing.assert_allclose(result.scores, np.broadcast_to(values[:, None, None], (3, 70, 90)),
                               rtol=1e-6)
    assert np.all(result.labels == 1)


def test_small_image_takes_the_valid_part_of_the_padded_prediction():
    grid = TileGrid((5, 7), 8, 4)
    prediction = np.random.default_rng(2).random((2, 8, 8), dtype=np.float32)
    result = stitch(grid, [(grid.tile(0, 0), prediction)], 2)
    np.testing.assert_allclose(result.scores, prediction[:, :5, :7], rtol=1e-6)


def test_bands_arrive_as_soon_as_final_and_partition_the_image():
    grid = TileGrid((100, 64), 32, 24)
    stitcher = Stitcher(grid, 2)
    bands = []
    for tile, prediction in _predictions(grid, 2, 3):
        finished = stitcher.add(tile, prediction)
        if tile.col == grid.n_cols - 1:
            assert [b.y0 for b in finished] == [int(grid.ys[tile.row])]
            assert finished[0].y1 == grid.band_end(tile.row)
        else:
            assert finished == []
        bands += finished
    assert stitcher.done and stitcher.finish() == []
    assert bands[0].y0 == 0 and bands[-1].y1 == 100
    assert all(a.y1 == b.y0 for a, b in zip(bands, bands[1:], strict=False))
    assert all(b.labels.shape == (b.y1 - b.y0, 64) and b.labels.dtype == np.uint8 for b in bands)
    assert all(b.scores is None for b in bands)


def test_buffer_is_bounded_by_one_tile_row_not_the_image_height():
    n_classes, window, width = 5, (32, 48), 200
    sizes = []
    for height in (64, 640):
        grid = TileGrid((height, width), window, (24, 36))
        stitcher = Stitcher(grid, n_classes)
        peak = 0
        for tile, prediction in _predictions(grid, n_classes, 4):
            stitcher.add(tile, prediction)
            peak = max(peak, stitcher.buffer_nbytes)
        sizes.append(peak)
        bound = 4 * ((n_classes + 1) * window[0] * width + n_classes * window[0] * window[1])
        assert peak <= bound
    assert sizes[0] == sizes[1]


def test_out_of_order_duplicate_and_missing_tiles_are_refused():
    grid = TileGrid((40, 40), 16, 12)
    pairs = _predictions(grid, 2, 5)
    stitcher = Stitcher(grid, 2)
    stitcher.add(*pairs[0])
    with pytest.raises(ValueError, match="already"):
        stitcher.add(*pairs[0])
    with pytest.raises(ValueError, match="out of raster order"):
        stitcher.add(*pairs[grid.n_cols])
    with pytest.raises(ValueError, match="shape"):
        stitcher.add(pairs[1][0], np.zeros((3, 16, 16)))
    with pytest.raises(ValueError, match="never added"):
        stitcher.finish()


def test_config_builds_grid_and_stitcher_and_refuses_bad_values():
    config = SlidingWindowConfig(window=32, stride=24, blend="gaussian", batch_size=3)
    grid = config.grid((70, 50, 3))
    assert grid.shape == (70, 50) and grid.window == (32, 32) and grid.stride == (24, 24)
    stitcher = config.stitcher(grid, 4)
    assert stitcher.blend == "gaussian" and stitcher.n_classes == 4
    for bad in ({"window": 8}, {"stride": 40, "window": 32}, {"blend": "box"},
                {"batch_size": 0}):
        with pytest.raises(InputError):
            SlidingWindowConfig(**bad)
