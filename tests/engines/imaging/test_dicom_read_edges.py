"""DICOM series reading at its edges: tolerances met exactly, the int16 range to the last value,
files without preamble or file meta, float pixel data, decoder choice, and the exact progress
reports and metadata of a read. Small hand-made headers and one- or two-slice files keep every
test well under a second."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.imaging import dicom_read
from engines.imaging.dicom_read import _choose_decoders, _decode, read_dicom_series, series_geometry
from engines.imaging.dicom_series import read_header
from engines.imaging.volume import Volume
from tests.engines.imaging.conftest import ct_phantom
from tests.engines.imaging.dicom_factory import write_series, write_slice
from tests.engines.imaging.test_dicom_read import _header, _stack

EXPLICIT, RLE, JPEG_LS = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80"
MPEG2 = "1.2.840.10008.1.2.4.100"
PIXELS = (np.arange(42).reshape(6, 7) * 3 + 5).astype(np.uint16)   # 6 rows × 7 columns


def _one(path: Path, stored=PIXELS, **changes) -> Path:
    arguments = {"position": (0.0, 0.0, 0.0), "orientation": (1, 0, 0, 0, 1, 0),
                 "pixel_spacing": (0.5, 0.4), "series_uid": "1.2", "thickness": 1.0, **changes}
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_slice(path, stored, **arguments)


# ---------------------------------------------------------------- geometry at its tolerances

def test_tolerances_met_exactly_pass():
    # two slices exactly 1e-3 mm apart are two positions, not one
    assert series_geometry(Path("ct"), _stack([0, 0.001])).spacing_xyz[2] == 0.001
    # a step 1 % off the median (101 vs 100 mm: exactly 0.01) warns, it is not refused
    edge = series_geometry(Path("ct"), _stack([0, 100, 200, 301, 400]))
    assert edge.warnings == ["ct: slice spacing varies by up to 1 % (99 to 101 mm); the mean "
                             "is used"]
    # a step 0.1 % off (1001 vs 1000 mm: exactly 0.001) passes silently
    assert series_geometry(Path("ct"), _stack([0, 1000, 2000, 3001, 4000])).warnings == []
    # in-plane drift of exactly 1 % of the smaller pixel spacing (0.005 mm of 0.5) is no tilt
    headers = [_header("a.dcm", (0.0, 0.0, 0.0)), _header("b.dcm", (0.005, 0.0, 2.0))]
    assert series_geometry(Path("ct"), headers).warnings == []
    # row · column exactly 1e-3 is still orthogonal enough; the column is made orthogonal
    skew = series_geometry(Path("ct"), _stack([0, 2], orientation=(1, 0, 0, 0.001, 1, 0)))
    np.testing.assert_array_equal(skew.direction, np.eye(3))


def test_spacing_warning_percent_and_range():
    jitter = series_geometry(Path("ct"), _stack([0, 100, 200, 300.9, 400]))
    assert jitter.warnings == ["ct: slice spacing varies by up to 0.9 % (99.1 to 100.9 mm); "
                               "the mean is used"]
    assert jitter.spacing_xyz[2] == 100.0


def test_nearly_unit_directions_are_normalised():
    geometry = series_geometry(Path("ct"), _stack([0, 3], orientation=(1.0009, 0, 0,
                                                                       0, 0.9992, 0)))
    np.testing.assert_array_equal(geometry.direction, np.eye(3))
    assert geometry.spacing_xyz == (0.8, 0.5, 3.0)


def test_a_thin_single_slice_keeps_its_thickness():
    thin = series_geometry(Path("ct"), [_header("a.dcm", (1.0, 2.0, 3.0), thickness=0.8)])
    assert thin.spacing_xyz == (0.8, 0.5, 0.8) and thin.warnings == []


def test_rows_one_apart_are_mixed_sizes():
    headers = _stack([0, 1, 2])
    headers[1] = _header("s1.dcm", (0.0, 0.0, 1.0), rows=5)
    with pytest.raises(InputError, match=r"^ct: the series mixes slice heights \(rows\): 4 in "
                                         r"s0.dcm but 5 in s1.dcm$"):
        series_geometry(Path("ct"), headers)


def test_pixel_spacing_tolerance_is_absolute_even_for_coarse_pixels():
    headers = _stack([0, 1], pixel_spacing=(50.0, 50.0))
    headers[1] = _header("s1.dcm", (0.0, 0.0, 1.0), pixel_spacing=(50.0003, 50.0))
    with pytest.raises(InputError, match=r"^ct: the series mixes pixel spacings: \(50.0, 50.0\) "
                                         r"in s0.dcm but \(50.0003, 50.0\) in s1.dcm$"):
        series_geometry(Path("ct"), headers)


def test_two_slices_at_one_position_are_named_in_folder_order():
    # 17 slices listed from the top down, two of them at 2 mm: the files are named in the order
    # the folder lists them (a stable sort), whatever the sorting algorithm does with ties
    offsets = [0, 2, 2, *range(4, 32, 2)][::-1]
    with pytest.raises(InputError, match=r"^ct: s14.dcm and s15.dcm lie at the same position "
                                         r"\(1 such pairs\)"):
        series_geometry(Path("ct"), _stack(offsets))


# ---------------------------------------------------------------- decoders

def test_decoder_choice_per_transfer_syntax(monkeypatch):
    headers = [dataclasses.replace(_header(f"{k}.dcm"), transfer_syntax=syntax)
               for k, syntax in enumerate([RLE, EXPLICIT, JPEG_LS, RLE])]
    assert _choose_decoders(Path("ct"), headers) == {EXPLICIT: "", JPEG_LS: "pylibjpeg",
                                                     RLE: "pydicom"}
    # a preferred plugin that is not installed leaves the choice to pydicom
    monkeypatch.setitem(dicom_read.PREFERRED_PLUGINS, RLE, "not-installed")
    assert _choose_decoders(Path("ct"), headers)[RLE] == ""


def test_an_unknown_transfer_syntax_names_its_first_file():
    headers = [_header("a.dcm"), dataclasses.replace(_header("b.dcm"), transfer_syntax="1.2.3.9"),
               dataclasses.replace(_header("c.dcm"), transfer_syntax="1.2.3.9")]
    with pytest.raises(InputError, match=r"^ct: b.dcm: pixel data in transfer syntax 1.2.3.9 "
                                         r"cannot be decoded here$"):
        _choose_decoders(Path("ct"), headers)


def test_a_series_in_a_syntax_without_decoder_is_an_input_error(tmp_path):
    import pydicom
    from pydicom.encaps import encapsulate

    path = _one(tmp_path / "ct" / "a.dcm")
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = MPEG2
    ds.PixelData = encapsulate([bytes(84)])
    ds["PixelData"].VR = "OB"
    ds.save_as(path)
    with pytest.raises(InputError, match=r"^ct: a.dcm: pixel data in transfer syntax MPEG2 Main "
                                         r"Profile / Main Level cannot be decoded here$"):
        drive(read_dicom_series(tmp_path / "ct"))


def test_the_chosen_plugin_decodes_each_slice(tmp_path, monkeypatch):
    import pydicom.pixels

    source = Volume(ct_phantom((2, 6, 7)), spacing_xyz=(0.4, 0.5, 2.0))
    write_series(tmp_path / "rle", source, compression="rle")
    plugins = []
    original = pydicom.pixels.pixel_array

    def spy(ds, **kwargs):
        plugins.append(kwargs.get("decoding_plugin", "(not given)"))
        return original(ds, **kwargs)

    monkeypatch.setattr(pydicom.pixels, "pixel_array", spy)
    volume = drive(read_dicom_series(tmp_path / "rle"))
    assert plugins == ["pydicom", "pydicom"]
    assert np.array_equal(volume.array, source.array)
    assert volume.metadata["transfer_syntaxes"] == ["RLE Lossless"]


# ---------------------------------------------------------------- one file's pixels

def test_a_file_without_preamble_or_file_meta_is_decoded_as_its_header_was_read(tmp_path):
    import pydicom

    ds = pydicom.dcmread(_one(tmp_path / "a.dcm"))
    bare = pydicom.Dataset()
    bare.update(ds)                                  # the data set alone: no meta, no preamble
    bare.save_as(tmp_path / "bare.dcm", enforce_file_format=False, implicit_vr=False,
                 little_endian=True)
    assert (tmp_path / "bare.dcm").read_bytes()[:2] == b"\x08\x00"
    header = read_header(tmp_path / "bare.dcm")
    np.testing.assert_array_equal(_decode(header, ""), PIXELS)


def test_the_files_own_transfer_syntax_wins_over_the_headers(tmp_path):
    path = _one(tmp_path / "a.dcm", compression="rle")
    header = dataclasses.replace(read_header(path), transfer_syntax=EXPLICIT)
    np.testing.assert_array_equal(_decode(header, ""), PIXELS)


def test_float_pixel_data_is_pixel_data(tmp_path):
    import pydicom

    ds = pydicom.dcmread(_one(tmp_path / "a.dcm"))
    del ds.PixelData
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    values = np.linspace(-1.5, 3.0, 42, dtype=np.float32).reshape(6, 7)
    ds.FloatPixelData = values.tobytes()
    ds.save_as(tmp_path / "f.dcm")
    np.testing.assert_array_equal(_decode(read_header(tmp_path / "f.dcm"), ""), values)


def test_damaged_pixel_data_is_named(tmp_path):
    import pydicom

    header = read_header(_one(tmp_path / "a.dcm"))
    ds = pydicom.dcmread(header.path)
    del ds.PixelData
    ds.save_as(tmp_path / "none.dcm")
    with pytest.raises(InputError, match=r"^none.dcm: no pixel data \(a truncated file\?\)$"):
        _decode(dataclasses.replace(header, path=tmp_path / "none.dcm"), "")
    ds.PixelData = PIXELS.tobytes()[:40]
    ds["PixelData"].VR = "OW"
    ds.save_as(tmp_path / "short.dcm")
    with pytest.raises(InputError, match=r"^short.dcm: not a readable DICOM file \(ValueError: "
                                         r"The number of bytes of pixel data is less than"):
        _decode(dataclasses.replace(header, path=tmp_path / "short.dcm"), "")
    with pytest.raises(InputError, match=r"^a.dcm: pixel data of shape \(6, 7\), expected "
                                         r"\(3, 7\)$"):
        _decode(dataclasses.replace(header, rows=3), "")


# ---------------------------------------------------------------- values, progress, metadata

@pytest.mark.parametrize("stored, intercept, dtype", [
    ([[0, 65535], [1, 2]], -32768.0, np.int16),     # -32768 and 32767: the int16 range ends
    ([[0, 1], [2, 3]], -32769.0, np.float32),       # -32769: one below it
    ([[65535, 0], [1, 2]], -32767.0, np.float32),   # 32768: one above it
])
def test_int16_holds_exactly_its_range(tmp_path, stored, intercept, dtype):
    stored = np.array(stored, np.uint16)
    _one(tmp_path / "ct" / "a.dcm", stored, intercept=intercept)
    volume = drive(read_dicom_series(tmp_path / "ct"))
    assert volume.array.dtype == dtype
    np.testing.assert_array_equal(volume.array[0], stored.astype(np.int64) + int(intercept))


def test_progress_reports_every_sixteenth_slice(tmp_path):
    write_series(tmp_path / "ct", Volume(ct_phantom((40, 6, 5)), spacing_xyz=(1.0, 1.0, 1.0)))
    reports: list[Progress] = []
    drive(read_dicom_series(tmp_path / "ct"), reports.append)
    assert [r.message for r in reports] == ["40 DICOM headers read", "slice 16/40",
                                            "slice 32/40"]
    assert [r.fraction for r in reports] == pytest.approx([0.05, 0.43, 0.81])


def test_metadata_of_a_two_slice_series(tmp_path):
    import pydicom

    folder = tmp_path / "two"
    for k, (slope, intercept) in enumerate([(1.0, -1000.0), (2.0, -1024.0)]):
        path = _one(folder / f"s{k}.dcm", position=(0.0, 0.0, 2.5 * k), slope=slope,
                    intercept=intercept, thickness=2.0)
        ds = pydicom.dcmread(path)
        ds.SeriesDescription, ds.SeriesNumber = "Thorax B30f", 7
        ds.save_as(path)
    volume = drive(read_dicom_series(folder))
    assert volume.rescale == (1.0, -1000.0) and volume.source == folder
    assert volume.modality == "CT"
    np.testing.assert_array_equal(volume.array, [PIXELS - 1000.0, 2.0 * PIXELS - 1024])
    assert volume.metadata == {
        "reader": "pydicom", "series_uid": "1.2", "study_uid": "1.2.826.0.1.3680043.8.498.1",
        "series_description": "Thorax B30f", "series_number": 7,
        "transfer_syntaxes": ["Explicit VR Little Endian"], "slice_thickness_mm": 2.0,
        "files": 2,
        "series_in_folder": [{"uid": "1.2", "description": "Thorax B30f", "modality": "CT",
                              "number": 7, "slices": 2, "rows": 6, "columns": 7}],
        "warnings": ["two: rescale varies between slices (2 different); applied per slice"]}
