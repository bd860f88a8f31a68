"""DICOM series reading: checked against SimpleITK's GDCM reader on every transfer syntax, sorted
by position whatever the file names and InstanceNumbers say, HU per slice, and a clear error or
warning for every way a folder can be wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress
from engines.imaging.dicom_read import read_dicom_series
from engines.imaging.volume import Volume
from engines.imaging.volume_io import list_series, read_volume, read_volume_task
from tests.engines.imaging.conftest import ct_phantom
from tests.engines.imaging.dicom_factory import JPEGLS, write_non_image, write_series, write_slice


def _sitk_series(folder: Path):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def _assert_matches_sitk(volume: Volume, image) -> None:
    import SimpleITK as sitk

    expected = sitk.GetArrayFromImage(image)
    assert volume.shape == expected.shape
    assert np.array_equal(volume.array, expected)
    assert np.allclose(volume.spacing_xyz, image.GetSpacing(), atol=1e-5)
    assert np.allclose(volume.origin_xyz, image.GetOrigin(), atol=1e-4)
    assert np.allclose(volume.direction, np.reshape(image.GetDirection(), (3, 3)), atol=1e-6)


@pytest.mark.parametrize("compression",
                         [None, "implicit", "rle", "jpeg2000", JPEGLS, "jpeg_lossless"])
def test_series_matches_simpleitk_for_every_transfer_syntax(tmp_path, ct_volume, compression):
    write_series(tmp_path / "ct", ct_volume, compression=compression)
    volume = read_volume(tmp_path / "ct")
    _assert_matches_sitk(volume, _sitk_series(tmp_path / "ct"))
    assert volume.array.dtype == np.int16
    assert np.array_equal(volume.array, ct_volume.array)
    assert np.allclose(volume.spacing_xyz, (0.7, 0.7, 2.5))
    assert np.allclose(volume.origin_xyz, ct_volume.origin_xyz)
    assert np.allclose(volume.direction, ct_volume.direction)
    assert volume.metadata["reader"] == "pydicom"
    assert volume.modality == "CT" and volume.metadata["warnings"] == []


def test_oblique_orientation_matches_simpleitk_and_slice_positions(tmp_path):
    a, b = np.deg2rad(25), np.deg2rad(-40)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    source = Volume(ct_phantom((6, 20, 24)), spacing_xyz=(0.8, 0.6, 3.0),
                    origin_xyz=(-30.0, 12.5, 98.0), direction=rz @ rx)
    files = write_series(tmp_path / "oblique", source)
    volume = read_volume(tmp_path / "oblique")
    _assert_matches_sitk(volume, _sitk_series(tmp_path / "oblique"))
    assert np.allclose(volume.direction, source.direction, atol=1e-6)
    assert np.allclose(volume.spacing_xyz, (0.8, 0.6, 3.0))
    import pydicom
    for k, path in enumerate(files):
        position = np.asarray(pydicom.dcmread(path).ImagePositionPatient, float)
        assert np.allclose(volume.voxel_to_world([k, 0, 0]), position, atol=1e-4)


def test_slices_are_sorted_by_position_not_file_name_or_instance_number(tmp_path, ct_volume):
    rng = np.random.default_rng(3)
    names = [f"{name}.dcm" for name in rng.permutation(12).astype(str)]
    numbers = [int(n) for n in rng.permutation(np.arange(1, 13))]   # lying InstanceNumbers
    write_series(tmp_path / "shuffled", ct_volume, names=names, instance_numbers=numbers)
    volume = read_volume(tmp_path / "shuffled")
    assert np.array_equal(volume.array, ct_volume.array)
    assert np.allclose(volume.origin_xyz, ct_volume.origin_xyz)


def test_hu_uses_each_slices_own_rescale(tmp_path, ct_volume):
    rescales = [(1.0, -1024.0), (2.0, -2048.0), (1.0, -1000.0)] * 4
    write_series(tmp_path / "ct", ct_volume, rescales=rescales)
    volume = read_volume(tmp_path / "ct")
    expected = ct_volume.array.astype(np.int64)
    expected[1::3] = np.rint((expected[1::3] + 2048) / 2) * 2 - 2048  # slope 2 halves precision
    assert volume.array.dtype == np.int16
    assert np.array_equal(volume.array, expected)
    assert "rescale varies" in " ".join(volume.metadata["warnings"])


def test_fractional_slope_gives_float32(tmp_path, ct_volume):
    write_series(tmp_path / "ct", ct_volume, rescales=[(0.5, -1024.0)] * 12)
    volume = read_volume(tmp_path / "ct")
    assert volume.array.dtype == np.float32
    assert np.array_equal(volume.array, ct_volume.array.astype(np.float32))


def test_values_beyond_int16_give_float32(tmp_path, ct_volume):
    values = ct_volume.array.astype(np.int64) + 30000     # up to 33 071: beyond int16
    source = ct_volume.with_array(values)
    write_series(tmp_path / "wide", source, rescales=[(1.0, 0.0)] * 12)
    volume = read_volume(tmp_path / "wide")
    assert volume.array.dtype == np.float32
    assert np.array_equal(volume.array, values)


def test_several_series_largest_by_default_and_chosen_by_uid(tmp_path, ct_volume):
    write_series(tmp_path / "mixed", ct_volume, series_uid="1.2.3.100")
    small = Volume(ct_phantom((5, 40, 48), seed=1), spacing_xyz=(0.7, 0.7, 2.5))
    write_series(tmp_path / "mixed", small, series_uid="1.2.3.200",
                 names=[f"b{k}.dcm" for k in range(5)])
    series = list_series(tmp_path / "mixed")
    assert [(s.uid, s.n_slices) for s in series] == [("1.2.3.100", 12), ("1.2.3.200", 5)]
    assert series[0].to_dict()["rows"] == 40
    largest = read_volume(tmp_path / "mixed")
    assert largest.shape == (12, 40, 48)
    assert any("2 series" in w and "1.2.3.200" in w for w in largest.metadata["warnings"])
    assert [s["uid"] for s in largest.metadata["series_in_folder"]] == ["1.2.3.100", "1.2.3.200"]
    chosen = read_volume(tmp_path / "mixed", series_uid="1.2.3.200")
    assert np.array_equal(chosen.array, small.array)
    with pytest.raises(InputError, match=r"no series 9\.9.*1\.2\.3\.100 \(12 slices\)"):
        read_volume(tmp_path / "mixed", series_uid="9.9")


def test_one_file_opens_its_own_series(tmp_path, ct_volume):
    write_series(tmp_path / "mixed", ct_volume, series_uid="1.2.3.100")
    small = Volume(ct_phantom((5, 40, 48), seed=1), spacing_xyz=(0.7, 0.7, 2.5))
    files = write_series(tmp_path / "mixed", small, series_uid="1.2.3.200",
                         names=[f"b{k}.dcm" for k in range(5)])
    assert read_volume(files[2]).shape == (5, 40, 48)


def test_spacing_comes_from_positions_not_slice_thickness(tmp_path, ct_volume):
    orientation = (*ct_volume.direction[:, 0], *ct_volume.direction[:, 1])
    for k in range(4):
        write_slice(tmp_path / f"s{k}.dcm", np.zeros((8, 8), np.uint16),
                    position=(0.0, 0.0, 1.25 * k), orientation=orientation,
                    pixel_spacing=(0.5, 0.5), series_uid="1.2", thickness=5.0)
    volume = read_volume(tmp_path)
    assert volume.spacing_xyz[2] == pytest.approx(1.25)
    assert volume.metadata["slice_thickness_mm"] == 5.0


def _moved(tmp_path: Path, ct_volume: Volume, move) -> Path:
    """Write the series, then rewrite slice files with positions changed by ``move(k, p)``."""
    import pydicom

    folder = tmp_path / "ct"
    for k, path in enumerate(write_series(folder, ct_volume)):
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [f"{v:.6f}" for v in
                                   move(k, np.asarray(ds.ImagePositionPatient, float))]
        ds.save_as(path)
    return folder


def test_missing_slice_is_an_input_error(tmp_path, ct_volume):
    write_series(tmp_path / "ct", ct_volume)
    (tmp_path / "ct" / "slice005.dcm").unlink()
    with pytest.raises(InputError, match=r"^ct: missing slices.*about 1 slice missing"):
        read_volume(tmp_path / "ct")


def test_uneven_spacing_is_an_input_error(tmp_path, ct_volume):
    folder = _moved(tmp_path, ct_volume, lambda k, p: p + (0, 0, -0.8) if k == 6 else p)
    with pytest.raises(InputError, match="uneven slice spacing"):
        read_volume(folder)


def test_slight_spacing_jitter_is_a_warning(tmp_path, ct_volume):
    jitter = np.array([0, 0.01, -0.005, 0.008, 0, -0.01, 0.004, 0, 0.006, -0.008, 0, 0])
    folder = _moved(tmp_path, ct_volume, lambda k, p: p + (0, 0, jitter[k]))
    volume = read_volume(folder)
    assert volume.spacing_xyz[2] == pytest.approx(2.5, abs=0.01)
    assert any("spacing varies" in w for w in volume.metadata["warnings"])


def test_in_plane_drift_is_a_warning(tmp_path, ct_volume):
    folder = _moved(tmp_path, ct_volume, lambda k, p: p + (0, 0.3 * k, 0))
    volume = read_volume(folder)
    assert any("gantry tilt" in w for w in volume.metadata["warnings"])


def test_two_slices_at_one_position_is_an_input_error(tmp_path, ct_volume):
    folder = _moved(tmp_path, ct_volume, lambda k, p: p + (0, 0, 2.5) if k == 4 else p)
    with pytest.raises(InputError, match="same position"):
        read_volume(folder)


def test_a_copied_file_is_read_once(tmp_path, ct_volume):
    write_series(tmp_path / "ct", ct_volume)
    shutil.copy(tmp_path / "ct" / "slice003.dcm", tmp_path / "ct" / "copy_of_slice003.dcm")
    volume = read_volume(tmp_path / "ct")
    assert np.array_equal(volume.array, ct_volume.array)
    assert any("duplicate" in w for w in volume.metadata["warnings"])


@pytest.mark.parametrize("change, message", [
    ({"stored": np.zeros((40, 40), np.uint16)}, "mixes slice widths"),
    ({"orientation": (0, 1, 0, 0, 0, -1)}, "mixes orientations"),
    ({"pixel_spacing": (0.9, 0.9)}, "mixes pixel spacings"),
])
def test_mixed_slices_are_an_input_error(tmp_path, ct_volume, change, message):
    write_series(tmp_path / "ct", ct_volume)
    arguments = {"stored": np.zeros((40, 48), np.uint16), "position": (0, 0, -1000.0),
                 "orientation": (-1, 0, 0, 0, 1, 0), "pixel_spacing": (0.7, 0.7),
                 "series_uid": "1.2.3.4.5", **change}
    write_slice(tmp_path / "ct" / "odd.dcm", **arguments)
    with pytest.raises(InputError, match=message):
        read_volume(tmp_path / "ct")


def test_non_image_objects_are_skipped_with_a_warning(tmp_path, ct_volume):
    write_series(tmp_path / "ct", ct_volume)
    write_non_image(tmp_path / "ct" / "report.dcm", "SR")
    write_non_image(tmp_path / "ct" / "contours.dcm", "RTSTRUCT")
    (tmp_path / "ct" / "README.txt").write_text("scanned on Tuesday")
    volume = read_volume(tmp_path / "ct")
    assert volume.shape == (12, 40, 48)
    warnings = " ".join(volume.metadata["warnings"])
    assert "DICOM without an image: SR" in warnings and "RTSTRUCT" in warnings
    assert "not DICOM" in warnings


def test_header_scan_never_reads_pixels_and_each_slice_is_read_once(tmp_path, ct_volume,
                                                                    monkeypatch):
    import pydicom

    write_series(tmp_path / "ct", ct_volume)
    calls = []
    original = pydicom.dcmread

    def counting(path, *args, **kwargs):
        calls.append((Path(path).name, bool(kwargs.get("stop_before_pixels"))))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", counting)
    list_series(tmp_path / "ct")
    assert len(calls) == 12 and all(header_only for _, header_only in calls)
    calls.clear()
    read_volume(tmp_path / "ct")
    full_reads = [name for name, header_only in calls if not header_only]
    assert sorted(full_reads) == sorted(f"slice{k:03d}.dcm" for k in range(12))


def test_reading_yields_progress(tmp_path):
    volume = Volume(ct_phantom((40, 8, 8)), spacing_xyz=(1.0, 1.0, 1.0))
    write_series(tmp_path / "ct", volume)
    task = read_volume_task(tmp_path / "ct")
    reports = []
    try:
        while True:
            reports.append(next(task))
    except StopIteration as stop:
        result = stop.value
    assert len(reports) >= 3 and all(isinstance(r, Progress) for r in reports)
    assert np.array_equal(result.array, volume.array)
    assert reports[-1].fraction <= 1.0


def test_slices_without_position_cannot_be_ordered(tmp_path, ct_volume):
    import pydicom

    for path in write_series(tmp_path / "ct", ct_volume)[:3]:
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path)
    with pytest.raises(InputError, match="cannot be ordered"):
        drive_read(tmp_path / "ct")


def test_a_photometric_interpretation_of_several_values_is_a_damaged_header(tmp_path, ct_volume):
    """A flipped bit made a backslash: pydicom's decoder then failed with a TypeError."""
    import pydicom

    paths = write_series(tmp_path / "ct", ct_volume)
    ds = pydicom.dcmread(paths[1])
    ds.PhotometricInterpretation = ["MONOCHROME2", "X"]
    ds.save_as(paths[1])
    with pytest.raises(InputError, match=rf"^{paths[1].name}: PhotometricInterpretation .* not "
                                         "one name"):
        drive_read(tmp_path / "ct")


