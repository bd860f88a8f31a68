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
