"""DICOM series writing: what SimpleITK (GDCM) reads back is the volume, HU exactly, on every
compression; UIDs and tags are those of a CT series; the folder is replaced safely."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import drive
from engines.imaging.dicom_write import stored_values, write_dicom_series
from engines.imaging.volume import Volume
from engines.imaging.volume_io import read_volume, write_volume
from tests.engines.imaging.dicom_factory import JPEGLS


def _sitk(folder):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


@pytest.mark.parametrize("compression", [None, "rle", "jpeg2000", JPEGLS])
def test_simpleitk_reads_back_every_hu(tmp_path, ct_volume, compression):
    import SimpleITK as sitk

    folder = write_volume(ct_volume, tmp_path / "series", compression=compression)
    image = _sitk(folder)
    assert np.array_equal(sitk.GetArrayFromImage(image), ct_volume.array)
    assert np.allclose(image.GetSpacing(), ct_volume.spacing_xyz)
    assert np.allclose(image.GetOrigin(), ct_volume.origin_xyz)
    assert np.allclose(np.reshape(image.GetDirection(), (3, 3)), ct_volume.direction)
    again = read_volume(folder)
    assert np.array_equal(again.array, ct_volume.array) and again.array.dtype == np.int16


def test_tags_and_uids_of_a_ct_series(tmp_path, ct_volume):
    import pydicom

    files = drive(write_dicom_series(ct_volume, tmp_path / "ct", series_description="phantom"))
    datasets = [pydicom.dcmread(path) for path in files]
    assert [f.name for f in files] == [f"IM{k:05d}.dcm" for k in range(1, 13)]
    assert {ds.SOPClassUID for ds in datasets} == {"1.2.840.10008.5.1.4.1.1.2"}
    assert len({ds.SOPInstanceUID for ds in datasets}) == 12
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1
    assert all(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID for ds in datasets)
    first = datasets[0]
    assert first.Modality == "CT" and first.SeriesDescription == "phantom"
    assert [float(v) for v in first.PixelSpacing] == [0.7, 0.7]
    assert [float(v) for v in first.ImageOrientationPatient] == [-1, 0, 0, 0, 1, 0]
    assert (float(first.RescaleSlope), float(first.RescaleIntercept)) == (1.0, -1024.0)
    assert first.PixelRepresentation == 0
    assert [ds.InstanceNumber for ds in datasets] == list(range(1, 13))


def test_uid_seed_makes_uids_reproducible(tmp_path, ct_volume):
    import pydicom

    uids = []
    for name in ("a", "b"):
        files = drive(write_dicom_series(ct_volume, tmp_path / name, uid_seed="sample-1"))
        uids.append([pydicom.dcmread(f).SOPInstanceUID for f in files])
    assert uids[0] == uids[1]
    other = drive(write_dicom_series(ct_volume, tmp_path / "c", uid_seed="sample-2"))
    assert pydicom.dcmread(other[0]).SOPInstanceUID != uids[0][0]


def test_wide_integer_range_is_stored_signed_and_exact(tmp_path, ct_volume):
    values = ct_volume.array.astype(np.int16)
    values[0, 0, :4] = (-3000, -2048, 20000, 32767)
    volume = ct_volume.with_array(values)
    encoded = stored_values(values)
    assert encoded.stored.dtype == np.int16 and encoded.intercept == 0
    assert np.array_equal(read_volume(write_volume(volume, tmp_path / "s")).array, values)


def test_float_values_are_scaled_within_half_a_step(tmp_path):
    rng = np.random.default_rng(4)
    values = rng.uniform(-0.3, 2.7, (3, 10, 12)).astype(np.float32)
    encoded = stored_values(values)
    assert encoded.max_error == pytest.approx(3.0 / 65535 / 2, rel=0.01)
    back = read_volume(write_volume(Volume(values), tmp_path / "s")).array
    assert back.dtype == np.float32
    assert np.max(np.abs(back - values)) <= encoded.max_error * 1.01


def test_left_handed_volume_reads_back_in_world_order(tmp_path, ct_volume):
    mirrored = Volume(ct_volume.array, ct_volume.spacing_xyz, ct_volume.origin_xyz,
                      np.diag([1.0, 1.0, -1.0]))          # z = -(x × y)
    back = read_volume(write_volume(mirrored, tmp_path / "s"))
    assert np.array_equal(back.array, ct_volume.array[::-1])
    assert np.allclose(back.voxel_to_world([11, 0, 0]), mirrored.voxel_to_world([0, 0, 0]))
    assert np.allclose(back.direction[:, 2], (0, 0, 1))


def test_rewriting_replaces_a_dicom_folder_but_never_other_files(tmp_path, ct_volume):
    folder = tmp_path / "series"
    write_volume(ct_volume, folder)
    write_volume(ct_volume.with_array(ct_volume.array + 1), folder)
    assert np.array_equal(read_volume(folder).array, ct_volume.array + 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]       # no temp folders
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("do not delete")
    with pytest.raises(InputError, match="^notes: holds files other than DICOM"):
        write_volume(ct_volume, notes, format="dicom")
    assert (notes / "thesis.txt").read_text() == "do not delete"


def test_stopping_half_way_leaves_nothing(tmp_path):
    volume = Volume(np.zeros((40, 4, 4), np.int16))
    task = write_dicom_series(volume, tmp_path / "s")
    next(task)
    task.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, message", [
    ({"compression": "zip"}, "unknown DICOM compression"),
])
def test_bad_options_are_input_errors(tmp_path, ct_volume, options, message):
    with pytest.raises(InputError, match=message):
        write_volume(ct_volume, tmp_path / "s", **options)


def test_nan_cannot_be_stored(tmp_path):
    with pytest.raises(InputError, match="NaN"):
        write_volume(Volume(np.full((2, 3, 3), np.nan, np.float32)), tmp_path / "s")
