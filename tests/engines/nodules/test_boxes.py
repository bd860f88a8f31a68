"""Slice truth from LUNA16 spheres: the circle where each slice cuts the sphere."""

from __future__ import annotations

import numpy as np

from engines.imaging.volume import Volume
from engines.nodules.boxes import TruthConfig, centres_inside, slice_truth, sphere_cuts
from engines.nodules.scan import axial_lps


def _volume(direction=None, origin=(-50.0, -60.0, -200.0)):
    return Volume(np.zeros((40, 100, 120), np.int16), (0.7, 0.8, 2.0), origin,
                  np.eye(3) if direction is None else direction)


def test_cut_circles_follow_the_sphere():
    volume = _volume()
    centre = volume.voxel_to_world([20.3, 50.0, 60.0])
    z, boxes, cut = sphere_cuts(volume, centre, 10.0)
    distance = (z - 20.3) * 2.0
    assert np.all(np.abs(distance) < 5.0) and len(z) == 5
    np.testing.assert_allclose(cut, 2 * np.sqrt(25.0 - distance ** 2))
    middle = boxes[np.argmax(cut)]
    np.testing.assert_allclose((middle[0] + middle[2]) / 2, 60.5)   # voxel 60 centre, edges
    np.testing.assert_allclose((middle[1] + middle[3]) / 2, 50.5)
    np.testing.assert_allclose(middle[2] - middle[0], cut.max() / 0.7)
    np.testing.assert_allclose(middle[3] - middle[1], cut.max() / 0.8)


def test_counted_and_ignored_boxes():
    volume = _volume()
    centre = volume.voxel_to_world([20.0, 50.0, 60.0])
    truth = slice_truth(volume, [centre], [10.0], TruthConfig(min_fraction=0.5, min_mm=2.0),
                        excluded_xyz=[volume.voxel_to_world([5.0, 20.0, 20.0])],
                        excluded_diameters_mm=[4.0])
    counted = truth.counted
    assert set(truth.z[counted]) == {18, 19, 20, 21, 22}   # cuts of 6, 8, 9.2, 10 mm ...
    assert not counted[truth.nodule < 0].any()              # the excluded finding
    assert centres_inside(np.array([[20.5, 20.5]]), truth.on_slice(5, counted=False))[0]


def test_a_flipped_scan_gives_the_same_boxes_in_its_lps_view():
    upright = _volume()
    flipped = Volume(upright.array[::-1], upright.spacing_xyz,
                     upright.voxel_to_world([39, 0, 0]), np.diag([1.0, 1.0, -1.0]))
    centre = upright.voxel_to_world([12.0, 40.0, 30.0])
    a = slice_truth(upright, [centre], [9.0])
    b = slice_truth(axial_lps(flipped)[0], [centre], [9.0])
    np.testing.assert_array_equal(a.z, b.z)
    np.testing.assert_allclose(a.boxes, b.boxes)
