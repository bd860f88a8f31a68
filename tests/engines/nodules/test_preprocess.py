"""Window, in-plane resampling with its box mapping, the 2.5-D stack and the slice choice."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.nodules.preprocess import (
    PreprocessConfig,
    choose_slices,
    parse_pair,
    plane_map,
    stack_slices,
    window,
)


def test_window_and_config():
    np.testing.assert_allclose(window(np.array([-2000, -1000, -300, 400, 900]), (-1000, 400)),
                               [0, 0, 0.5, 1, 1])
    assert parse_pair("-1000:400") == (-1000.0, 400.0)
    with pytest.raises(InputError):
        parse_pair("wide")
    with pytest.raises(InputError, match="HU window"):
        PreprocessConfig(hu_window=(400.0, -1000.0))
    config = PreprocessConfig(context_mm=2.0)
    assert [config.neighbour_offset(s) for s in (0.625, 1.0, 2.5)] == [3, 2, 1]
    assert PreprocessConfig().neighbour_offset(0.625) == 1       # the paper's z ± 1


def test_plane_map_round_trip_and_stack():
    geometry = plane_map((100, 120), (0.8, 0.6), 0.7, bounds=(10, 20, 90, 110))
    assert geometry.size == (91, 77) and geometry.padded == (96, 96)
    boxes = np.array([[30.0, 40.0, 50.0, 60.0]])
    np.testing.assert_allclose(geometry.to_voxel(geometry.to_model(boxes)), boxes)
    array = np.zeros((5, 100, 120), np.int16)
    for k in range(5):
        array[k] = -1000 + 100 * k
    out = stack_slices(array, np.array([0, 2, 4]), 1, geometry, (-1000.0, 400.0))
    assert out.shape == (3, 3, 96, 96) and out.dtype == np.float32
    centre = out[:, :, 40, 40] * 1400 - 1000
    np.testing.assert_allclose(centre, [[-1000, -1000, -900], [-900, -800, -700],
                                        [-700, -600, -600]], atol=0.5)
    assert np.all(out[:, :, 91:, :] == 0) and np.all(out[:, :, :, 77:] == 0)   # padding


def test_resampled_box_lands_on_the_object():
    array = np.full((3, 100, 100), -850, np.int16)
    array[:, 40:50, 60:70] = 40
    geometry = plane_map((100, 100), (0.5, 0.5), 0.7)
    image = stack_slices(array, np.array([1]), 1, geometry, (-1000.0, 400.0))[0, 1]
    x0, y0, x1, y1 = geometry.to_model(np.array([[60.0, 40.0, 70.0, 50.0]]))[0]
    inside = image[int(np.ceil(y0)):int(y1), int(np.ceil(x0)):int(x1)]
    assert inside.min() > 0.6 and image[int(y1) + 2, int(x1) + 2] < 0.2


def test_slice_choice():
    rng = np.random.default_rng(0)
    choice = choose_slices(100, np.array([40, 41, 42]), range(10, 90), rng, negative_ratio=2,
                           centre_slices=3, avoid=np.array([39, 43]))
    np.testing.assert_array_equal(choice.positive, [40, 41, 42])
    np.testing.assert_array_equal(choice.centre, [49, 50, 51])
    assert len(choice.negative) == 6
    assert not set(choice.negative) & {39, 40, 41, 42, 43, 49, 50, 51}
    assert all(10 <= z < 90 for z in choice.negative)


def test_window_limits_pairs_and_offsets():
    from engines.nodules.preprocess import format_pair

    with pytest.raises(InputError) as caught:
        PreprocessConfig(hu_window=(100.0, 100.0))
    assert str(caught.value) == "HU window (hu_window) needs low < high"
    with pytest.raises(InputError) as caught:
        parse_pair("wide")
    assert str(caught.value) == "expected LOW:HIGH, got 'wide'"
    assert format_pair((-1000.0, 400.5)) == "-1000:400.5"
    assert PreprocessConfig(context_mm=1.0).neighbour_offset(0.25) == 4
    assert PreprocessConfig(context_mm=0.5).neighbour_offset(0.25) == 2
    out = window(np.array([-1000, -650, 400], np.int32), (-1000.0, 400.0))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0, 0.25, 1])


def test_plane_map_of_the_whole_slice_and_of_one_voxel():
    whole = plane_map((100, 120), (1.0, 1.0), 1.0)
    assert (whole.y0, whole.x0, whole.crop, whole.size, whole.padded) == (
        0, 0, (100, 120), (100, 120), (128, 128))
    tiny = plane_map((10, 10), (0.5, 0.5), 0.7, bounds=(5, 6, 6, 7))
    assert (tiny.y0, tiny.x0, tiny.crop, tiny.size, tiny.padded) == (5, 6, (1, 1), (1, 1),
                                                                     (32, 32))
    geometry = plane_map((100, 120), (0.8, 0.6), 0.7, bounds=(10, 20, 90, 110))
    # 80 × 0.8 / 0.7 = 91.4 → 91 rows for 80 voxels; 90 × 0.6 / 0.7 = 77.1 → 77 for 90
    model = geometry.to_model([30.0, 40.0, 50.0, 60.0])  # one box, flat
    assert model.shape == (1, 4)
    np.testing.assert_allclose(model, [[10 * 77 / 90, 30 * 91 / 80, 30 * 77 / 90, 50 * 91 / 80]])
    two = geometry.to_voxel([[0.0, 0.0, 77.0, 91.0], [7.7, 9.1, 15.4, 18.2]])
    np.testing.assert_allclose(two, [[20, 10, 110, 90], [29, 18, 38, 26]])
    assert geometry.to_voxel([1.0, 2.0, 3.0, 4.0]).shape == (1, 4)
    np.testing.assert_allclose(geometry.to_model([[20, 10, 110, 90], [29, 18, 38, 26]]),
                               [[0, 0, 77, 91], [7.7, 9.1, 15.4, 18.2]])


def test_resampling_keeps_float32_and_antialiases_every_shrink():
    from engines.nodules.preprocess import resample_planes

    same = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    assert resample_planes(same, (3, 4)) is same  # not resampled, not copied
    assert resample_planes(same.astype(np.float64), (3, 4)).dtype == np.float32
    up = resample_planes(np.array([[[0.0, 4.0]]]), (1, 4))  # float64 in
    assert up.dtype == np.float32
    np.testing.assert_allclose(up, [[[0, 1, 3, 4]]])  # pixel centres, not corners
    row = np.zeros((1, 1, 8), np.float32)
    row[..., 7] = 8
    # a triangle filter 4 pixels wide each side of x = 5.5: weights 1/8, 3/8, 5/8, 7/8, 7/8,
    # 5/8 on columns 2…7 (sum 3.5); without antialiasing the bright column would be missed
    np.testing.assert_allclose(resample_planes(row, (1, 2)), [[[0, 8 * 0.625 / 3.5]]],
                               rtol=1e-6)
    column = np.zeros((1, 8, 2), np.float32)
    column[:, 7] = 8
    shrunk = resample_planes(column, (2, 8))  # fewer rows, more columns: still a shrink
    np.testing.assert_allclose(shrunk[0, :, 0], [0, 8 * 0.625 / 3.5], rtol=1e-6)


def test_slice_choice_defaults_edges_and_types():
    rng = np.random.default_rng(4)
    choice = choose_slices(101, np.array([70]), range(0, 101), rng)
    np.testing.assert_array_equal(choice.centre, [49, 50, 51])  # the middle of 101 is 50
    assert choice.centre.dtype == np.int64 and len(choice.negative) == 2  # at least two
    assert not set(choice.negative) & {49, 50, 51, 70}
    np.testing.assert_array_equal(choice.all(), np.unique([70, 49, 50, 51, *choice.negative]))
    four = choose_slices(100, np.array([10, 12]), range(60, 90), rng, negative_ratio=1.5,
                         centre_slices=4)
    np.testing.assert_array_equal(four.centre, [49, 50, 51, 52])
    assert len(four.negative) == 3 and four.negative.tolist() == sorted(four.negative)
    for n, centre in ((1, [0]), (2, [0, 1])):
        np.testing.assert_array_equal(choose_slices(n, np.array([], int), range(0), rng).centre,
                                      centre)
    empty = choose_slices(10, np.array([3]), range(2, 4), rng, avoid=np.array([2]))
    assert empty.negative.size == 0 and empty.negative.dtype == np.int64
    full = choose_slices(50, np.array([1, 2, 3, 4, 5]), range(10, 15), rng, centre_slices=0)
    assert full.centre.size == 0
    np.testing.assert_array_equal(full.negative, [10, 11, 12, 13, 14])  # without replacement


def test_slice_choice_default_ratio_and_the_middle_of_an_odd_scan():
    rng = np.random.default_rng(8)
    choice = choose_slices(60, [5, 7, 9], range(20, 60), rng)  # one negative per positive
    assert len(choice.negative) == 3 and choice.positive.dtype == np.int64
    none = choose_slices(101, [], range(48, 53), rng)  # lungs only at the centre slices
    assert none.positive.dtype == np.int64 and none.positive.size == 0
    np.testing.assert_array_equal(none.centre, [49, 50, 51])
    np.testing.assert_array_equal(none.negative, [48, 52])  # never a centre slice
