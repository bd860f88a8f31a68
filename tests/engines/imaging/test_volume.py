"""Volume geometry: world <-> voxel through spacing, origin and direction; crops keep it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.volume import MAX_ORIGIN_MM, SPACING_RANGE_MM, Volume


def _oblique() -> Volume:
    angle = np.deg2rad(30)
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                          [0, 0, -1.0]])
    return Volume(np.zeros((4, 5, 6), np.float32), spacing_xyz=(0.7, 0.8, 2.5),
                  origin_xyz=(-100.0, 20.0, 300.0), direction=direction)


def test_voxel_world_round_trip_respects_direction():
    volume = _oblique()
    zyx = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.25, 0.5]])
    world = volume.voxel_to_world(zyx)
    assert np.allclose(world[0], volume.origin_xyz)
    # one step along x moves 0.7 mm along the first direction column
    step = volume.voxel_to_world([0, 0, 1]) - volume.voxel_to_world([0, 0, 0])
    assert np.allclose(step, 0.7 * volume.direction[:, 0])
    # z runs towards -z world (direction[2, 2] = -1), 2.5 mm per slice
    assert np.isclose(volume.voxel_to_world([2, 0, 0])[2], 300.0 - 5.0)
    assert np.allclose(volume.world_to_voxel(world), zyx)


def test_crop_keeps_world_positions():
    volume = _oblique()
    volume = volume.with_array(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))
    crop = volume.crop((1, 2, 3), (2, 2, 2))
    assert crop.shape == (2, 2, 2)
    assert crop.array[0, 0, 0] == volume.array[1, 2, 3]
    assert np.allclose(crop.voxel_to_world([0, 0, 0]), volume.voxel_to_world([1, 2, 3]))
    assert np.allclose(crop.voxel_to_world([1, 1, 1]), volume.voxel_to_world([2, 3, 4]))


def test_centred_crop_is_shifted_inside_and_clipped():
    volume = Volume(np.zeros((10, 20, 30)))
    crop = volume.centred_crop((4, 8, 8), centre_zyx=(9, 0, 15))
    assert crop.shape == (4, 8, 8)
    assert crop.metadata["crop_start_zyx"] == [6, 0, 11]
    assert volume.centred_crop((50, 50, 50)).shape == (10, 20, 30)


@pytest.mark.parametrize("kwargs", [
    {"array": np.zeros((3, 3))},
    {"array": np.zeros((0, 3, 3))},
    {"array": np.zeros((2, 2, 2)), "spacing_xyz": (1.0, 0.0, 1.0)},
    {"array": np.zeros((2, 2, 2)), "spacing_xyz": (1.0, float("nan"), 1.0)},
    {"array": np.zeros((2, 2, 2)), "direction": np.ones((3, 3))},
    {"array": np.zeros((2, 2, 2)), "direction": np.eye(2)},
    # impossible voxel sizes and origins the fuzzer got accepted from NIfTI headers
    {"array": np.zeros((2, 2, 2)), "spacing_xyz": (1.0, 7.3e-41, 1.0)},
    {"array": np.zeros((2, 2, 2)), "spacing_xyz": (3e38, 3e38, 3e38)},
    {"array": np.zeros((2, 2, 2)), "origin_xyz": (0.0, 1e300, 0.0)},
])
def test_bad_geometry_is_an_input_error(kwargs):
    with pytest.raises(InputError):
        Volume(**kwargs)
    with pytest.raises(InputError, match=r"^scan\.nii: "):  # naming the file it came from
        Volume(**kwargs, source=Path("scan.nii"))


def test_the_limits_themselves_are_accepted():
    low, high = SPACING_RANGE_MM
    Volume(np.zeros((1, 1, 1)), spacing_xyz=(low, high, 1.0), origin_xyz=(MAX_ORIGIN_MM, 0, 0))


def test_check_values_refuses_nan_and_infinity_slice_by_slice():
    array = np.zeros((3, 2, 2), np.float32)
    Volume(array, source=Path("v.mha")).check_values()
    Volume(np.full((3, 2, 2), 7, np.int16)).check_values()
    for bad in (np.nan, np.inf, -np.inf):
        array[2, 1, 0] = bad
        with pytest.raises(InputError, match=r"^v\.mha: slice 2 holds NaN or infinite"):
            Volume(array, source=Path("v.mha")).check_values()


def test_crop_outside_is_an_input_error():
    with pytest.raises(InputError, match="does not fit"):
        Volume(np.zeros((4, 4, 4))).crop((2, 0, 0), (3, 1, 1))


@pytest.mark.parametrize("dtype, values, expected", [
    (np.uint8, [0, 255], np.uint8),
    (np.int16, [-1024, 3071], np.int16),
    (np.uint16, [0, 65535], np.uint16),
    (np.int32, [-1024, 3071], np.int16),
    (np.int32, [0, 70000], np.float32),
    (np.float64, [0.5, 1.5], np.float32),
    (bool, [True, False], bool),
])
def test_compact_values_keeps_small_types_and_narrows_wide_ones(dtype, values, expected):
    from engines.imaging.volume import compact_values

    result = compact_values(np.array(values, dtype=dtype))
    assert result.dtype == expected
    assert np.array_equal(result, np.array(values, dtype=dtype))
