"""Transfer-function presets, downsampling for rendering, clip planes and boxes in world mm."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.imaging.volume import Volume
from engines.imaging.volume_rendering import (
    BOX_EDGES,
    SOIL_BAND_OPACITIES,
    TRANSFER_FUNCTIONS,
    box_corners,
    clip_planes,
    downsample_for_rendering,
    render_factors,
    slice_plane_corners,
    transfer_function,
)

FLIPPED = np.diag([1.0, -1.0, -1.0])


def test_presets_are_ordered_and_shift_with_the_data():
    for tf in TRANSFER_FUNCTIONS.values():
        for points in (tf.colours, tf.opacities):
            values = [p[0] for p in points]
            assert values == sorted(values), tf.name
            assert all(0.0 <= c <= 1.0 for p in points for c in p[1:]), tf.name
    soil = transfer_function("soil_bands")
    shifted = soil.shifted(2048)
    assert shifted.opacities[0][0] == soil.opacities[0][0] + 2048
    # six constant bands: the opacity at the middle of band k is the band's
    opacity = dict(soil.opacities)
    assert opacity[-2048 + 1024 * 4 + 0.5] == opacity[-2048 + 1024 * 5 - 0.5] \
        == SOIL_BAND_OPACITIES[4]
    with pytest.raises(InputError, match="valid names"):
        transfer_function("mri")


def test_render_factors_shrink_the_finest_axes_first():
    assert render_factors((40, 64, 64), (2.5, 0.7, 0.7)) == (1, 1, 1)
    factors = render_factors((600, 512, 512), (2.5, 0.7, 0.7), budget=1 << 24)
    shape = np.array((600, 512, 512)) // factors
    assert np.prod(shape) <= 1 << 24
    assert factors[0] == 1 and factors[1] == factors[2] > 1
    assert render_factors((1, 1, 5), (1, 1, 1), budget=1) == (1, 1, 3)  # 5 // 3 = 1 voxel


def test_downsampled_volume_keeps_world_positions_and_dtype():
    array = np.zeros((8, 12, 16), np.int16)
    array[4:6, 6:8, 8:10] = 1000
    volume = Volume(array, spacing_xyz=(0.5, 0.5, 2.0), origin_xyz=(1.0, 2.0, 3.0),
                    direction=FLIPPED)
    result = drive(downsample_for_rendering(volume, budget=8 * 12 * 16 // 4))
    small = result.volume
    assert result.downsampled and result.factors_zyx == (1, 2, 2)
    assert small.array.dtype == np.int16 and small.shape == (8, 6, 8)
    assert small.spacing_xyz == (1.0, 1.0, 2.0)
    bright = lambda v: v.voxel_to_world(np.argwhere(v.array > 500).mean(axis=0))  # noqa: E731
    assert np.allclose(bright(small), bright(volume))
    unchanged = drive(downsample_for_rendering(volume))
    assert unchanged.volume is volume and not unchanged.downsampled


def test_clip_planes_keep_the_chosen_voxels():
    volume = Volume(np.zeros((5, 6, 7)), spacing_xyz=(0.7, 0.8, 2.5), direction=FLIPPED)
    planes = clip_planes(volume, (1, 2, 3), (3, 4, 5))
    zyx = np.argwhere(np.ones(volume.shape, bool))
    world = volume.voxel_to_world(zyx)
    kept = np.all([(world - origin) @ normal > 0 for origin, normal in planes], axis=0)
    inside = np.all((zyx >= (1, 2, 3)) & (zyx <= (3, 4, 5)), axis=1)
    assert (kept == inside).all()


def test_box_and_slice_planes_in_world_mm():
    volume = Volume(np.zeros((5, 6, 7)), spacing_xyz=(1.0, 1.0, 2.0), origin_xyz=(10, 20, 30))
    corners = box_corners(volume, (0, 0, 0), volume.shape)
    assert np.allclose(corners.min(axis=0), (9.5, 19.5, 29.0))
    assert np.allclose(corners.max(axis=0), (16.5, 25.5, 39.0))
    lengths = np.linalg.norm(corners[BOX_EDGES[:, 0]] - corners[BOX_EDGES[:, 1]], axis=1)
    assert len(BOX_EDGES) == 12 and sorted(set(np.round(lengths, 6))) == [6.0, 7.0, 10.0]
    loops = slice_plane_corners(volume, (2, 3, 4))
    assert np.allclose(loops[0][:, 2], 34.0)  # the axial plane at z index 2
    assert np.allclose(loops[2][:, 0], 14.0)  # the sagittal plane at x index 4


def test_a_cropped_view_is_made_contiguous_for_the_texture():
    volume = Volume(np.arange(6 * 8 * 10, dtype=np.int16).reshape(6, 8, 10))
    crop = volume.crop((1, 1, 1), (4, 6, 8))
    assert not crop.array.flags.c_contiguous
    result = drive(downsample_for_rendering(crop))
    assert result.volume.array.flags.c_contiguous
    assert np.array_equal(result.volume.array, crop.array)
    assert result.volume.origin_xyz == crop.origin_xyz