def drive_read(folder: Path) -> Volume:
    from engines.core.progress import drive

    return drive(read_dicom_series(folder))


def test_a_single_slice_takes_its_thickness_or_one_mm(tmp_path):
    (tmp_path / "one").mkdir()
    write_slice(tmp_path / "one" / "a.dcm", np.full((6, 7), 1064, np.uint16),
                position=(5.0, 6.0, 7.0),
                orientation=(1, 0, 0, 0, 1, 0), pixel_spacing=(0.5, 0.4), series_uid="1.2",
                thickness=3.0)
    volume = read_volume(tmp_path / "one")
    assert volume.shape == (1, 6, 7) and volume.spacing_xyz == (0.4, 0.5, 3.0)
    assert volume.origin_xyz == (5.0, 6.0, 7.0) and int(volume.array.max()) == 40
    (tmp_path / "two").mkdir()
    write_slice(tmp_path / "two" / "a.dcm", np.zeros((6, 7), np.uint16), position=(0, 0, 0),
                orientation=(1, 0, 0, 0, 1, 0), pixel_spacing=(0.5, 0.4), series_uid="1.3")
    thin = read_volume(tmp_path / "two")
    assert thin.spacing_xyz[2] == 1.0
    assert any("1 mm assumed" in w for w in thin.metadata["warnings"])


