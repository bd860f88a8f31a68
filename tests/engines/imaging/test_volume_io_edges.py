"""Edge cases of the volume entry points: what mutation testing showed untested."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.imaging.volume import Volume
from engines.imaging.volume_io import (
    read_volume,
    read_volume_task,
    volume_format,
    volume_info,
    write_volume,
    write_volume_task,
)
from tests.engines.imaging.dicom_factory import write_non_image

#: columns x -> -y, y -> +x, z -> +z
TURNED = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _small(offset: int = 0, dtype=np.int16) -> Volume:
    array = (np.arange(3 * 4 * 5) * 3 - 20 + offset).astype(dtype).reshape(3, 4, 5)
    return Volume(array, spacing_xyz=(0.5, 0.75, 2.0), origin_xyz=(10.0, -20.5, 3.25),
                  direction=TURNED, modality="CT")


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name, kind", [
    ("a.nii", "nifti"), ("a.NII.GZ", "nifti"), ("a.mhd", "metaimage"), ("a.mha", "metaimage"),
    ("a.tif", "tiff"), ("a.TIFF", "tiff"), ("a.dcm", "dicom_file"), ("a.DICOM", "dicom_file"),
    ("a.ima", "dicom_file"), ("IM0001", "dicom_file"),
])
def test_format_of_a_file_by_its_suffix(tmp_path, name, kind):
    assert volume_format(_touch(tmp_path / name)) == kind
    assert volume_format(str(tmp_path / name)) == kind


def test_format_refusals_name_the_file(tmp_path):
    with pytest.raises(InputError, match=r"^a\.png: not a volume file: open a DICOM folder or "
                                         r"file, a TIFF stack \(\.tif, \.tiff or a folder of "
                                         r"them\), NIfTI \(\.nii, \.nii\.gz\) or MetaImage "
                                         r"\(\.mhd, \.mha\)$"):
        volume_format(_touch(tmp_path / "a.png"))
    with pytest.raises(InputError, match=r"^gone: no such file or folder$"):
        volume_format(tmp_path / "gone")


def test_format_of_folders(tmp_path):
    tiffs = tmp_path / "tiffs"
    _touch(tiffs / "s1.tif")
    _touch(tiffs / "S2.TIFF")
    _touch(tiffs / ".DS_Store")                   # hidden files do not count
    (tiffs / "sub.d").mkdir()                      # nor folders
    assert volume_format(tiffs) == "tiff_folder"
    _touch(tiffs / "notes.txt")
    assert volume_format(tiffs) == "dicom"         # anything else: read as DICOM
    (tmp_path / "empty").mkdir()
    assert volume_format(tmp_path / "empty") == "dicom"
    _touch(tmp_path / "deep" / "sub" / "s1.tif")   # TIFF slices must lie in the folder itself
    assert volume_format(tmp_path / "deep") == "dicom"
    _touch(tmp_path / "hidden" / ".s1.tif")
    assert volume_format(tmp_path / "hidden") == "dicom"


def test_one_dicom_file_reads_its_own_series_not_the_largest(tmp_path):
    folder = write_volume(_small(), tmp_path / "ct", uid_seed="a")
    big = Volume(np.zeros((5, 4, 5), np.int16))
    other = write_volume(big, tmp_path / "other", uid_seed="b")
    for path in other.iterdir():
        path.rename(folder / f"b_{path.name}")
    assert read_volume(folder).shape == (5, 4, 5)          # the folder: the largest
    one = sorted(p for p in folder.iterdir() if not p.name.startswith("b_"))[0]
    volume = read_volume(one)
    assert volume.shape == (3, 4, 5) and volume.array.tolist() == _small().array.tolist()
    big_uid = read_volume(folder).metadata["series_in_folder"][0]["uid"]
    assert read_volume(one, series_uid=big_uid).shape == (5, 4, 5)   # series_uid wins


def test_one_dicom_file_that_is_no_image(tmp_path):
    sr = write_non_image(_touch(tmp_path / "r" / "x").parent / "sr.dcm", "SR")
    with pytest.raises(InputError, match=r"^sr\.dcm: cannot be read as a DICOM image "
                                         r"\(DICOM without an image: SR\)$"):
        read_volume(sr)
    with pytest.raises(InputError, match=r"^notes: cannot be read as a DICOM image "
                                         r"\(not DICOM\)$"):
        read_volume(_touch(tmp_path / "notes", b"hello"))


@pytest.mark.parametrize("name", ["v.mha", "v.tif", "tiffs", "dicom"])
def test_non_finite_voxels_are_refused_in_every_format(tmp_path, name):
    array = np.zeros((3, 4, 5), np.float32)
    array[2, 1, 3] = np.nan
    volume = Volume(array, spacing_xyz=(0.5, 0.75, 2.0))
    if name == "tiffs":
        for k in range(3):
            write_volume(Volume(array[k:k + 1], spacing_xyz=(0.5, 0.75, 2.0)),
                         tmp_path / name / f"s{k}.tif")
    elif name == "dicom":   # a rescale slope of inf on stored zeros gives NaN
        import pydicom

        folder = write_volume(Volume(np.zeros((3, 4, 5), np.int16)), tmp_path / name)
        last = sorted(folder.iterdir())[-1]
        ds = pydicom.dcmread(last)
        ds.PixelData = np.full((4, 5), 7, np.uint16).tobytes()
        ds.RescaleSlope, ds.RescaleIntercept = "1e38", "-1e38"
        ds.save_as(last)
    else:
        write_volume(volume, tmp_path / name)
    with pytest.raises(InputError, match=r"holds NaN or infinite voxel values|NaN|infinite"):
        read_volume(tmp_path / name)


@pytest.mark.parametrize("name", ["v.tif", "tiffs"])
def test_tiff_without_a_voxel_size_takes_the_one_given(tmp_path, name):
    import tifffile

    array = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    if name == "tiffs":
        for k in range(2):
            _touch(tmp_path / name / "x").unlink()
            tifffile.imwrite(tmp_path / name / f"s{k}.tif", array[k])
    else:
        tifffile.imwrite(tmp_path / name, array)
    volume = read_volume(tmp_path / name, spacing_xyz=(0.3, 0.4, 1.5))
    assert volume.spacing_xyz == (0.3, 0.4, 1.5) and volume.array.tolist() == array.tolist()
    assert not [w for w in volume.metadata["warnings"] if "spacing_xyz" in w]


def test_a_given_spacing_that_differs_from_the_header_is_warned_about(tmp_path):
    path = write_volume(_small(), tmp_path / "v.mha")
    volume = read_volume(path, spacing_xyz=[0.5, 0.75, 2.5])
    assert volume.spacing_xyz == (0.5, 0.75, 2.0)
    assert volume.metadata["warnings"] == [
        "v.mha: the file's voxel size (0.5, 0.75, 2.0) is used; the spacing_xyz given, "
        "(0.5, 0.75, 2.5), is only for files without one"]
    close = read_volume(path, spacing_xyz=(0.5, 0.75, 2.0015))   # within 0.1 %
    assert close.metadata["warnings"] == []
    assert read_volume(path).metadata["warnings"] == []
    folder = write_volume(_small(), tmp_path / "ct")
    dicom = read_volume(folder, spacing_xyz=(1.0, 1.0, 1.0))
    assert any(w.startswith("ct: the file's voxel size") for w in dicom.metadata["warnings"])


def test_a_single_file_read_is_one_progress_step(tmp_path):
    path = write_volume(_small(), tmp_path / "v.nii")
    task = read_volume_task(path)
    step = next(task)
    assert isinstance(step, Progress) and (step.fraction, step.message) == (1.0, "read")
    with pytest.raises(StopIteration) as done:
        next(task)
    assert done.value.value.array.tolist() == _small().array.tolist()
    tif = read_volume_task(write_volume(_small(), tmp_path / "v.tif"))
    assert next(tif).message == "read"


@pytest.mark.parametrize("name, options, message", [
    ("v.nii", {"compression": True}, r"^nifti writing has no option compression; it takes "
                                     r"none$"),
    ("v.tif", {"quality": 3, "bits": 8}, r"^tiff writing has no option bits, quality; it "
                                         r"takes bigtiff, compression$"),
    ("v.mha", {"bigtiff": True}, r"^metaimage writing has no option bigtiff; it takes "
                                 r"compression$"),
    ("v.png", {}, r"^v\.png: cannot tell the format from the name: use \.nii, \.nii\.gz, "
                  r"\.mhd, \.mha, \.tif, a folder name \(DICOM\) or format=$"),
    ("v.mha", {"format": "nifti"}, r"^v\.mha: the name does not fit format='nifti'$"),
    ("v.nii", {"format": "metaimage"}, r"^v\.nii: the name does not fit format='metaimage'$"),
    ("v", {"format": "mhd"}, r"^unknown volume format 'mhd'; choose one of dicom, nifti, "
                             r"metaimage, tiff$"),
])
def test_write_refusals(tmp_path, name, options, message):
    with pytest.raises(InputError, match=message):
        write_volume(_small(), tmp_path / name, **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, options, kind", [
    ("V.TIF", {}, "tiff"), ("v.tiff", {"compression": "zlib"}, "tiff"),
    ("v.nii", {"format": "nifti"}, "nifti"), ("v.mha", {"format": "metaimage"}, "metaimage"),
    ("v.mhd", {"compression": True}, "metaimage"), ("ct", {}, "dicom"),
    ("ct.d", {"format": "dicom", "series_description": "x"}, "dicom"),
    ("stack.dat", {"format": "tiff"}, None),
])
def test_write_by_name_or_format(tmp_path, name, options, kind):
    task = write_volume_task(_small(), str(tmp_path / name), **options)
    reports = []
    path = drive(task, reports.append)
    assert path == tmp_path / name and path.exists()
    assert reports[-1].fraction == 1.0 and reports[-1].message == f"{name} written"
    if kind is not None:
        assert volume_format(path) == ("dicom" if kind == "dicom" else kind)
        assert read_volume(path).array.tolist() == _small().array.tolist()
    else:
        import tifffile

        assert tifffile.imread(path).tolist() == _small().array.tolist()


def test_volume_info_of_a_file_has_every_field(tmp_path):
    path = write_volume(_small(), tmp_path / "v.mha")
    info = volume_info(str(path), spacing_xyz=(1.0, 1.0, 1.0))
    assert info == {
        "path": str(path), "shape_zyx": [3, 4, 5], "spacing_mm_zyx": [2.0, 0.75, 0.5],
        "origin_mm_xyz": [10.0, -20.5, 3.25], "direction": TURNED.tolist(),
        "hu_min": -20.0, "hu_max": 157.0, "dtype": "int16", "modality": "",
        "series": [], "reader": "SimpleITK (MetaImageIO)",
        "warnings": ["v.mha: the file's voxel size (0.5, 0.75, 2.0) is used; the spacing_xyz "
                     "given, (1.0, 1.0, 1.0), is only for files without one"]}
    assert type(info["hu_min"]) is float and type(info["hu_max"]) is float


def test_volume_info_of_a_chosen_dicom_series(tmp_path):
    folder = write_volume(_small(), tmp_path / "ct", uid_seed="a")
    other = write_volume(Volume(np.zeros((5, 4, 5), np.int16)), tmp_path / "o", uid_seed="b")
    for path in other.iterdir():
        path.rename(folder / f"b_{path.name}")
    uids = [s["uid"] for s in volume_info(folder)["series"]]
    assert len(uids) == 2
    info = volume_info(folder, series_uid=uids[1])
    assert info["shape_zyx"] == [3, 4, 5] and info["modality"] == "CT"
    assert info["reader"] == "pydicom" and [s["slices"] for s in info["series"]] == [5, 3]
    assert info["hu_min"] == -20.0 and info["hu_max"] == 157.0


def test_write_options_reach_the_writer(tmp_path):
    import tifffile

    flat = Volume(np.zeros((4, 32, 32), np.int16), spacing_xyz=(0.5, 0.5, 1.0))
    packed = write_volume(flat, tmp_path / "z.tif", compression="zlib")
    with tifffile.TiffFile(packed) as tif:
        assert tif.pages[0].compression == 8 and not tif.is_bigtiff
    with tifffile.TiffFile(write_volume(flat, tmp_path / "b.tif", bigtiff=True)) as tif:
        assert tif.is_bigtiff and tif.pages[0].compression == 1
    write_volume(flat, tmp_path / "m.mhd", compression=True)
    assert (tmp_path / "m.zraw").exists() and not (tmp_path / "m.raw").exists()
    write_volume(flat, tmp_path / "n.mhd")
    assert (tmp_path / "n.raw").stat().st_size == 4 * 32 * 32 * 2
