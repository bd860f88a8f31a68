"""The core axis on hand-built slices: which components count as the core's disc (size, border,
fill and roundness limits), the slices looked at, the depth range, and the crop's notes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engines.soil.core_axis import _disc, choose_crop, find_core_axis
from engines.soil.preprocess import PreprocessConfig


def _blob(rows: int, cols: int, area: int, shape=(30, 40), at=(5, 6)) -> np.ndarray:
    """A rows × cols rectangle at ``at`` with corner pixels removed (by distance from the
    corners, the four in turn) until ``area`` pixels are left: its bounding box stays."""
    mask = np.zeros(shape, bool)
    block = np.ones((rows, cols), bool)
    corners = [(i, j) for d in range(rows + cols) for i in range(d + 1) for j in [d - i]
               if i < rows // 2 and j < cols // 2]
    removed = 0
    for i, j in corners:
        for y, x in ((i, j), (i, cols - 1 - j), (rows - 1 - i, j), (rows - 1 - i, cols - 1 - j)):
            if removed < rows * cols - area and block[y, x]:
                block[y, x] = False
                removed += 1
    assert block.sum() == area
    mask[at[0]:at[0] + rows, at[1]:at[1] + cols] = block
    return mask


def test_the_disc_is_the_largest_component_and_its_centre_and_radius():
    mask = _blob(10, 10, 80, at=(12, 20))
    mask[1:3, 1:3] = True  # a smaller component first in raster order
    row, col, radius = _disc(mask, (1.0, 1.0))
    blob = _blob(10, 10, 80, at=(12, 20))
    ys, xs = np.nonzero(blob)
    assert (row, col) == (ys.mean(), xs.mean()) and radius == pytest.approx(math.sqrt(80 / math.pi))
    assert _disc(np.zeros((5, 6), bool), (1, 1)) is None


def test_the_disc_must_cover_one_percent_of_the_slice():
    disc = _blob(10, 10, 81, shape=(81, 100), at=(30, 40))  # 81 of 8100 pixels: exactly 1 %
    assert _disc(disc, (1, 1)) is not None
    assert _disc(_blob(10, 10, 81, shape=(82, 100), at=(30, 40)), (1, 1)) is None


@pytest.mark.parametrize("at, kept", [((0, 10), False), ((10, 0), False), ((20, 10), False),
                                      ((10, 30), False), ((1, 1), True), ((19, 29), True)])
def test_a_disc_touching_any_border_of_the_slice_is_not_whole(at, kept):
    """A 30 × 40 slice; a 10 × 10 blob at the top, left, bottom or right edge, or one pixel
    inside the top-left and bottom-right corners."""
    assert (_disc(_blob(10, 10, 80, at=at), (1, 1)) is not None) is kept


@pytest.mark.parametrize("rows, cols, area, kept", [
    (10, 10, 70, True), (10, 10, 69, False), (10, 10, 86, True), (10, 10, 87, False),
    (10, 8, 64, True), (11, 8, 70, False), (8, 10, 64, True), (8, 11, 70, False),
    (13, 10, 100, False), (10, 13, 100, False),
])
def test_fill_and_roundness_limits_are_inclusive(rows, cols, area, kept):
    """Fill = area / bounding box in 0.70…0.86; height / width in 0.8…1.25 (10 × 8 and
    8 × 10 are the limits; 11 × 8 and 13 × 10 are too long, with a fill 0.8 or 0.77)."""
    assert (_disc(_blob(rows, cols, area), (1, 1)) is not None) is kept


def test_fill_and_roundness_in_millimetres():
    blob = _blob(10, 20, 160)  # 10 × 20 pixels of 1 × 0.5 mm: a 10 × 10 mm box, fill 0.8
    assert _disc(blob, (1.0, 0.5)) is not None
    assert _disc(blob, (1.0, 1.0)) is None  # 10 × 20 mm: not round
    assert _disc(blob, (0.5, 1.0)) is None


def _discs(n_depth: int, shape=(40, 50), centre=(18.0, 23.0), radius=10.0, depths=None,
           air=-1000, core=1500):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    disc = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2
    volume = np.full((n_depth, *shape), air, np.int16)
    for k in (range(n_depth) if depths is None else depths):
        volume[k][disc] = core
    return volume, disc


def test_the_axis_of_exact_discs_in_a_subsampled_slice():
    """300 × 300 slices are looked at every 2nd pixel; the ellipse is round in mm (0.4 × 0.5):
    its centre comes back in full-resolution indices, its radius in mm."""
    shape = (300, 300)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    ellipse = ((yy - 151) * 0.4) ** 2 + ((xx - 139) * 0.5) ** 2 <= 40.0 ** 2
    volume = np.full((3, *shape), -1000, np.int16)
    volume[:, ellipse] = 1200
    core = find_core_axis(volume, (1.0, 0.4, 0.5))
    assert core.found and core.slices_with_disc == 3
    sub = ellipse[::2, ::2]
    ys, xs = np.nonzero(sub)
    assert core.centre == pytest.approx((2 * ys.mean(), 2 * xs.mean()), abs=1e-9)
    assert core.centre == pytest.approx((151, 139), abs=0.6)
    assert core.radius_mm == pytest.approx(math.sqrt(sub.sum() * 0.8 * 1.0 / math.pi))


def test_the_radius_of_a_slice_looked_at_in_full():
    volume, disc = _discs(5)
    core = find_core_axis(volume, (1.0, 0.3, 0.3))
    assert core.radius_mm == pytest.approx(math.sqrt(disc.sum() * 0.09 / math.pi), rel=1e-12)
    ys, xs = np.nonzero(disc)
    assert core.centre == (ys.mean(), xs.mean())


def test_three_slices_with_a_disc_are_enough_and_two_are_not():
    volume, _ = _discs(3)
    assert find_core_axis(volume, (1, 1, 1)).found
    volume, _ = _discs(6, depths=[1, 4])
    core = find_core_axis(volume, (1, 1, 1))
    assert core.to_json() == {"found": False, "axis": "z", "centre": [19.5, 24.5],
                              "radius_mm": math.inf, "depth_range": [0, 5],
                              "slices_checked": 6, "slices_with_disc": 2}


@pytest.mark.parametrize("depths, expected", [
    (range(2, 8), (2, 7)), (range(1, 9), (1, 8)), (range(0, 10), (0, 9)), (range(0, 4), (0, 3)),
    (range(6, 10), (6, 9)),
])
def test_the_depth_range_is_the_first_and_last_slice_with_a_disc(depths, expected):
    volume, _ = _discs(10, depths=depths)
    core = find_core_axis(volume, (0.5, 0.4, 0.4))
    assert core.found and core.depth_range == expected
    assert core.to_json() == {"found": True, "axis": "z", "centre": [18.0, 23.0],
                              "radius_mm": pytest.approx(core.radius_mm), "depth_range":
                              list(expected), "slices_checked": 10,
                              "slices_with_disc": len(depths)}


def test_at_most_48_slices_are_looked_at():
    volume, _ = _discs(100, shape=(30, 30), centre=(14.0, 15.0))
    core = find_core_axis(volume, (1, 1, 1))
    assert core.slices_checked == 48 and core.slices_with_disc == 48
    assert core.depth_range == (0, 99)


def test_segmented_stacks_and_the_threshold_itself():
    volume, _ = _discs(4, air=0, core=1)  # a segmented stack: 1 = core
    core = find_core_axis(volume, (1, 1, 1), threshold=None)
    assert core.found and core.centre == (18.0, 23.0)
    volume, _ = _discs(4, air=-400)  # exactly at the threshold: not core
    assert find_core_axis(volume, (1, 1, 1)).found
    assert not find_core_axis(volume, (1, 1, 1), threshold=-401).found


def _found(radius_mm: float, centre=(20.0, 30.0), depth_range=(0, 39)):
    from engines.soil.core_axis import CoreAxis

    return CoreAxis(True, 0, centre, radius_mm, depth_range, 40, 40)


def test_a_core_thinner_than_its_wall_margin_keeps_one_voxel():
    config = PreprocessConfig(crop=(10, 20, 20), wall_margin_mm=5.0)
    box, notes = choose_crop((40, 50, 60), (1.0, 0.4, 0.4), config, _found(4.0))
    assert box.size_zyx == (10, 1, 1)
    assert notes == ["crop Y = 20 reaches past the core wall (radius 4.0 mm, margin 5 mm); "
                     "shrunk to 1",
                     "crop Z = 20 reaches past the core wall (radius 4.0 mm, margin 5 mm); "
                     "shrunk to 1"]


def test_a_crop_that_just_fits_inside_the_core_or_the_volume_is_not_noted():
    # radius 10 mm less 3 mm: half side 7/√2 mm = 4.95 mm, 2 × 4.95 / 0.5 = 19.8: 19 voxels
    config = PreprocessConfig(crop=(40, 19, 19), wall_margin_mm=3.0)
    box, notes = choose_crop((40, 50, 60), (1.0, 0.5, 0.5), config, _found(10.0))
    assert box.size_zyx == (40, 19, 19) and notes == []
    box, notes = choose_crop((40, 50, 60), (1.0, 0.5, 0.5), replace_crop(config, (40, 20, 19)),
                             _found(10.0))
    assert box.size_zyx == (40, 19, 19) and len(notes) == 1 and "crop Y = 20" in notes[0]


def replace_crop(config, crop):
    from dataclasses import replace

    return replace(config, crop=crop)


def test_clipping_notes_name_the_crops_axes_along_the_core():
    """Core along y: the crop X runs along y, its Y along z and its Z along x."""
    config = PreprocessConfig(crop=(70, 30, 50), core_axis="y", fit_inside_core=False)
    box, notes = choose_crop((20, 60, 40), (1, 1, 1), config, None)
    assert box.size_zyx == (20, 60, 40) and box.start_zyx == (0, 0, 0)
    assert notes == [
        "no core wall found in the image; the crop is centred on the array centre",
        "crop Y = 30 is larger than the volume's 20 voxels along z; clipped to 20",
        "crop X = 70 is larger than the volume's 60 voxels along y; clipped to 60",
        "crop Z = 50 is larger than the volume's 40 voxels along x; clipped to 40"]


def test_a_crop_centred_near_the_far_faces_is_shifted_back_inside():
    config = PreprocessConfig(crop=(10, 12, 14), fit_inside_core=False)
    core = _found(50.0, centre=(47.0, 58.0), depth_range=(30, 39))
    box, notes = choose_crop((40, 50, 60), (1, 1, 1), config, core)
    assert box.start_zyx == (30, 38, 46) and box.stop_zyx == (40, 50, 60)
    assert notes == ["the crop centred on the core would stick out of the volume; shifted "
                     "inside"]
