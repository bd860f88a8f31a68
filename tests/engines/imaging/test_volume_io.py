"""The public entry points: dispatch on what the path is, every writer's file read back with its
geometry, ``volume_info`` for the CLI, and clear errors for names and options that do not fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.volume_io import (
    read_volume,
    read_volume_task,
    volume_format,
    volume_info,
    write_volume,
    write_volume_task,
)


@pytest.mark.parametrize("name", ["ct.nii", "ct.nii.gz", "ct.mhd", "ct.mha", "ct.tif", "ct"])
def test_every_writer_reads_back(tmp_path, ct_volume, name):
    path = write_volume(ct_volume, tmp_path / name)
    volume = read_volume(path)
    assert np.array_equal(volume.array, ct_volume.array)
    assert volume.spacing_xyz == pytest.approx(ct_volume.spacing_xyz)
    if name != "ct.tif":             # TIFF carries no origin or direction
        assert volume.origin_xyz == pytest.approx(ct_volume.origin_xyz)
        assert np.allclose(volume.direction, ct_volume.direction)
    assert volume.source == path and volume.metadata["reader"]


def test_format_dispatch(tmp_path, ct_volume):
    write_volume(ct_volume, tmp_path / "dicom")
    write_volume(ct_volume, tmp_path / "a.mha")
    (tmp_path / "tiffs").mkdir()
    write_volume(ct_volume, tmp_path / "tiffs" / "s1.tif")
    (tmp_path / "notes.txt").write_text("x")
    assert volume_format(tmp_path / "dicom") == "dicom"
    assert volume_format(tmp_path / "dicom" / "IM00001.dcm") == "dicom_file"
    assert volume_format(tmp_path / "tiffs") == "tiff_folder"
    assert volume_format(tmp_path / "tiffs" / "s1.tif") == "tiff"
    assert volume_format(tmp_path / "a.mha") == "metaimage"
    with pytest.raises(InputError, match=r"^notes\.txt: not a volume file"):
        volume_format(tmp_path / "notes.txt")
    with pytest.raises(InputError, match=r"^gone\.nii: no such file or folder"):
        read_volume(tmp_path / "gone.nii")


def test_volume_info_of_a_dicom_folder(tmp_path, ct_volume):
    folder = write_volume(ct_volume, tmp_path / "ct", series_description="phantom")
    info = volume_info(folder)
    json.dumps(info)                               # JSON-ready
    assert info["shape_zyx"] == [12, 40, 48]
    assert info["spacing_mm_zyx"] == pytest.approx([2.5, 0.7, 0.7])
    assert info["origin_mm_xyz"] == pytest.approx(list(ct_volume.origin_xyz))
    assert info["direction"] == ct_volume.direction.tolist()
    assert (info["hu_min"], info["hu_max"]) == (-1024.0, 3071.0)
    assert info["modality"] == "CT" and info["reader"] == "pydicom"
    assert [s["description"] for s in info["series"]] == ["phantom"]
    assert info["series"][0]["slices"] == 12


def test_volume_info_of_a_file(tmp_path, ct_volume):
    info = volume_info(write_volume(ct_volume, tmp_path / "ct.nii.gz"))
    assert info["series"] == [] and info["reader"] == "SimpleITK (NiftiImageIO)"
    assert info["dtype"] == "int16"


def test_spacing_argument_does_not_override_a_header(tmp_path, ct_volume):
    volume = read_volume(write_volume(ct_volume, tmp_path / "ct.mha"), spacing_xyz=(1, 1, 1))
    assert volume.spacing_xyz == ct_volume.spacing_xyz
    assert any("only for files without one" in w for w in volume.metadata["warnings"])


def test_tasks_yield_progress(tmp_path, ct_volume):
    writing = list(write_volume_task(ct_volume, tmp_path / "ct.nii"))
    reading = list(read_volume_task(tmp_path / "ct.nii"))
    assert writing and reading and reading[-1].fraction == 1.0


@pytest.mark.parametrize("name, options, message", [
    ("ct.png", {}, "cannot tell the format"),
    ("ct.nii", {"compression": True}, "nifti writing has no option compression"),
    ("ct.tif", {"quality": 3}, "tiff writing has no option quality"),
    ("ct.mhd", {"format": "nifti"}, "does not fit format='nifti'"),
    ("ct", {"format": "png"}, "unknown volume format 'png'"),
])
def test_write_errors(tmp_path, ct_volume, name, options, message):
    with pytest.raises(InputError, match=message):
        write_volume(ct_volume, tmp_path / name, **options)
