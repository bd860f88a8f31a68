"""Edge cases of the DICOM folder scan (headers only): what mutation testing showed untested."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.dicom_series import (
    FolderScan,
    SeriesInfo,
    SliceHeader,
    _int_or_none,
    _looks_like_dicom,
    _number,
    _whole,
    choose_series,
    folder_files,
    group_series,
    read_header,
    scan_folder,
)
from tests.engines.imaging.dicom_factory import write_non_image, write_slice

_ORIENT = (1, 0, 0, 0, 1, 0)


def _slice(path: Path, *, series_uid: str = "1.2.7", rows: int = 3, columns: int = 4,
           **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = np.arange(rows * columns, dtype=np.uint16).reshape(rows, columns)
    return write_slice(path, stored, position=(1.5, -2.0, 7.25), orientation=_ORIENT,
                       pixel_spacing=(0.5, 0.75), series_uid=series_uid, **options)


def _edit(path: Path, **changes) -> Path:
    """Rewrite ``path`` with attributes set (value None: deleted)."""
    import pydicom

    ds = pydicom.dcmread(path)
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(path)
    return path


class _Ds(dict):
    """The little of a pydicom Dataset ``_number`` and ``_whole`` use."""

    filename = "/x/a.dcm"


def _h(name: str, uid: str, number: int | None = None, *, description: str = "",
       modality: str = "CT", rows: int = 3, columns: int = 4) -> SliceHeader:
    return SliceHeader(Path(name), uid, name, modality, description, number, rows, columns,
                       None, None, None, None, (1.0, 0.0), "1.2.840.10008.1.2.1")


# -- small pieces ---------------------------------------------------------------------------

def test_skipped_files_are_one_warning_line_per_reason_sorted_and_counted():
    scan = FolderScan(Path("/data/ct"), [], Counter({"not DICOM": 2, "DICOM without an image: SR": 1}))
    assert scan.warnings() == ["ct: skipped 1 file (DICOM without an image: SR)",
                               "ct: skipped 2 files (not DICOM)"]
    assert FolderScan(Path("ct"), []).warnings() == []


def test_series_info_counts_its_files_and_summarises_without_them():
    info = SeriesInfo("1.2", "lung", "CT", 4, 3, 5, (Path("a"), Path("b")))
    assert info.n_slices == 2
    assert info.to_dict() == {"uid": "1.2", "description": "lung", "modality": "CT",
                              "number": 4, "slices": 2, "rows": 3, "columns": 5}
    assert "files" not in repr(info)


def test_folder_files_skip_hidden_names_at_any_depth_and_are_sorted(tmp_path):
    for name in ("b", "a", "sub/c", "sub/.d", ".hid/e", "~lock", "sub/~f", "z~"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty_dir").mkdir()
    assert folder_files(tmp_path) == [tmp_path / n for n in ("a", "b", "sub/c", "z~")]


def test_hidden_parent_of_the_folder_itself_does_not_hide_its_files(tmp_path):
    (tmp_path / ".cache" / "ct").mkdir(parents=True)
    (tmp_path / ".cache" / "ct" / "a").write_bytes(b"x")
    assert folder_files(tmp_path / ".cache" / "ct") == [tmp_path / ".cache" / "ct" / "a"]


@pytest.mark.parametrize("head, expected", [
    (b"\0" * 128 + b"DICM" + b"\x02\x00", (True, True)),
    (b"\0" * 128 + b"DICM", (True, True)),
    (b"\0" * 128 + b"DICX", (False, False)),
    (b"\0" * 127 + b"DICM", (False, False)),   # 131 bytes: too short for the prefix
    (b"\x02\x00\x00\x00UL\x04\x00", (True, False)),
    (b"\x08\x00\x05\x00CS\x0a\x00", (True, False)),
    (b"\x08\x00\x05\x00CS\x0a", (False, False)),  # 7 bytes: not even one element
    (b"\x10\x00\x10\x00PN\x04\x00", (False, False)),
    (b"\x00\x08\x00\x05CS\x0a\x00", (False, False)),
    (b"\x02\x08\x00\x00UL\x04\x00", (False, False)),
])
def test_dicom_is_recognised_by_prefix_or_first_group(tmp_path, head, expected):
    path = tmp_path / "f"
    path.write_bytes(head)
    assert _looks_like_dicom(path) == expected


def test_numbers_of_one_attribute_are_counted_and_converted():
    ds = _Ds(PixelSpacing=["0.5", "0.75"], Rows=3, Empty="", Slope="1.5",
             Text=["a", "b"], Blob=[b"x"], Cols=7.0)
    assert _number(ds, "Missing", 1) is None and _number(ds, "Empty", 1) is None
    assert _number(ds, "PixelSpacing", 2) == (0.5, 0.75)
    assert _number(ds, "Slope", 1) == (1.5,) and _number(ds, "Rows", 1) == (3.0,)
    assert _number(_Ds(T=("1", "2", "3")), "T", 3) == (1.0, 2.0, 3.0)
    with pytest.raises(InputError, match=r"^a\.dcm: PixelSpacing has 2 values, expected 3$"):
        _number(ds, "PixelSpacing", 3)
    with pytest.raises(InputError, match=r"^a\.dcm: Rows has 1 values, expected 2$"):
        _number(ds, "Rows", 2)
    with pytest.raises(InputError, match=r"^a\.dcm: Text is not numeric \(\['a', 'b'\]\)$"):
        _number(ds, "Text", 2)
    with pytest.raises(InputError, match=r"^a\.dcm: Blob is not numeric"):
        _number(_Ds(Blob=[None]), "Blob", 1)
    assert _whole(ds, "Rows") == 3 and _whole(ds, "Cols") == 7
    assert isinstance(_whole(ds, "Cols"), int)


@pytest.mark.parametrize("value", [None, "", 2.5, float("inf"), float("nan")])
def test_whole_numbers_refuse_fractions_infinities_and_absence(value):
    ds = _Ds(Rows=value)
    with pytest.raises(InputError, match=rf"^a\.dcm: Rows is not a whole number \({value}\)$"):
        _whole(ds, "Rows")


def test_int_or_none_keeps_what_int_takes():
    assert _int_or_none(None) is None and _int_or_none("") is None
    assert _int_or_none("7") == 7 and _int_or_none(3.9) == 3 and _int_or_none(0) == 0
    assert _int_or_none("x") is None and _int_or_none([1]) is None


# -- one file's header -----------------------------------------------------------------------

def test_header_of_a_slice_has_every_field(tmp_path):
    path = _slice(tmp_path / "a.dcm", slope=2.5, intercept=-1000.0, thickness=1.25,
                  sop_uid="1.2.7.1")
    _edit(path, SeriesDescription="chest", SeriesNumber="12")
    header = read_header(path)
    assert header == SliceHeader(
        path=path, series_uid="1.2.7", sop_uid="1.2.7.1", modality="CT", description="chest",
        series_number=12, rows=3, columns=4, position=(1.5, -2.0, 7.25),
        orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0), pixel_spacing=(0.5, 0.75),
        slice_thickness=1.25, rescale=(2.5, -1000.0), transfer_syntax="1.2.840.10008.1.2.1",
        study_uid="1.2.826.0.1.3680043.8.498.1")


def test_absent_optional_attributes_have_their_defaults(tmp_path):
    path = _slice(tmp_path / "a.dcm")
    _edit(path, RescaleSlope=None, RescaleIntercept=None, PixelSpacing=None,
          ImagePositionPatient=None, ImageOrientationPatient=None, Modality=None,
          StudyInstanceUID=None, SeriesInstanceUID=None)
    header = read_header(path)
    assert header.rescale == (1.0, 0.0)
    assert header.position is None and header.orientation is None
    assert header.pixel_spacing is None and header.slice_thickness is None
    assert header.series_number is None
    assert (header.modality, header.study_uid, header.series_uid, header.description) == \
        ("", "", "", "")


def test_only_the_slope_or_only_the_intercept(tmp_path):
    path = _slice(tmp_path / "a.dcm", slope=3.0, intercept=-5.0)
    _edit(path, RescaleIntercept=None)
    assert read_header(path).rescale == (3.0, 0.0)
    path = _slice(tmp_path / "b.dcm", slope=3.0, intercept=-5.0)
    _edit(path, RescaleSlope=None)
    assert read_header(path).rescale == (1.0, -5.0)


def test_a_file_without_the_preamble_is_read(tmp_path):
    import pydicom

    path = _slice(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    ds.preamble = None
    ds.save_as(tmp_path / "raw.dcm", enforce_file_format=False)
    assert (tmp_path / "raw.dcm").read_bytes()[:2] == b"\x02\x00"
    header = read_header(tmp_path / "raw.dcm")
    assert header.rows == 3 and header.columns == 4 and header.series_uid == "1.2.7"


def test_implicit_syntax_is_kept(tmp_path):
    path = _slice(tmp_path / "a.dcm", compression="implicit")
    assert read_header(path).transfer_syntax == "1.2.840.10008.1.2"


def test_not_dicom_and_non_images_give_the_reason_to_skip(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image at all, no DICM prefix here" * 5)
    assert read_header(tmp_path / "notes.txt") == "not DICOM"
    sr = write_non_image(tmp_path / "sr.dcm", "SR")
    assert read_header(sr) == "DICOM without an image: SR"
    _edit(sr, Modality=None)
    assert read_header(sr) == "DICOM without an image: no modality"


@pytest.mark.parametrize("missing", ["Rows", "Columns", "BitsAllocated"])
def test_an_image_without_its_size_is_no_image(tmp_path, missing):
    path = _edit(_slice(tmp_path / "a.dcm"), **{missing: None})
    assert read_header(path) == "DICOM without an image: CT"


def test_multi_frame_and_colour_files_are_skipped(tmp_path):
    path = _edit(_slice(tmp_path / "a.dcm"), NumberOfFrames="2")
    assert read_header(path) == "multi-frame (enhanced) DICOM, not read as a slice series"
    one = _edit(_slice(tmp_path / "b.dcm"), NumberOfFrames="1")
    assert read_header(one).rows == 3
    colour = _edit(_slice(tmp_path / "c.dcm"), SamplesPerPixel=3)
    assert read_header(colour) == "colour DICOM image, not a greyscale slice"
    absent = _edit(_slice(tmp_path / "d.dcm"), NumberOfFrames="")
    assert read_header(absent).rows == 3


@pytest.mark.parametrize("keyword", ["BitsStored", "PixelRepresentation", "SamplesPerPixel",
                                     "HighBit", "NumberOfFrames"])
def test_decoder_numbers_must_be_whole(tmp_path, keyword):
    import pydicom

    path = _slice(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    ds.add_new(pydicom.datadict.tag_for_keyword(keyword), "DS", "1.5")
    ds.save_as(path)
    with pytest.raises(InputError, match=rf"^a\.dcm: {keyword} is not a whole number"):
        read_header(path)


def test_missing_image_pixel_attributes_are_listed(tmp_path):
    path = _edit(_slice(tmp_path / "a.dcm"), BitsStored=None, PhotometricInterpretation=None)
    with pytest.raises(InputError, match=r"^a\.dcm: an image without BitsStored, "
                                         r"PhotometricInterpretation \(damaged header\)$"):
        read_header(path)
    path = _edit(_slice(tmp_path / "b.dcm"), SamplesPerPixel=None)
    with pytest.raises(InputError, match=r"^b\.dcm: an image without SamplesPerPixel \(dam"):
        read_header(path)


def test_photometric_of_several_values_is_refused(tmp_path):
    path = _edit(_slice(tmp_path / "a.dcm"), PhotometricInterpretation=["MONOCHROME2", "X"])
    with pytest.raises(InputError, match=r"^a\.dcm: PhotometricInterpretation \"\['MONOCHROME2'"
                                         r", 'X'\]\" is not one name \(damaged header\)$"):
        read_header(path)


def test_declared_pixels_must_fit_a_native_file_but_not_a_compressed_one(tmp_path):
    # 3 × 4 × 16 bits = 24 bytes fit; 400 × 400 × 2 = 320 kB do not fit a file of < 1 kB
    path = _edit(_slice(tmp_path / "a.dcm"), Rows=400, Columns=400)
    with pytest.raises(InputError, match=r"^a\.dcm: the header of the pixel data declares"):
        read_header(path)
    rle = _edit(_slice(tmp_path / "b.dcm", compression="rle"), Rows=40, Columns=40)
    assert read_header(rle).rows == 40
    # BitsAllocated 0 counts as 1 bit per pixel: 30 × 30 / 8 = 112 bytes fit, 300 × 300 not
    tiny = _edit(_slice(tmp_path / "c.dcm"), BitsAllocated=0, Rows=30, Columns=30)
    assert read_header(tiny).columns == 30
    big = _edit(_slice(tmp_path / "d.dcm"), BitsAllocated=0, Rows=300, Columns=300)
    with pytest.raises(InputError, match=r"declares"):
        read_header(big)


def test_rescale_must_be_finite_as_float32(tmp_path):
    path = _slice(tmp_path / "a.dcm", slope=1e39)
    with pytest.raises(InputError, match=r"^a\.dcm: RescaleSlope: value"):
        read_header(path)
    path = _slice(tmp_path / "b.dcm", intercept=-1e39)
    with pytest.raises(InputError, match=r"^b\.dcm: RescaleIntercept: value"):
        read_header(path)


# -- folders and series ---------------------------------------------------------------------

def test_scan_folder_refusals(tmp_path):
    with pytest.raises(InputError, match=r"^nothing: is not a folder$"):
        scan_folder(tmp_path / "nothing")
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden" / "x").write_bytes(b"x")
    with pytest.raises(InputError, match=r"^empty: the folder is empty$"):
        scan_folder(tmp_path / "empty")
    (tmp_path / "text").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / "text" / name).write_text("hello")
    with pytest.raises(InputError, match=r"^text: none of its 2 files is DICOM$"):
        scan_folder(str(tmp_path / "text"))
    write_non_image(tmp_path / "text" / "sr.dcm", "SR")
    write_non_image(tmp_path / "text" / "rt.dcm", "RTSTRUCT")
    with pytest.raises(InputError, match=r"^text: no DICOM image to read \(1 × DICOM without "
                                         r"an image: RTSTRUCT, 1 × DICOM without an image: "
                                         r"SR, 2 × not DICOM\)$"):
        scan_folder(tmp_path / "text")


def test_scan_folder_keeps_images_and_counts_the_rest(tmp_path):
    folder = tmp_path / "mixed"
    _slice(folder / "b.dcm")
    _slice(folder / "sub" / "a.dcm")
    (folder / "readme.txt").write_text("hello")
    write_non_image(folder / "sr.dcm", "SR")
    scan = scan_folder(folder)
    assert scan.folder == folder
    assert [h.path.name for h in scan.headers] == ["b.dcm", "a.dcm"]
    assert scan.skipped == Counter({"not DICOM": 1, "DICOM without an image: SR": 1})


def test_group_series_largest_first_then_lower_number_then_uid():
    headers = [_h("a", "9", 5, description="first", modality="MR", rows=6, columns=7),
               _h("b", "3", None), _h("c", "9", 1, description="second"),
               _h("d", "2", None), _h("e", "4", 2), _h("f", "5", 1), _h("g", "7", 10**9)]
    series = group_series(headers)   # no SeriesNumber counts as 10⁹: ties with g, by uid
    assert [s.uid for s in series] == ["9", "5", "4", "2", "3", "7"]
    first = series[0]
    assert (first.description, first.modality, first.number, first.rows, first.columns) == \
        ("first", "MR", 5, 6, 7)
    assert first.files == (Path("a"), Path("c"))
    assert series[4].files == (Path("b"),) and series[4].number is None
    assert group_series([]) == []


def test_choose_series_default_warns_about_the_others():
    headers = [_h("a", "1.1", 1), _h("b", "2.2", 2), _h("c", "2.2", 2), _h("d", "3.3", 3)]
    scan = FolderScan(Path("/x/ct"), headers, Counter({"not DICOM": 1}))
    chosen, warnings = choose_series(scan, None)
    assert [h.path.name for h in chosen] == ["b", "c"]
    assert warnings == ["ct: skipped 1 file (not DICOM)",
                        "ct: 3 series in the folder; read the largest, 2.2 (2 slices); others: "
                        "1.1 (1 slices); 3.3 (1 slices)"]
    chosen, warnings = choose_series(scan, "3.3")
    assert [h.path.name for h in chosen] == ["d"] and warnings == ["ct: skipped 1 file (not DICOM)"]
    with pytest.raises(InputError, match=r"^ct: no series 4\.4; it holds 2\.2 \(2 slices\), "
                                         r"1\.1 \(1 slices\), 3\.3 \(1 slices\)$"):
        choose_series(scan, "4.4")


def test_one_series_gives_no_choice_warning():
    scan = FolderScan(Path("ct"), [_h("a", "1.1"), _h("b", "1.1")])
    chosen, warnings = choose_series(scan, None)
    assert [h.path.name for h in chosen] == ["a", "b"] and warnings == []


def test_a_damaged_header_after_the_prefix_is_a_named_error(tmp_path):
    path = tmp_path / "bad.dcm"
    # a sequence of undefined length whose item ends the file
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"
                     + b"\x08\x00\x15\x11SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\x10\0\0\0")
    with pytest.raises(InputError, match=r"^bad\.dcm: not a readable DICOM file \("):
        read_header(path)


def test_large_values_before_the_pixels_are_not_read(tmp_path):
    """Listing a folder reads headers only: an 8 MB private value is deferred, not loaded."""
    import tracemalloc

    import pydicom

    path = _slice(tmp_path / "a.dcm")
    ds = pydicom.dcmread(path)
    ds.private_block(0x0009, "LabLens test", create=True).add_new(0x01, "OB", b"\1" * 2**23)
    ds.save_as(path)
    assert path.stat().st_size > 2**23
    tracemalloc.start()
    try:
        header = read_header(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert header.rows == 3 and peak < 2**21, f"{peak / 2**20:.1f} MiB"


def test_a_long_photometric_is_quoted_to_40_characters(tmp_path):
    path = _edit(_slice(tmp_path / "a.dcm"),
                 PhotometricInterpretation=["MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL"])
    # str(value) is "['MONOCHROME2', 'PALETTE COLOR', 'RGB', 'YBR_FULL']"; its first 40 are kept
    with pytest.raises(InputError, match=r"^a\.dcm: PhotometricInterpretation \"\['MONOCHROME2', "
                                         r"'PALETTE COLOR', 'RGB', \" is not one name"):
        read_header(path)


def test_one_bit_per_pixel_is_counted_as_one_eighth_of_a_byte(tmp_path):
    path = _edit(_slice(tmp_path / "a.dcm"), BitsAllocated=1)
    size = path.stat().st_size
    _edit(path, Rows=6, Columns=size)        # 6 × size bits = 0.75 × size bytes: fits
    assert path.stat().st_size == size and read_header(path).columns == size
    zero = _edit(_slice(tmp_path / "b.dcm"), BitsAllocated=0)
    _edit(zero, Rows=6, Columns=size)        # 0 bits counts as 1
    assert read_header(zero).rows == 6
    _edit(zero, Rows=11)                     # 11 × size bits: more than the file
    with pytest.raises(InputError, match=r"^b\.dcm: the header of the pixel data declares"):
        read_header(zero)


def test_a_slice_without_instance_uid_has_an_empty_one(tmp_path):
    path = _edit(_slice(tmp_path / "a.dcm"), SOPInstanceUID=None)
    header = read_header(path)
    assert header.sop_uid == "" and header.description == "" and header.rows == 3