def test_multi_frame_files_are_skipped_and_named_when_nothing_is_left(tmp_path, ct_volume):
    import pydicom

    path = write_series(tmp_path / "mf", ct_volume)[0]
    for other in sorted((tmp_path / "mf").iterdir())[1:]:
        other.unlink()
    ds = pydicom.dcmread(path)
    ds.NumberOfFrames = 2
    ds.save_as(path)
    with pytest.raises(InputError, match=r"^mf: no DICOM image to read \(1 × multi-frame"):
        read_volume(tmp_path / "mf")


def _header(name, position=(0.0, 0.0, 0.0), *, sop=None, rows=4, columns=5,
            orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), pixel_spacing=(0.5, 0.8),
            thickness=None, rescale=(1.0, -1024.0)):
    from engines.imaging.dicom_series import SliceHeader

    return SliceHeader(Path(name), "1.2", name if sop is None else sop, "CT", "", None, rows,
                       columns, position, orientation, pixel_spacing, thickness, rescale,
                       "1.2.840.10008.1.2.1")


def _stack(offsets, **changes):
    return [_header(f"s{k}.dcm", (0.0, 0.0, float(z)), **changes)
            for k, z in enumerate(offsets)]


def test_geometry_of_hand_made_headers_sorted_along_the_normal():
    from engines.imaging.dicom_read import series_geometry

    # rows along -x, columns along +z: the normal (row × column) is +y
    headers = [_header(f"h{k}.dcm", (3.0, 10.0 - 2.5 * k, -7.0), orientation=(-1, 0, 0, 0, 0, 1))
               for k in (2, 0, 1, 3)]
    geometry = series_geometry(Path("ct"), headers)
    assert [h.path.name for h in geometry.headers] == ["h3.dcm", "h2.dcm", "h1.dcm", "h0.dcm"]
    assert geometry.spacing_xyz == (0.8, 0.5, 2.5)
    assert geometry.origin_xyz == (3.0, 2.5, -7.0)
    np.testing.assert_allclose(geometry.direction, [[-1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert geometry.warnings == []
    skew = series_geometry(Path("ct"), _stack([0, 2], orientation=(1, 0, 0, 0.0009, 1, 0)))
    column = skew.direction[:, 1]
    assert abs(column @ skew.direction[:, 0]) < 1e-12 and np.linalg.norm(column) == \
        pytest.approx(1.0)


@pytest.mark.parametrize("changes, message", [
    ({"rows": 6}, r"^ct: the series mixes slice heights \(rows\): 4 in s0.dcm but 6 in s2.dcm$"),
    ({"columns": 6}, r"mixes slice widths \(columns\): 5 in s0.dcm but 6 in s2.dcm$"),
    ({"pixel_spacing": (0.5, 0.8002)}, r"mixes pixel spacings: \(0.5, 0.8\) in s0.dcm but"),
    ({"pixel_spacing": None}, r"mixes pixel spacings: \(0.5, 0.8\) in s0.dcm but None in s2"),
    ({"orientation": (1, 0, 0, 0, 0, 1)}, "mixes orientations"),
])
def test_a_slice_unlike_the_first_is_named(changes, message):
    from engines.imaging.dicom_read import series_geometry

    headers = _stack([0, 1, 2])
    headers[2] = _header("s2.dcm", (0.0, 0.0, 2.0), **changes)
    with pytest.raises(InputError, match=message):
        series_geometry(Path("ct"), headers)


def test_pixel_spacing_tolerance_and_defaults():
    from engines.imaging.dicom_read import series_geometry

    headers = _stack([0, 1, 2])
    headers[1] = _header("s1.dcm", (0.0, 0.0, 1.0), pixel_spacing=(0.50005, 0.8))
    assert series_geometry(Path("ct"), headers).spacing_xyz == (0.8, 0.5, 1.0)
    none = series_geometry(Path("ct"), _stack([0, 3], pixel_spacing=None))
    assert none.spacing_xyz == (1.0, 1.0, 3.0)
    assert none.warnings == ["ct: no PixelSpacing; 1 mm assumed"]
    with pytest.raises(InputError, match=r"^ct: PixelSpacing \(0.5, 0.0\) is not positive$"):
        series_geometry(Path("ct"), _stack([0, 3], pixel_spacing=(0.5, 0.0)))
    with pytest.raises(InputError, match="^ct: ImageOrientationPatient .* is not two "
                                         "orthogonal unit vectors$"):
        series_geometry(Path("ct"), _stack([0, 3], orientation=(1, 0, 0, 0, 1.01, 0)))
    with pytest.raises(InputError, match="orthogonal unit vectors"):
        series_geometry(Path("ct"), _stack([0, 3], orientation=(1.01, 0, 0, 0, 1, 0)))
    with pytest.raises(InputError, match="orthogonal unit vectors"):
        series_geometry(Path("ct"), _stack([0, 3], orientation=(1, 0, 0, 0.1, 0.995, 0)))


def test_slices_without_position_or_orientation():
    from engines.imaging.dicom_read import series_geometry

    headers = _stack([0, 1, 2])
    headers[1] = _header("s1.dcm", None)
    with pytest.raises(InputError, match="^ct: s1.dcm: no ImagePositionPatient/ImageOrientation"
                                         "Patient, so the slices cannot be ordered$"):
        series_geometry(Path("ct"), headers)
    with pytest.raises(InputError, match="^ct: s0.dcm: no ImagePositionPatient"):
        series_geometry(Path("ct"), _stack([0, 1], orientation=None))
    alone = series_geometry(Path("ct"), [_header("a.dcm", None, thickness=2.0)])
    assert alone.warnings == ["ct: the slice has no position; identity geometry assumed"]
    assert alone.origin_xyz == (0.0, 0.0, 0.0) and alone.spacing_xyz == (0.8, 0.5, 2.0)
    np.testing.assert_array_equal(alone.direction, np.eye(3))
    flat = series_geometry(Path("ct"), [_header("a.dcm", (1.0, 2.0, 3.0), thickness=0.0)])
    assert flat.spacing_xyz[2] == 1.0
    assert flat.warnings == ["ct: one slice without SliceThickness; 1 mm assumed"]


@pytest.mark.parametrize("offsets, message", [
    ([0, 2, 2.0005, 4, 4, 6], r"^ct: s1.dcm and s2.dcm lie at the same position \(2 such "
                              r"pairs\): several acquisitions in one series\?$"),
    ([0, 2, 4, 10, 12], r"^ct: missing slices: a gap of 6 mm between s2.dcm and s3.dcm where "
                        r"slices are 2 mm apart \(about 2 slices missing\)$"),
    ([0, 2, 4, 6, 10], r"about 1 slice missing\)$"),
    ([0, 2, 4, 6, 9], r"^ct: uneven slice spacing: 2 to 3 mm \(3 mm between s3.dcm and "
                      r"s4.dcm\)$"),
    ([0, 2, 4, 6.05, 8], r"^ct: uneven slice spacing: 1.95 to 2.05 mm"),
    ([0, 2, 4, 6, 8, 14.5], r"^ct: uneven slice spacing: 2 to 6.5 mm"),
])
def test_spacing_errors_name_the_slices(offsets, message):
    from engines.imaging.dicom_read import series_geometry

    with pytest.raises(InputError, match=message):
        series_geometry(Path("ct"), _stack(offsets))


def test_spacing_jitter_warns_and_drift_is_measured_in_the_plane():
    from engines.imaging.dicom_read import series_geometry

    exact = series_geometry(Path("ct"), _stack([0, 2, 4.0019, 6]))
    assert exact.warnings == [] and exact.spacing_xyz[2] == pytest.approx(2.0)
    jitter = series_geometry(Path("ct"), _stack([0, 2, 4.01, 6, 8]))
    assert jitter.warnings == ["ct: slice spacing varies by up to 0.5 % (1.99 to 2.01 mm); "
                               "the mean is used"]
    assert jitter.spacing_xyz[2] == pytest.approx(2.0)
    headers = [_header(f"s{k}.dcm", (0.002 * k, 0.0, 2.0 * k)) for k in range(3)]
    assert series_geometry(Path("ct"), headers).warnings == []  # 0.004 mm < 1 % of 0.5 mm
    headers = [_header(f"s{k}.dcm", (0.0, 0.003 * k, 2.0 * k)) for k in range(3)]
    assert series_geometry(Path("ct"), headers).warnings == [
        "ct: slice positions drift 0.006 mm within the slice plane over the stack (gantry "
        "tilt?); the geometry ignores it"]


def test_duplicates_and_integer_rescales():
    from engines.imaging.dicom_read import _drop_duplicates, _integer_rescale

    headers = [_header("a.dcm", sop="1"), _header("b.dcm", sop="2"), _header("c.dcm", sop="1"),
               _header("d.dcm", sop=""), _header("e.dcm", sop=""), _header("f.dcm", sop="1")]
    kept, notes = _drop_duplicates(headers)
    assert [h.path.name for h in kept] == ["a.dcm", "b.dcm", "d.dcm", "e.dcm"]
    assert notes == ["2 duplicate files of the same instance ignored"]
    kept, notes = _drop_duplicates(headers[:3])
    assert notes == ["1 duplicate file of the same instance ignored"] and len(kept) == 2
    assert _drop_duplicates(headers[:2]) == (headers[:2], [])
    assert _integer_rescale([_header("a", rescale=(2.0 ** 16, -2.0 ** 31)),
                             _header("b", rescale=(1, 0))])
    assert not _integer_rescale([_header("a", rescale=(1.0, 0.0)),
                                 _header("b", rescale=(0.5, 0.0))])
    assert not _integer_rescale([_header("a", rescale=(1.0, 0.5))])
    assert not _integer_rescale([_header("a", rescale=(2.0 ** 16 + 1, 0.0))])
    assert not _integer_rescale([_header("a", rescale=(1.0, 2.0 ** 31 + 1))])
