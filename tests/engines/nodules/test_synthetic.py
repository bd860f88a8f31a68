"""The synthetic chest CT: seeded, anatomically plausible HU, nodules in the lungs, vessels
that look like nodules on one slice."""

from __future__ import annotations

import json

import numpy as np

from engines.nodules.anatomy import draw_chest
from engines.nodules.lungs import lung_mask
from engines.nodules.scan import scan_from_volume
from engines.nodules.synthetic import SyntheticConfig, generate_scan, small_config


def test_same_seed_same_scan_other_seed_other_scan():
    a = generate_scan(small_config(), 5, 0)
    b = generate_scan(small_config(), 5, 0)
    c = generate_scan(small_config(), 5, 1)
    np.testing.assert_array_equal(a.volume.array, b.volume.array)
    assert a.seriesuid == b.seriesuid != c.seriesuid
    assert a.volume.shape != c.volume.shape or not np.array_equal(a.volume.array,
                                                                 c.volume.array)


def test_full_size_scan_is_like_chest_ct():
    scan = generate_scan(SyntheticConfig(nodules=(3, 3), flip_fraction=0.0), 11, 0)
    volume = scan.volume
    sx, sy, sz = volume.spacing_xyz
    assert 0.6 <= sx == sy <= 0.8 and sz in (1.0, 1.25, 1.5, 2.0, 2.5)
    assert volume.shape[1:] == (512, 512) and volume.array.dtype == np.int16
    assert volume.array.min() <= -1000 and volume.array.max() >= 700        # air, bone
    assert 1 <= len(scan.nodules) <= 3
    mask = lung_mask(scan_from_volume(volume).volume)
    for nodule in scan.nodules:
        assert 3.0 <= nodule.diameter_mm <= 30.0
        z, y, x = np.rint(volume.world_to_voxel(np.array(nodule.centre_xyz))).astype(int)
        if nodule.kind not in ("ground_glass", "part_solid"):
            assert volume.array[z, y, x] > -300          # a solid nodule's centre is dense
        if nodule.kind != "juxta_pleural":              # those sit half in the chest wall
            assert mask.contains(np.array([[z, y, x]], float))[0]
    # lung parenchyma around the centre of each lung
    lung = volume.array[volume.shape[0] // 2, 200:300, 100:160]
    assert -900 < np.median(lung) < -700
    # a vessel running along z: a dense round spot in an axial slice, lung around it
    point = scan.vessel_points[0]
    z, y, x = np.rint(volume.world_to_voxel(point)).astype(int)
    assert volume.array[z, y, x] > -500
    ring = volume.array[z, y - 12:y + 13, x - 12:x + 13].astype(float)
    assert np.median(ring) < -600


def test_chest_lungs_are_inside_the_body():
    chest = draw_chest(np.random.default_rng(0), 360.0)
    ac, bc = chest.cavity
    inside = chest.in_lung(np.array([[-0.6 * ac, chest.cavity_y, 0.5 * chest.height],
                                     [0.6 * ac, chest.cavity_y, 0.5 * chest.height]]))
    assert inside.all()
    assert not chest.in_lung(np.array([[0.0, chest.cavity_y, 0.5 * chest.height]]))[0]  # heart
    assert not chest.in_lung(np.array([[0.0, 0.0, chest.height * 1.2]]))[0]


def test_written_set_in_both_formats(tiny_root, tmp_path):
    from engines.core.progress import drive
    from engines.nodules.luna16 import open_dataset
    from engines.nodules.samples import iter_write_dataset

    manifest = json.loads((tiny_root / "synthetic.json").read_text())
    assert manifest["seed"] == 3 and len(manifest["series"]) == 3
    dicom = drive(iter_write_dataset(tmp_path / "dicom", 1, seed=3, format="dicom",
                                     config=small_config(flip_fraction=0.5)))
    dataset = open_dataset(dicom)
    assert dataset.scans[0].path.is_dir()
    luna = open_dataset(tiny_root)
    # the same scan, the same nodules in world mm whichever format
    np.testing.assert_allclose(dataset.annotations.xyz_mm,
                               luna.nodules_of(manifest["series"][0]["seriesuid"]).xyz_mm)
    assert dataset.scans[0].seriesuid == dataset.annotations.scan[0]
