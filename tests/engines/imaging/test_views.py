"""Slice-view geometry (radiological convention, any flip or permutation), windows, label LUTs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.views import (
    VIEW_WORLD_AXES,
    VIEWS,
    Window,
    dragged_window,
    label_lut,
    overlay_grid,
    preset_window,
    robust_range,
    volume_geometry,
    window_preset,
)
from engines.imaging.volume import Volume
from tests.engines.imaging.phantoms import MARKER, chest_phantom


def _signed_permutations():
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            direction = np.zeros((3, 3))
            for column, (row, sign) in enumerate(zip(perm, signs, strict=True)):
                direction[row, column] = sign
            yield direction


def _volume(direction, shape=(4, 5, 6)):
    array = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    return Volume(array, spacing_xyz=(0.7, 0.8, 2.5), origin_xyz=(-10.0, 20.0, 30.0),
                  direction=direction)


@pytest.mark.parametrize("direction", list(_signed_permutations()), ids=lambda d: str(d.tolist()))
def test_scene_coordinates_are_world_mm_and_slices_show_the_right_voxels(direction):
    volume = _volume(direction)
    rng = np.random.default_rng(1)
    for view in VIEWS:
        geo = volume_geometry(volume, view)
        assert not geo.oblique
        horizontal, vertical, normal = VIEW_WORLD_AXES[view]
        for _ in range(5):
            zyx = rng.integers(0, volume.shape)
            world = volume.voxel_to_world(zyx)
            assert np.allclose(geo.scene_of(zyx), (world[horizontal], world[vertical]))
            assert np.isclose(geo.normal_mm(zyx[geo.normal_axis]), world[normal])
            image = geo.slice(volume.array, zyx[geo.normal_axis])
            assert image.shape == (geo.n_rows, geo.n_cols)
            assert image[zyx[geo.row_axis], zyx[geo.col_axis]] == volume.array[tuple(zyx)]
            # the image item's affine puts the pixel centre where the voxel is
            sx, sy, tx, ty = geo.image_transform()
            centre = (sx * (zyx[geo.col_axis] + 0.5) + tx, sy * (zyx[geo.row_axis] + 0.5) + ty)
            assert np.allclose(centre, geo.scene_of(zyx))
            assert np.allclose(geo.index_of(*geo.scene_of(zyx)),
                               (zyx[geo.row_axis], zyx[geo.col_axis]))
            assert geo.slice_at(world[normal]) == zyx[geo.normal_axis]


def test_slices_are_views_not_copies():
    volume = _volume(np.diag([1.0, -1.0, -1.0]))
    for view in VIEWS:
        geo = volume_geometry(volume, view)
        assert np.shares_memory(geo.slice(volume.array, 1), volume.array)


def test_scene_rect_spans_voxel_edges_in_mm():
    volume = _volume(np.diag([1.0, -1.0, -1.0]), shape=(4, 5, 6))
    u, v, width, height = volume_geometry(volume, "coronal").scene_rect()
    assert (width, height) == pytest.approx((6 * 0.7, 4 * 2.5))
    assert v == pytest.approx(30.0 - 3.5 * 2.5)  # z runs down from the origin
    assert u == pytest.approx(-10.0 - 0.35)


def test_radiological_letters_and_slice_bounds():
    volume = _volume(np.eye(3))
    letters = {view: volume_geometry(volume, view).edge_letters() for view in VIEWS}
    assert letters["axial"] == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert letters["coronal"] == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert letters["sagittal"] == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
    geo = volume_geometry(volume, "axial")
    assert geo.invert_y and geo.normal_letters() == ("I", "S")
    assert geo.slice_at(30.0 - 2.0) is None
    assert geo.slice_at(30.0 + 3 * 2.5 + 1.0) == 3
    assert geo.slice_at(30.0 + 3.6 * 2.5) is None


def test_marker_in_left_anterior_superior_octant_is_drawn_right_and_up():
    ct, labels = chest_phantom(shape_zyx=(16, 32, 40), direction=np.diag([1.0, -1.0, -1.0]))
    zyx = np.argwhere(labels.array == MARKER).mean(axis=0)
    axial = volume_geometry(ct, "axial")
    u, v = axial.scene_of(zyx)
    assert u > 0 and v < 0  # right of centre; y < 0 is at the top (the axial y axis is inverted)
    u, v = volume_geometry(ct, "sagittal").scene_of(zyx)
    assert u < 0 and v > 0  # anterior on the left, superior up


def test_oblique_volume_is_flagged_and_still_gets_three_axes():
    angle = np.deg2rad(45)
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                          [0, 0, 1.0]])
    volume = _volume(direction)
    geos = [volume_geometry(volume, view) for view in VIEWS]
    assert all(g.oblique for g in geos)
    assert sorted(g.normal_axis for g in geos) == [0, 1, 2]


def test_overlay_grid_covers_the_same_box():
    volume = _volume(np.diag([1.0, -1.0, -1.0]), shape=(4, 6, 8))
    spacing, origin = overlay_grid(volume, (2, 3, 4))
    assert spacing == pytest.approx((1.4, 1.6, 5.0))
    assert np.allclose(origin, volume.voxel_to_world([0.5, 0.5, 0.5]))
    coarse = Volume(np.zeros((2, 3, 4)), spacing, origin, volume.direction)
    fine_rect = volume_geometry(volume, "coronal").scene_rect()
    assert volume_geometry(coarse, "coronal").scene_rect() == pytest.approx(fine_rect)


def test_window_presets():
    assert preset_window("lung") == Window(-600.0, 1500.0)
    assert preset_window("mediastinum").levels == (-160.0, 240.0)
    assert preset_window("bone") == Window(400.0, 1800.0)
    assert preset_window("soil", value_offset=2048) == Window(3048.0, 4000.0)
    assert preset_window("full", data_range=(-1000.0, 3000.0)) == Window(1000.0, 4000.0)
    with pytest.raises(ValueError):
        preset_window("full")
    with pytest.raises(InputError, match="valid names: lung, mediastinum"):
        window_preset("brain")


def test_robust_range_ignores_outliers_and_non_finite_values():
    rng = np.random.default_rng(0)
    array = rng.normal(0.0, 100.0, (60, 60, 60)).astype(np.float32)
    array[0, 0, :5] = (1e6, -1e6, np.nan, np.inf, -np.inf)
    low, high = robust_range(array)
    assert -300 < low < -220 and 220 < high < 300
    assert robust_range(np.full((3, 3, 3), 7.0)) == (7.0, 8.0)
    assert robust_range(np.full((2, 2, 2), np.nan)) == (0.0, 1.0)


def test_dragged_window_follows_slicer():
    start = Window(40.0, 400.0)
    wider = dragged_window(start, dx_px=100, dy_up_px=0, data_span=2000, view_px=500)
    assert wider == Window(40.0, 800.0)
    higher = dragged_window(start, dx_px=0, dy_up_px=50, data_span=2000, view_px=500)
    assert higher == Window(240.0, 400.0)
    assert dragged_window(start, dx_px=-1000, dy_up_px=0, data_span=2000, view_px=500).width > 0


def test_label_lut():
    lut = label_lut(3, colours={2: (10, 20, 30)}, opacity=0.5)
    assert lut.shape == (4, 4) and lut.dtype == np.uint8
    assert (lut[0] == 0).all()
    assert tuple(lut[2]) == (10, 20, 30, 128)
    assert lut[1, 3] == 128 and tuple(lut[1, :3]) != tuple(lut[3, :3])
    with pytest.raises(InputError):
        label_lut(-1)
