"""Slice boxes → 3-D candidates: a sphere's cuts become one candidate at its centre and size;
vessels running along z and one-slice spots do not."""

from __future__ import annotations

import numpy as np
import pytest

from engines.imaging.volume import Volume
from engines.nodules.boxes import sphere_cuts
from engines.nodules.linking import link_tracks, measure_track, passes_shape_rules

VOLUME = Volume(np.zeros((60, 200, 200), np.int16), (0.7, 0.7, 1.25), (-70.0, -70.0, -400.0))


def _sphere(centre_zyx, diameter, score=0.9):
    centre = VOLUME.voxel_to_world(centre_zyx)
    z, boxes, cut = sphere_cuts(VOLUME, centre, diameter)
    keep = cut >= 0.3 * diameter
    return z[keep], boxes[keep], np.full(keep.sum(), score), centre


def test_a_sphere_becomes_one_candidate_at_its_centre():
    z, boxes, scores, centre = _sphere([30.4, 100.0, 80.0], 12.0)
    other = _sphere([12.0, 40.0, 150.0], 6.0, 0.6)
    tracks = link_tracks(np.r_[z, other[0]], np.r_[boxes, other[1]], np.r_[scores, other[2]])
    assert sorted(len(t) for t in tracks) == sorted([len(z), len(other[0])])
    track = max(tracks, key=len)
    candidate = measure_track(VOLUME, np.r_[z, other[0]][track], np.r_[boxes, other[1]][track],
                              np.r_[scores, other[2]][track])
    np.testing.assert_allclose(candidate.world_xyz, centre, atol=0.7)
    assert candidate.diameter_mm == pytest.approx(12.0, rel=0.12)
    assert candidate.probability == pytest.approx(0.9)
    assert passes_shape_rules(candidate, 1.5, 0.35)


@pytest.mark.parametrize("slice_mm", [0.6, 1.0, 1.7, 2.5])
@pytest.mark.parametrize("diameter", [4.0, 5.5, 9.0, 30.0])
def test_spheres_pass_the_elongation_rule_at_any_slice_spacing(slice_mm, diameter):
    """Boxes where the slice circle is at least half the widest: a sphere's core. Its
    elongation stays at most 0.87 (the half-width core of a sphere is 0.87 D long) at every
    offset of the slice grid; a tube of the same width along z does not pass."""
    volume = Volume(np.zeros((80, 100, 100), np.int16), (0.7, 0.7, slice_mm), (0.0, 0.0, 0.0))
    for offset in np.linspace(0.0, 0.9, 7):
        centre = volume.voxel_to_world([40.0 + offset, 50.0, 50.0])
        z, boxes, cut = sphere_cuts(volume, centre, diameter)
        keep = cut >= 0.5 * cut.max()
        sphere = measure_track(volume, z[keep], boxes[keep], np.full(keep.sum(), 0.9))
        assert sphere.checks["elongation"] <= 0.87
        assert passes_shape_rules(sphere, 1.2, 0.0)
    n = int(np.ceil(1.6 * diameter / slice_mm)) + 2   # a tube 1.6 diameters long
    tube = measure_track(volume, np.arange(10, 10 + n), np.tile(boxes[len(boxes) // 2],
                                                                (n, 1)), np.full(n, 0.9))
    assert not passes_shape_rules(tube, 1.2, 0.0)


def test_a_gap_of_one_slice_is_bridged_two_are_not():
    z, boxes, scores, _ = _sphere([30.0, 100.0, 100.0], 14.0)
    gap = z != 30
    assert len(link_tracks(z[gap], boxes[gap], scores[gap], max_gap=1)) == 1
    gap2 = (z != 30) & (z != 31)
    assert len(link_tracks(z[gap2], boxes[gap2], scores[gap2], max_gap=1)) == 2


def test_vessel_along_z_and_one_slice_spot_fail_the_shape_rules():
    z = np.arange(10, 40)
    boxes = np.tile([96.0, 96.0, 102.0, 102.0], (len(z), 1))        # 4.2 mm for 37 mm
    vessel = measure_track(VOLUME, z, boxes, np.full(len(z), 0.8))
    assert vessel.checks["elongation"] > 3 and not passes_shape_rules(vessel, 1.5, 0.35)
    spot = measure_track(VOLUME, np.array([20]), np.array([[90.0, 90.0, 104.0, 104.0]]),
                         np.array([0.95]))                          # 9.8 mm seen once
    assert spot.probability == pytest.approx(0.95 / 3)              # expects ~6 slices
    assert not passes_shape_rules(spot, 1.5, 0.35)


def test_a_nodule_on_a_vessel_is_parted_from_it():
    z, boxes, scores, centre = _sphere([30.0, 100.0, 100.0], 14.0)
    tail = np.arange(z.max() + 1, z.max() + 20)
    vessel = np.tile([97.0, 97.0, 103.0, 103.0], (len(tail), 1))
    candidate = measure_track(VOLUME, np.r_[z, tail], np.r_[boxes, vessel],
                              np.r_[scores, np.full(len(tail), 0.7)])
    np.testing.assert_allclose(candidate.world_xyz, centre, atol=1.0)
    assert passes_shape_rules(candidate, 1.5, 0.35)
