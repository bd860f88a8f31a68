"""Opening scans in the axial LPS orientation: every permutation and flip of the index axes
gives back the same voxels at the same world positions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.volume import Volume
from engines.imaging.volume_io import write_volume
from engines.nodules.scan import axial_lps, file_seriesuid, open_scan, scan_from_volume


def _stored(volume: Volume, perm, signs) -> Volume:
    """The same physical image stored with index axis k along world axis perm[k] × sign."""
    direction = np.zeros((3, 3))
    for k in range(3):
        direction[perm[k], k] = signs[k]
    shape_xyz = [volume.shape[::-1][perm[k]] for k in range(3)]
    spacing = [volume.spacing_xyz[perm[k]] for k in range(3)]
    corner = np.zeros(3)
    for k in range(3):
        if signs[k] < 0:
            corner[perm[k]] = volume.shape[::-1][perm[k]] - 1
    origin = volume.voxel_to_world(corner[::-1])
    empty = Volume(np.zeros(shape_xyz[::-1], np.float32), spacing, origin, direction)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in shape_xyz[::-1]], indexing="ij"), -1)
    source = np.rint(volume.world_to_voxel(empty.voxel_to_world(index))).astype(int)
    array = volume.array[source[..., 0], source[..., 1], source[..., 2]]
    return Volume(array, spacing, origin, direction)


def test_every_axis_order_and_flip_comes_back_to_lps():
    rng = np.random.default_rng(0)
    original = Volume(rng.normal(size=(4, 5, 6)).astype(np.float32), (0.7, 0.8, 2.0),
                      (10.0, -20.0, 30.0))
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            back, changes = axial_lps(_stored(original, perm, signs))
            np.testing.assert_allclose(back.direction, np.eye(3))
            np.testing.assert_allclose(back.origin_xyz, original.origin_xyz)
            np.testing.assert_allclose(back.spacing_xyz, original.spacing_xyz)
            np.testing.assert_array_equal(back.array, original.array)
            assert bool(changes) == (perm != (0, 1, 2) or signs != (1, 1, 1))


def test_flipped_mhd_and_dicom_give_the_same_slices(tmp_path):
    rng = np.random.default_rng(1)
    array = rng.integers(-1000, 400, size=(6, 20, 24)).astype(np.int16)
    upright = Volume(array, (0.7, 0.7, 2.0), (-10.0, -20.0, -300.0), modality="CT")
    flipped = Volume(array[::-1].copy(), (0.7, 0.7, 2.0), (-10.0, -20.0, -290.0),
                     np.diag([1.0, 1.0, -1.0]), modality="CT")
    write_volume(flipped, tmp_path / "1.2.3.mhd")
    write_volume(flipped, tmp_path / "series", format="dicom", uid_seed="x")
    for path in (tmp_path / "1.2.3.mhd", tmp_path / "series"):
        scan = open_scan(path)
        np.testing.assert_array_equal(scan.volume.array, array)
        np.testing.assert_allclose(scan.volume.origin_xyz, upright.origin_xyz, atol=1e-4)
    assert open_scan(tmp_path / "1.2.3.mhd").seriesuid == "1.2.3"
    assert open_scan(tmp_path / "1.2.3.mhd").reoriented == ("flip z",)
    dicom = open_scan(tmp_path / "series")
    assert dicom.seriesuid.startswith("2.25.") or dicom.seriesuid.count(".") > 3
    assert dicom.reoriented == ()


def test_seriesuid_and_bad_files(tmp_path):
    assert file_seriesuid(tmp_path / "a.b.c.mhd") == "a.b.c"
    assert file_seriesuid(tmp_path / "scan.nii.gz") == "scan"
    junk = tmp_path / "junk.mhd"
    junk.write_text("ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\n"
                    "ElementType = MET_SHORT\nElementDataFile = junk.raw\n")
    (tmp_path / "junk.raw").write_bytes(b"\0" * 100)
    with pytest.raises(InputError, match="^junk"):
        open_scan(junk)
    tiny = Volume(np.zeros((3, 8, 8), np.int16), modality="CT")
    write_volume(tiny, tmp_path / "tiny.mhd")
    with pytest.raises(InputError, match="tiny.mhd: slices of 8×8"):
        open_scan(tmp_path / "tiny.mhd")
    scan = scan_from_volume(Volume(np.zeros((2, 16, 16)), direction=np.diag([-1.0, 1, 1])), "u")
    assert scan.seriesuid == "u" and scan.reoriented == ("flip x",)
