"""Finding the core axis, placing the crop, and porespy porosity (whole, per slice, streamed)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.progress import drive
from engines.soil.core_axis import choose_crop, find_core_axis
from engines.soil.porosity import (
    depth_positions,
    iter_segmented_profile,
    object_porosity,
    object_profile,
)
from engines.soil.preprocess import CropBox, PreprocessConfig


def _cylinder(shape=(30, 80, 90), centre=(37.3, 50.6), radius=25.0, axis=0):
    """HU: air outside a solid disc per slice, with a few air holes inside."""
    nz, ny, nx = shape
    yy, xx = np.mgrid[:ny, :nx]
    disc = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2
    hu = np.where(disc, 1500, -1000).astype(np.int16)
    hu[(yy - centre[0]) ** 2 + (xx - centre[1] - 5) ** 2 <= 9] = -1000  # a pore
    volume = np.broadcast_to(hu, shape).copy()
    return np.moveaxis(volume, 0, axis) if axis else volume


def test_axis_found_off_the_array_centre():
    core = find_core_axis(_cylinder(), (0.25, 0.4, 0.4))
    assert core.found and core.slices_with_disc == core.slices_checked == 30
    assert core.centre == pytest.approx((37.3, 50.6), abs=0.3)
    assert core.radius_mm == pytest.approx(25 * 0.4, rel=0.02)
    assert core.depth_range == (0, 29)
    assert core.to_json()["axis"] == "z"


def test_axis_along_y_and_a_synthetic_core(tiny_cores):
    volume = _cylinder(axis=1)  # (80, 30, 90): the core runs along y
    core = find_core_axis(volume, (0.4, 0.25, 0.4), depth_axis=1)
    assert core.found and core.centre == pytest.approx((37.3, 50.6), abs=0.3)
    for synthetic in tiny_cores:  # wall, soil, air above it, noise
        found = find_core_axis(synthetic.volume.array, synthetic.volume.spacing_zyx)
        assert found.centre == pytest.approx(synthetic.axis_yx, abs=0.5)
        assert found.radius_mm == pytest.approx(synthetic.radius_mm, rel=0.03)


def test_no_disc_means_not_found():
    uniform = np.full((10, 40, 40), 1200, np.int16)  # a crop inside a sample: no wall
    core = find_core_axis(uniform, (1, 1, 1))
    assert not core.found and core.centre == (19.5, 19.5)
    box, notes = choose_crop(uniform.shape, (1, 1, 1), PreprocessConfig(crop=(4, 10, 10)), core)
    assert box.to_list() == [3, 15, 15, 7, 25, 25]
    assert "no core wall found" in notes[0]


def test_crop_centred_fitted_clipped_and_shifted():
    volume = _cylinder()
    spacing = (0.25, 0.4, 0.4)
    core = find_core_axis(volume, spacing)
    box, notes = choose_crop(volume.shape, spacing, PreprocessConfig(), core)
    # inside the core less 5 mm: 2 × (10 − 5) / √2 = 7.07 mm = 17 px; 30 slices, not 400
    assert box.size_zyx == (30, 17, 17)
    assert box.start_zyx == (0, 29, 42)  # centred on (37.3, 50.6)
    assert len(notes) == 3 and "clipped to 30" in notes[2]
    given = PreprocessConfig(crop=(10, 20, 30), fit_inside_core=False)
    box, notes = choose_crop(volume.shape, spacing, given, core)
    assert box.size_zyx == (10, 20, 30) and box.start_zyx == (10, 27, 36) and notes == []
    edge = PreprocessConfig(crop=(10, 78, 10), fit_inside_core=False)
    box, notes = choose_crop(volume.shape, spacing, edge, core)
    assert box.start_zyx[1] == 0 and "shifted inside" in notes[0]
    whole, notes = choose_crop(volume.shape, spacing, PreprocessConfig(crop=None), core)
    assert whole.to_list() == [0, 0, 0, 30, 80, 90] and notes == []


def test_porosity_per_object_is_the_share_not_in_it():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 7, (12, 9, 8)).astype(np.uint8)
    for k in range(1, 7):
        assert object_porosity(labels, k) == pytest.approx(1 - np.mean(labels == k))
        for axis in range(3):
            expected = 1 - (labels == k).mean(axis=tuple(a for a in range(3) if a != axis))
            np.testing.assert_allclose(object_profile(labels, k, axis), expected)


def test_depth_positions_are_slice_centres_from_the_volume_start():
    index, depth = depth_positions(CropBox((4, 0, 0), (3, 5, 5)), 0, 0.25)
    np.testing.assert_array_equal(index, [4, 5, 6])
    np.testing.assert_allclose(depth, [1.125, 1.375, 1.625])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_segmented_profile_streams_in_slabs(monkeypatch, axis):
    import porespy

    import engines.soil.porosity as porosity

    rng = np.random.default_rng(axis)
    stack = (rng.uniform(size=(23, 17, 11)) > 0.3).astype(np.uint8) * 255
    box = CropBox((2, 3, 1), (19, 12, 9))
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 250)  # two z slices per slab
    whole, profile = drive(iter_segmented_profile(stack, box, axis))
    inside = stack[box.slices] == 0
    assert whole == pytest.approx(porespy.metrics.porosity(inside), abs=1e-12)
    reference = porespy.metrics.porosity_profile(inside, axis=axis).porosity
    np.testing.assert_allclose(profile, reference, atol=1e-12)


def test_profile_json_and_csv_keep_order_and_precision():
    from engines.soil.porosity import Profile

    index, depth = depth_positions(CropBox((1, 7, 2), (4, 2, 3)), 1, 0.3)
    np.testing.assert_array_equal(index, [7, 8])
    np.testing.assert_allclose(depth, [2.25, 2.55])
    profile = Profile(1, index, depth, {"object2": np.array([0.25, 1 / 3]),
                                        "object1": np.array([0.5, 0.125])})
    assert len(profile) == 2
    assert profile.to_json() == {"axis": "y", "slice": [7, 8], "depth_mm": [2.25, 2.55],
                                 "object2": [0.25, 1 / 3], "object1": [0.5, 0.125]}
    assert profile.to_csv() == ("slice,depth_mm,object2,object1\n"
                                "7,2.2500,0.250000,0.500000\n8,2.5500,0.333333,0.125000\n")
    empty = Profile(2, np.zeros(0, np.int64), np.zeros(0))
    assert len(empty) == 0 and empty.to_csv() == "slice,depth_mm\n"
    assert empty.to_json() == {"axis": "x", "slice": [], "depth_mm": []}


def test_segmented_profile_reports_each_slab(monkeypatch):
    import engines.soil.porosity as porosity

    stack = np.zeros((7, 4, 5), np.uint8)
    stack[:, :, :2] = 255  # 2 of 5 columns solid: porosity 0.6 everywhere
    stack[3] = 255  # slice 3 all solid
    box = CropBox((1, 0, 0), (5, 4, 5))  # slices 1…5
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 40)  # two slices per slab
    task = iter_segmented_profile(stack, box, 0)
    reports = []
    whole, profile = drive(task, reports.append)
    assert [(r.fraction, r.message) for r in reports] == [
        (0.4, "counted slices 1–2"), (0.8, "counted slices 3–4"), (1.0, "counted slices 5–5")]
    np.testing.assert_allclose(profile, [0.6, 0.6, 0.0, 0.6, 0.6])
    assert whole == pytest.approx(0.48)
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 1)  # at least one slice per slab
    whole, profile = drive(iter_segmented_profile(stack, box, 2))
    np.testing.assert_allclose(profile, [0.0, 0.0, 0.8, 0.8, 0.8])
    assert whole == pytest.approx(0.48)


def _reports_and_result(task):
    reports = []
    result = drive(task, reports.append)
    return [(r.fraction, r.message) for r in reports], result


def test_segmented_slabs_are_sized_by_the_boxs_own_cross_section(monkeypatch):
    """A box of 4 × 5 voxels across, away from the array's corner: 40 voxels hold two slices
    (the array's 6 × 7, or the box's far corner 6 × 7, would hold one)."""
    import engines.soil.porosity as porosity

    stack = np.full((8, 6, 7), 255, np.uint8)
    stack[:, 2:6, 2:4] = 0  # 2 of the box's 5 columns are pore: 0.4 per slice
    stack[4, 2:6, 2:7] = 0  # slice 4 all pore
    box = CropBox((1, 2, 2), (5, 4, 5))
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 40)
    reports, (whole, profile) = _reports_and_result(iter_segmented_profile(stack, box, 0))
    assert reports == [(0.4, "counted slices 1–2"), (0.8, "counted slices 3–4"),
                       (1.0, "counted slices 5–5")]
    np.testing.assert_allclose(profile, [0.4, 0.4, 0.4, 1.0, 0.4])
    assert whole == pytest.approx(2.6 / 5)


def test_segmented_slabs_of_one_slice_and_of_a_one_voxel_core(monkeypatch):
    import engines.soil.porosity as porosity

    stack = np.zeros((4, 3, 3), np.uint8)
    stack[1, 1, 1] = 9
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 1)  # one slice per slab, not two
    reports, (whole, profile) = _reports_and_result(
        iter_segmented_profile(stack, CropBox((0, 0, 0), (4, 3, 3)), 0))
    assert [m for _, m in reports] == [f"counted slices {z}–{z}" for z in range(4)]
    np.testing.assert_allclose(profile, [1, 8 / 9, 1, 1])
    monkeypatch.setattr(porosity, "SLAB_VOXELS", 2)  # a 1 × 1 column: two slices per slab
    reports, (whole, profile) = _reports_and_result(
        iter_segmented_profile(stack, CropBox((0, 1, 1), (4, 1, 1)), 0))
    assert [m for _, m in reports] == ["counted slices 0–1", "counted slices 2–3"]
    np.testing.assert_allclose(profile, [1, 0, 1, 1])
    assert whole == pytest.approx(0.75)


def test_profile_json_rounds_depths_to_a_micrometre():
    from engines.soil.porosity import Profile

    profile = Profile(0, np.array([0, 1]), np.array([1 / 3, 0.1234567]),
                      {"object1": np.array([0.5, 0.25])})
    assert profile.to_json()["depth_mm"] == [0.333333, 0.123457]
