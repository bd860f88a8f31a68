"""Hostile and broken inputs: each is an InputError whose message starts with the file (or
folder) name, raised without allocating what a lying header declares and without hanging."""

from __future__ import annotations

import gzip
import struct
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.imaging.volume import Volume
from engines.imaging.volume_io import list_series, read_volume, write_volume
from tests.engines.imaging.dicom_factory import write_non_image

SMALL = Volume((np.arange(4 * 64 * 64) % 3000).astype(np.int16).reshape(4, 64, 64) - 500,
               spacing_xyz=(0.7, 0.7, 2.5))
RANDOM = np.random.default_rng(11).integers(0, 256, 3000, dtype=np.uint8).tobytes()


def _cut(path: Path, keep: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    return path


def _dicom_cut(tmp: Path, compression: str | None, cut: int) -> Path:
    folder = write_volume(SMALL, tmp / "series", compression=compression)
    _cut(folder / "IM00004.dcm", -cut)
    return folder


def _dicom_huge(tmp: Path, compression: str | None) -> Path:
    import pydicom

    folder = write_volume(SMALL, tmp / "series", compression=compression)
    ds = pydicom.dcmread(folder / "IM00002.dcm")
    ds.Rows = ds.Columns = 65535
    ds.save_as(folder / "IM00002.dcm")
    return folder


def _mhd(tmp: Path, lines: list[str], data: bytes | None = b"\0" * 10,
         data_name: str = "v.raw") -> Path:
    text = ["ObjectType = Image", "BinaryData = True", *lines]
    (tmp / "v.mhd").write_text("\n".join(text) + "\n")
    if data is not None:
        (tmp / data_name).write_bytes(data)
    return tmp / "v.mhd"


def _nifti_header(shape: tuple[int, ...]) -> bytes:
    import nibabel

    header = nibabel.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header.set_data_offset(352)
    return header.binaryblock + b"\0" * 4 + b"\1" * 64


def _tiff_huge(tmp: Path) -> Path:
    """A classic TIFF whose one strip of 16 bytes claims to be 100 000 × 100 000 × 16 bit."""
    entries = [(256, 4, 100_000), (257, 4, 100_000), (258, 3, 16), (259, 3, 1), (262, 3, 1),
               (273, 4, 8 + 2 + 10 * 12 + 4), (277, 3, 1), (278, 4, 100_000), (279, 4, 16),
               (284, 3, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII" if kind == 4 else "<HHIHxx", tag, kind, 1, value)
        for tag, kind, value in entries) + struct.pack("<I", 0)
    path = tmp / "huge.tif"
    path.write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + b"\1" * 16)
    return path


def _tiff_mixed(tmp: Path) -> Path:
    import tifffile

    with tifffile.TiffWriter(tmp / "mixed.tif") as tif:
        tif.write(np.zeros((8, 8), np.uint16), photometric="minisblack")
        tif.write(np.zeros((9, 8), np.uint16), photometric="minisblack")
    return tmp / "mixed.tif"


def _text_folder(tmp: Path) -> Path:
    folder = tmp / "texts"
    folder.mkdir()
    for name in ("a.txt", "b.csv", "c"):
        (folder / name).write_text("not an image\n" * 5)
    return folder


def _non_image_folder(tmp: Path) -> Path:
    folder = tmp / "reports"
    folder.mkdir()
    write_non_image(folder / "sr.dcm", "SR")
    write_non_image(folder / "rt.dcm", "RTSTRUCT")
    return folder


def _file(tmp: Path, name: str, data: bytes) -> Path:
    (tmp / name).write_bytes(data)
    return tmp / name


CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # case: (make the input, name the message starts with, words in the message)
    "dicom pixel data cut by 4 kB": (lambda t: _dicom_cut(t, None, 4000), "IM00004.dcm",
                                     "declares 8,192 bytes"),
    "dicom pixel data cut by 100 B": (lambda t: _dicom_cut(t, None, 100), "IM00004.dcm",
                                      "less than expected"),
    "dicom RLE cut": (lambda t: _dicom_cut(t, "rle", 60), "IM00004.dcm", "no pixel data"),
    "dicom JPEG 2000 cut": (lambda t: _dicom_cut(t, "jpeg2000", 200), "IM00004.dcm",
                            "no pixel data"),
    "dicom Rows/Columns 65535": (lambda t: _dicom_huge(t, None), "IM00002.dcm",
                                 "declares 8,589,672,450 bytes"),
    "dicom RLE Rows/Columns 65535": (lambda t: _dicom_huge(t, "rle"), "IM00002.dcm",
                                     "more than the"),
    "mhd 10⁹ voxels": (lambda t: _mhd(t, ["NDims = 3", "DimSize = 1000 1000 1000",
                                          "ElementType = MET_UCHAR", "ElementDataFile = v.raw"]),
                       "v.mhd", "declares 1,000,000,000 bytes"),
    "mhd 10⁹ voxels compressed": (
        lambda t: _mhd(t, ["NDims = 3", "DimSize = 1000 1000 1000", "CompressedData = True",
                           "ElementType = MET_FLOAT", "ElementDataFile = v.zraw"],
                       data_name="v.zraw"), "v.mhd", "even at the best compression ratio"),
    "mhd missing data file": (lambda t: _mhd(t, ["NDims = 3", "DimSize = 2 2 2",
                                                 "ElementType = MET_UCHAR",
                                                 "ElementDataFile = elsewhere.raw"]),
                              "v.mhd", "elsewhere.raw is missing"),
    "mhd no ElementDataFile": (lambda t: _mhd(t, ["NDims = 3", "DimSize = 2 2 2"]), "v.mhd",
                               "no ElementDataFile"),
    "mhd unknown element type": (lambda t: _mhd(t, ["NDims = 3", "DimSize = 2 2 2",
                                                    "ElementType = MET_QUATERNION",
                                                    "ElementDataFile = v.raw"]),
                                 "v.mhd", "unknown ElementType"),
    "mha cut": (lambda t: _cut(write_volume(SMALL, t / "v.mha"), 600), "v.mha",
                "declares 32,768 bytes but the file stores only"),
    "nii 10⁹ voxels": (lambda t: _file(t, "v.nii", _nifti_header((1000, 1000, 1000))), "v.nii",
                       "declares 1,000,000,000 bytes"),
    "nii.gz 10⁹ voxels": (lambda t: _file(t, "v.nii.gz", gzip.compress(
        _nifti_header((1000, 1000, 1000)))), "v.nii.gz", "even at the best compression ratio"),
    "nii.gz 4-D": (lambda t: _file(t, "v.nii.gz", gzip.compress(_nifti_header((4, 4, 4, 3)))),
                   "v.nii.gz", "4-D image"),
    "nii.gz cut": (lambda t: _cut(write_volume(SMALL, t / "v.nii.gz"), 900), "v.nii.gz",
                   "not a readable gzip file|truncated"),
    "tiff pages of different sizes": (_tiff_mixed, "mixed.tif", "pages of different sizes"),
    "tiff 10¹⁰ pixels in 16 bytes": (_tiff_huge, "huge.tif", "declares|past the end"),
    "tiff cut in the data": (lambda t: _cut(write_volume(SMALL, t / "v.tif"), 1500), "v.tif",
                             "declares 8,192 bytes|corrupt"),
    "tiff cut in the page chain": (lambda t: _cut(write_volume(SMALL, t / "v.tif"), 30000),
                                   "v.tif", "corrupt or truncated TIFF"),
    "empty folder": (lambda t: (t / "empty").mkdir() or t / "empty", "empty", "is empty"),
    "folder of text files": (_text_folder, "texts", "none of its 3 files is DICOM"),
    "folder of SR and RTSTRUCT": (_non_image_folder, "reports",
                                  "no DICOM image.*RTSTRUCT.*SR"),
}
for suffix in (".nii", ".nii.gz", ".mhd", ".mha", ".tif", ".dcm"):
    CASES[f"zero bytes {suffix}"] = (lambda t, s=suffix: _file(t, "z" + s, b""), "z" + suffix,
                                     "")
    CASES[f"random bytes {suffix}"] = (lambda t, s=suffix: _file(t, "r" + s, RANDOM),
                                       "r" + suffix, "")


@pytest.fixture(scope="module", autouse=True)
def _libraries_loaded():
    """Import the readers' libraries once, so the cases measure the readers, not imports."""
    import nibabel  # noqa: F401
    import pydicom  # noqa: F401
    import SimpleITK  # noqa: F401
    import tifffile  # noqa: F401


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_a_named_input_error(tmp_path, case):
    make, name, words = CASES[case]
    path = make(tmp_path)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InputError) as caught:
            read_volume(path)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith(f"{name}:"), message
    if words:
        assert any(__import__("re").search(w, message) for w in words.split("|")), message
    assert peak < 32 * 2**20, f"{case}: {peak / 2**20:.0f} MiB allocated"
    assert seconds < 30, f"{case}: {seconds:.1f} s (hang guard, not a speed test)"


def test_listing_a_folder_with_a_lying_header_names_the_file(tmp_path):
    folder = _dicom_huge(tmp_path, None)
    with pytest.raises(InputError, match=r"^IM00002\.dcm: the header of the pixel data declares"):
        list_series(folder)
