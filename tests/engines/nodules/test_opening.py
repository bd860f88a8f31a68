"""What the workspace opens: a LUNA16 folder, one of its scan files, a DICOM series folder
(compressed) with annotations.csv above it, a NIfTI file without truth; review colours and
the boxes of the true nodules."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.core.review import ItemState, ReviewItem
from engines.nodules.opening import iter_open, iter_open_entry, nodule_boxes, review_outcomes
from engines.nodules.samples import iter_write_dataset
from engines.nodules.synthetic import small_config


def test_a_luna16_folder_opens_a_scan_with_its_truth(tiny_root, tiny_dataset):
    opened = drive(iter_open(tiny_root, index=1))
    entry = tiny_dataset.scans[1]
    assert len(tiny_dataset.scans) == 3 and tiny_dataset.excluded is not None
    assert all(e.path.parent.name == "subset0" and e.path.suffix == ".mhd"
               for e in tiny_dataset.scans)
    assert len(tiny_dataset.annotations) >= 3
    assert set(tiny_dataset.nodules_of(entry.seriesuid).scan) == {entry.seriesuid}
    assert opened.index == 1 and opened.scan.seriesuid == entry.seriesuid
    assert opened.path == entry.path and opened.has_truth
    assert len(opened.nodules) == len(tiny_dataset.nodules_of(entry.seriesuid)) > 0
    again = drive(iter_open_entry(opened.dataset, 99))  # clamped to the last scan
    assert again.index == len(tiny_dataset.scans) - 1
    assert "scan 3/3" in again.title and "annotated nodules" in again.title


def test_a_scan_file_finds_the_annotations_above_it(tiny_dataset):
    entry = tiny_dataset.scans[0]  # subset0/<uid>.mhd beside ../annotations.csv
    opened = drive(iter_open(entry.path))
    assert opened.has_truth and opened.dataset is not None and opened.index == 0
    assert np.allclose(opened.nodules.xyz_mm, tiny_dataset.nodules_of(entry.seriesuid).xyz_mm)


def test_a_compressed_dicom_series_and_a_nifti_file(tmp_path, tiny_dataset):
    from engines.imaging.volume_io import write_volume

    root = drive(iter_write_dataset(tmp_path / "dicom", 1, seed=3, format="dicom",
                                    config=small_config(), compression="rle"))
    series = next(p for p in root.iterdir() if p.is_dir())
    opened = drive(iter_open(series))
    assert opened.has_truth and len(opened.nodules) > 0
    assert opened.nodules.scan[0] == opened.scan.seriesuid
    whole = drive(iter_open(root))  # the folder of series opens like a LUNA16 folder
    assert whole.scan.seriesuid == opened.scan.seriesuid
    nifti = write_volume(drive(iter_open(tiny_dataset.scans[0].path)).scan.volume,
                         tmp_path / "alone" / "ct.nii.gz")
    alone = drive(iter_open(nifti))
    assert not alone.has_truth and alone.dataset is None and "no annotations" in alone.title


def test_a_bad_file_is_refused_by_name(tmp_path):
    bad = tmp_path / "junk.mhd"
    bad.write_text("not a header")
    with pytest.raises(InputError, match="junk.mhd"):
        drive(iter_open(bad))


def test_review_outcomes_and_nodule_boxes(tiny_dataset):
    opened = drive(iter_open(tiny_dataset.scans[0].path))
    volume, nodules = opened.scan.volume, opened.nodules
    boxes = nodule_boxes(volume, nodules)
    centres = (boxes[:, :3] + boxes[:, 3:]) / 2 - 0.5
    assert np.allclose(volume.voxel_to_world(centres), nodules.xyz_mm)
    sides_mm = (boxes[:, 3:] - boxes[:, :3]) * np.asarray(volume.spacing_zyx)
    assert np.allclose(sides_mm, nodules.diameter_mm[:, None])
    on = ReviewItem(1, 0, score=0.9, world_xyz=tuple(nodules.xyz_mm[0]), size_mm=(5, 5, 5))
    off = ReviewItem(2, 0, score=0.8, world_xyz=tuple(nodules.xyz_mm[0] + 60), size_mm=(5, 5, 5))
    outcomes = review_outcomes([on, off], volume, nodules)
    assert outcomes.labels == {1: "tp", 2: "fp"}
    assert not outcomes.missed[0] and outcomes.missed[1:].all()
    rejected = review_outcomes([on.edited(state=ItemState.REJECTED)], volume, nodules)
    assert rejected.labels == {1: "tp"} and rejected.missed.all()
