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
