"""Further pore metrics, each against a case computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engines.core.progress import drive
from engines.soil.pore_metrics import (
    connected_porosity,
    iter_pore_metrics,
    pore_size_distribution,
    specific_surface_area,
)


def _two_slabs():
    void = np.zeros((40, 30, 30), bool)
    void[5:14] = True   # 9 voxels thick: local-thickness radius (9 + 1) / 2 = 5
    void[20:25] = True  # 5 voxels thick: radius 3
    return void


def test_pore_size_distribution_of_two_slabs():
    psd = pore_size_distribution(_two_slabs(), (0.5, 0.5, 0.5), bins=4)
    # radii 1.5 mm (5/14 of the void) and 2.5 mm (9/14)
    np.testing.assert_allclose(psd.edges_mm, [1.5, 1.75, 2.0, 2.25, 2.5])
    np.testing.assert_allclose(psd.volume_fraction, [5 / 14, 0, 0, 9 / 14])
    assert psd.mean_radius_mm == pytest.approx((5 * 1.5 + 9 * 2.5) / 14)


def test_pore_size_of_anisotropic_voxels():
    void = np.zeros((80, 15, 15), bool)
    void[10:28] = True  # 18 slices of 0.25 mm = 4.5 mm: half thickness 2.25 mm
    psd = pore_size_distribution(void, (0.25, 0.5, 0.5), bins=3)
    assert psd.mean_radius_mm == pytest.approx(2.25)
    assert pore_size_distribution(np.zeros((4, 4, 4), bool), (1, 1, 1), 3).mean_radius_mm == 0


def test_connected_porosity_counts_only_spanning_pores():
    void = np.zeros((10, 10, 10), bool)
    void[:, 2, 2] = True     # spans the depth: 10 voxels
    void[0:5, 6, 6] = True   # touches the top only
    void[3:7, 4, 8] = True   # touches neither
    assert connected_porosity(void, 0) == pytest.approx(10 / 1000)
    assert connected_porosity(void, 1) == 0.0  # nothing spans y
    assert connected_porosity(np.zeros((3, 3, 3), bool)) == 0.0


def test_specific_surface_area_of_a_cube():
    """Marching cubes at 0.5 around a 10³ voxel cube: six 9 × 9 faces, twelve 9-long strips of
    width √2/2 at the edges and eight corner triangles of area √3/8: 564.10 voxel faces."""
    void = np.zeros((20, 20, 20), bool)
    void[5:15, 5:15, 5:15] = True
    hand = 6 * 81 + 12 * 9 * math.sqrt(2) / 2 + 8 * math.sqrt(3) / 8
    assert specific_surface_area(void, (1, 1, 1)) * 8000 == pytest.approx(hand, rel=1e-6)
    scaled = specific_surface_area(void, (2.0, 2.0, 2.0))
    assert scaled == pytest.approx(hand * 4 / (8000 * 8), rel=1e-6)  # 1/mm halves
    assert specific_surface_area(np.ones((4, 4, 4), bool), (1, 1, 1)) == 0.0


def test_all_three_in_one_task():
    metrics = drive(iter_pore_metrics(_two_slabs(), (0.5, 0.5, 0.5), 1, "slabs", bins=4))
    assert metrics.connected_porosity == pytest.approx(14 / 40)  # both slabs span y
    out = metrics.to_json()
    assert out["void_of"] == "slabs" and len(out["pore_size"]["volume_fraction"]) == 4
    assert out["specific_surface_area_per_mm"] > 0


def test_a_single_radius_and_an_empty_void():
    void = np.zeros((20, 6, 6), bool)
    void[4:9] = True  # one slab, 5 voxels: every radius 3 voxels = 1.5 mm
    psd = pore_size_distribution(void, (0.5, 0.5, 0.5), bins=2)
    np.testing.assert_allclose(psd.edges_mm, [1.5, 1.75, 2.0])  # widened by one voxel
    np.testing.assert_allclose(psd.radius_mm, [1.625, 1.875])
    np.testing.assert_allclose(psd.volume_fraction, [1.0, 0.0])
    assert psd.mean_radius_mm == pytest.approx(1.5)
    assert psd.to_json() == {"radius_mm": [1.625, 1.875], "edges_mm": [1.5, 1.75, 2.0],
                             "volume_fraction": [1.0, 0.0], "mean_radius_mm": 1.5}
    empty = pore_size_distribution(np.zeros((3, 4, 5), bool), (1, 1, 1), bins=3)
    assert empty.to_json() == {"radius_mm": [0, 0, 0], "edges_mm": [0, 0, 0, 0],
                               "volume_fraction": [0, 0, 0], "mean_radius_mm": 0.0}


def test_isotropic_resampling_keeps_the_finest_spacing():
    from engines.soil.pore_metrics import isotropic

    void = np.zeros((3, 4, 2), bool)
    void[1, 2, 1] = True
    same, size = isotropic(void, (0.5, 0.5, 0.5))
    assert same is void and size == 0.5
    cubic, size = isotropic(void, (1.0, 0.5, 1.5))
    assert size == 0.5 and cubic.shape == (6, 4, 6) and cubic.dtype == bool
    assert cubic.sum() == 2 * 1 * 3 and cubic[2:4, 2, 3:6].all()


def test_surface_area_with_unequal_spacing_and_thin_images():
    void = np.zeros((12, 12, 12), bool)
    void[3:9, 3:9, 3:9] = True
    cubic = specific_surface_area(void, (1, 1, 1))
    stretched = specific_surface_area(void, (2.0, 1.0, 1.0))
    assert stretched < cubic and stretched > cubic / 2  # z faces keep their area
    assert specific_surface_area(void[:, :, :1], (1, 1, 1)) == 0.0
    assert specific_surface_area(np.zeros((4, 4, 4), bool), (1, 1, 1)) == 0.0
    flat = np.zeros((2, 6, 6), bool)
    flat[:, 2:4, 2:4] = True
    assert specific_surface_area(flat, (1, 1, 1)) > 0


def test_connected_porosity_along_x_and_the_task_messages():
    void = np.zeros((6, 5, 8), bool)
    void[2, 2, :] = True  # spans x only
    void[0, 0, :3] = True
    assert connected_porosity(void, 2) == pytest.approx(8 / 240)
    assert connected_porosity(void, 0) == 0.0
    assert connected_porosity(np.moveaxis(void, 2, 0)) == pytest.approx(8 / 240)  # default z
    assert len(pore_size_distribution(void, (1, 1, 1)).edges_mm) == 11  # 10 bins
    assert len(drive(iter_pore_metrics(void, (1, 1, 1), 0, "v")).pore_size.radius_mm) == 10
    task = iter_pore_metrics(void, (1, 1, 1), 2, "pores", bins=2)
    reports = []
    try:
        while True:
            reports.append(next(task))
    except StopIteration as stop:
        metrics = stop.value
    assert [(r.fraction, r.message) for r in reports] == [
        (0.0, "pore size distribution (pores)"), (0.5, "connected porosity (pores)"),
        (0.75, "specific surface area (pores)")]
    assert metrics.what == "pores" and metrics.connected_porosity == pytest.approx(8 / 240)
    assert len(metrics.pore_size.volume_fraction) == 2
    assert metrics.specific_surface_area_per_mm == specific_surface_area(void, (1, 1, 1))
    assert metrics.to_json() == {"void_of": "pores", "pore_size": metrics.pore_size.to_json(),
                                 "connected_porosity": metrics.connected_porosity,
                                 "specific_surface_area_per_mm":
                                     metrics.specific_surface_area_per_mm}


def test_resampling_is_nearest_neighbour_on_voxel_cells():
    """5 slices of 0.75 mm become 8 of 0.5 mm; output slice o takes the input slice whose cell
    holds its centre, (o + 0.5) · 5/8 − 0.5 rounded: 0 0 1 2 2 3 4 4 (a spline, or corner-
    aligned sampling, would give 0 1 1 … or … 3 3 4)."""
    from engines.soil.pore_metrics import isotropic

    void = np.zeros((5, 2, 1), bool)
    void[[1, 4], 0, 0] = True
    void[1, 1, 0] = True
    cubic, size = isotropic(void, (0.75, 0.5, 0.5))
    assert size == 0.5 and cubic.shape == (8, 2, 1)
    assert cubic[:, 0, 0].tolist() == [False, False, True, False, False, False, True, True]
    assert cubic[:, 1, 0].tolist() == [False, False, True, False, False, False, False, False]


def test_integer_masks_count_as_void_where_non_zero():
    void = np.zeros((20, 6, 6), np.uint8)
    void[4:9] = 1    # 5 slices: radius 3 voxels = 1.5 mm
    void[12:15] = 1  # 3 slices: radius 2 voxels = 1.0 mm
    psd = pore_size_distribution(void, (0.5, 0.5, 0.5), bins=2)
    np.testing.assert_allclose(psd.edges_mm, [1.0, 1.25, 1.5])
    np.testing.assert_allclose(psd.volume_fraction, [3 / 8, 5 / 8])
    assert psd.mean_radius_mm == pytest.approx((3 * 1.0 + 5 * 1.5) / 8)
    assert connected_porosity(void * 255, 1) == pytest.approx(8 / 20)
    cube = np.zeros((20, 20, 20), np.uint8)
    cube[5:15, 5:15, 5:15] = 255  # a mask saved as 0/255: the interface is still halfway
    hand = 6 * 81 + 12 * 9 * math.sqrt(2) / 2 + 8 * math.sqrt(3) / 8
    assert specific_surface_area(cube, (1, 1, 1)) * 8000 == pytest.approx(hand, rel=1e-6)


def test_the_task_measures_the_void_it_is_given():
    metrics = drive(iter_pore_metrics(_two_slabs(), (0.5, 0.5, 0.5), 1, "slabs", bins=4))
    np.testing.assert_allclose(metrics.pore_size.volume_fraction, [5 / 14, 0, 0, 9 / 14])
    assert metrics.pore_size.mean_radius_mm == pytest.approx((5 * 1.5 + 9 * 2.5) / 14)
