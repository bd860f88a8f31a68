"""DICOM folders: read every file's header (never its pixels) and group the images by series.

Headers are read with ``stop_before_pixels=True`` and a small ``defer_size``, so listing a
600-slice series costs about a millisecond per file. Files that are not DICOM and DICOM objects
without an image (structured reports, RT structure sets, presentation states) are skipped and
counted, so the caller can say what it left out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import check_declared, finite_after_cast, reading

#: Transfer syntaxes whose pixel data is stored as is (the file size bounds it).
NATIVE_SYNTAXES = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"})

#: Image Pixel module attributes (type 1) that decoding needs besides Rows, Columns and
#: BitsAllocated (whose absence means "no image").
IMAGE_PIXEL_KEYWORDS = ("BitsStored", "PhotometricInterpretation", "PixelRepresentation",
                        "SamplesPerPixel")

_HIDDEN = (".", "~")


@dataclass(frozen=True)
class SliceHeader:
    """What the reader needs from one image file, read without its pixel data.

    ``position`` is ImagePositionPatient (mm, LPS), ``orientation`` ImageOrientationPatient (row
    direction then column direction), ``pixel_spacing`` PixelSpacing (between rows, between
    columns; mm).
    """

    path: Path
    series_uid: str
    sop_uid: str
    modality: str
    description: str
    series_number: int | None
    rows: int
    columns: int
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    rescale: tuple[float, float]
    transfer_syntax: str
    study_uid: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """One image series in a folder.

    Attributes
    ----------
    uid : str
        SeriesInstanceUID.
    description, modality : str
        SeriesDescription and Modality ("" when absent).
    number : int or None
        SeriesNumber.
    rows, columns : int
        Slice size in pixels (of the first slice; the reader checks the rest).
    files : tuple of Path
        The image files of the series, in folder order (the reader sorts them by position).
    """

    uid: str
    description: str
    modality: str
    number: int | None
    rows: int
    columns: int
    files: tuple[Path, ...] = field(repr=False)

    @property
    def n_slices(self) -> int:
        """Number of image files."""
        return len(self.files)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no file list)."""
        return {"uid": self.uid, "description": self.description, "modality": self.modality,
                "number": self.number, "slices": self.n_slices, "rows": self.rows,
                "columns": self.columns}


@dataclass
class FolderScan:
    """Headers of the image files of a folder, and what was skipped and why."""

    folder: Path
    headers: list[SliceHeader]
    skipped: Counter = field(default_factory=Counter)

    def warnings(self) -> list[str]:
        """One line per kind of skipped file."""
        return [f"{self.folder.name}: skipped {n} file{'s' * (n != 1)} ({why})"
                for why, n in sorted(self.skipped.items())]


def folder_files(folder: Path) -> list[Path]:
    """The regular, non-hidden files under ``folder`` (recursively), in sorted order."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(_HIDDEN)
                                             for part in p.relative_to(folder).parts))


def _looks_like_dicom(path: Path) -> tuple[bool, bool]:
    """``(is_dicom, has_preamble)`` from the first bytes: the ``DICM`` prefix, or (for files
    written without the 128-byte preamble) a first tag in group 0002 or 0008."""
    with open(path, "rb") as handle:
        head = handle.read(132)
    if len(head) == 132 and head[128:] == b"DICM":
        return True, True
    return head[:2] in (b"\x02\x00", b"\x08\x00") and len(head) >= 8, False


def _number(ds: Any, keyword: str, count: int) -> tuple[float, ...] | None:
    from pydicom.multival import MultiValue

    value = ds.get(keyword)
    if value is None or value == "":
        return None
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    if len(values) != count:
        raise InputError.for_file(ds.filename, f"{keyword} has {len(values)} values, "
                                               f"expected {count}")
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError) as error:
        raise InputError.for_file(ds.filename, f"{keyword} is not numeric ({value})") from error


def _whole(ds: Any, keyword: str) -> int:
    """A one-valued whole-number attribute (Rows, Columns...); InputError otherwise."""
    value = _number(ds, keyword, 1)
    if value is None or not math.isfinite(value[0]) or not value[0].is_integer():
        raise InputError.for_file(ds.filename, f"{keyword} is not a whole number "
                                               f"({ds.get(keyword)})")
    return int(value[0])


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def read_header(path: Path) -> SliceHeader | str:
    """The image header of one file, or the reason to skip it (not DICOM, no image, ...).

    Raises
    ------
    InputError
        When the file claims to be DICOM but its header cannot be parsed, or declares more
        pixel data than it can hold.
    """
    with reading(path, "DICOM file"):
        return _parse_header(path)


def _parse_header(path: Path) -> SliceHeader | str:
    import pydicom

    is_dicom, has_preamble = _looks_like_dicom(path)
    if not is_dicom:
        return "not DICOM"
    ds = pydicom.dcmread(path, stop_before_pixels=True, defer_size="4 KB",
                         force=not has_preamble)
    ds.filename = str(path)
    if "Rows" not in ds or "Columns" not in ds or "BitsAllocated" not in ds:
        kind = str(ds.get("Modality", "")) or "no modality"
        return f"DICOM without an image: {kind}"
    for keyword in ("BitsStored", "PixelRepresentation", "SamplesPerPixel", "HighBit",
                    "NumberOfFrames"):  # pydicom's decoder compares these with numbers
        if keyword in ds and ds.get(keyword) not in (None, ""):
            _whole(ds, keyword)
    frames = _int_or_none(ds.get("NumberOfFrames")) or 1
    if frames > 1:
        return "multi-frame (enhanced) DICOM, not read as a slice series"
    samples = _int_or_none(ds.get("SamplesPerPixel")) or 1
    if samples != 1:
        return "colour DICOM image, not a greyscale slice"
    missing = [k for k in IMAGE_PIXEL_KEYWORDS if k not in ds]
    if missing:
        raise InputError.for_file(path, f"an image without {', '.join(missing)} (damaged header)")
    photometric = ds.get("PhotometricInterpretation")
    if not isinstance(photometric, str):  # several values (a stray backslash) or binary
        raise InputError.for_file(path, f"PhotometricInterpretation {str(photometric)[:40]!r} "
                                        "is not one name (damaged header)")
    rows, columns, bits = (_whole(ds, k) for k in ("Rows", "Columns", "BitsAllocated"))
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "") or
                 "1.2.840.10008.1.2.1")
    declared = rows * columns * max(bits, 1) // 8
    check_declared(declared, 1, path, available=path.stat().st_size,
                   ratio=1 if syntax in NATIVE_SYNTAXES else math.inf,
                   what="the header of the pixel data")
    slope = _number(ds, "RescaleSlope", 1)
    intercept = _number(ds, "RescaleIntercept", 1)
    for name, value in (("RescaleSlope", slope), ("RescaleIntercept", intercept)):
        if value is not None:
            finite_after_cast(value, np.float32, name, path)
    spacing = _number(ds, "PixelSpacing", 2)
    thickness = _number(ds, "SliceThickness", 1)
    return SliceHeader(
        path=path, series_uid=str(ds.get("SeriesInstanceUID", "")),
        sop_uid=str(ds.get("SOPInstanceUID", "")), modality=str(ds.get("Modality", "")),
        description=str(ds.get("SeriesDescription", "")),
        series_number=_int_or_none(ds.get("SeriesNumber")), rows=rows, columns=columns,
        position=_number(ds, "ImagePositionPatient", 3),
        orientation=_number(ds, "ImageOrientationPatient", 6),
        pixel_spacing=None if spacing is None else (spacing[0], spacing[1]),
        slice_thickness=None if thickness is None else thickness[0],
        rescale=(1.0 if slope is None else slope[0], 0.0 if intercept is None else intercept[0]),
        transfer_syntax=syntax, study_uid=str(ds.get("StudyInstanceUID", "")))


def scan_folder(folder: str | Path) -> FolderScan:
    """Read the header of every file under ``folder``.

    Raises
    ------
    InputError
        When the folder is missing or empty, holds no DICOM file, or only DICOM files without
        an image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError.for_file(folder, "is not a folder")
    files = folder_files(folder)
    if not files:
        raise InputError.for_file(folder, "the folder is empty")
    scan = FolderScan(folder, [])
    for path in files:
        header = read_header(path)
        if isinstance(header, str):
            scan.skipped[header] += 1
        else:
            scan.headers.append(header)
    if not scan.headers:
        if set(scan.skipped) == {"not DICOM"}:
            raise InputError.for_file(folder, f"none of its {len(files)} files is DICOM")
        reasons = ", ".join(f"{n} × {why}" for why, n in sorted(scan.skipped.items()))
        raise InputError.for_file(folder, f"no DICOM image to read ({reasons})")
    return scan


def group_series(headers: list[SliceHeader]) -> list[SeriesInfo]:
    """Series of ``headers`` by SeriesInstanceUID, largest first (ties: lower SeriesNumber)."""
    groups: dict[str, list[SliceHeader]] = {}
    for header in headers:
        groups.setdefault(header.series_uid, []).append(header)
    series = [SeriesInfo(uid=uid, description=members[0].description,
                         modality=members[0].modality, number=members[0].series_number,
                         rows=members[0].rows, columns=members[0].columns,
                         files=tuple(h.path for h in members))
              for uid, members in groups.items()]
    return sorted(series, key=lambda s: (-s.n_slices, s.number if s.number is not None else 1e9,
                                         s.uid))


def list_series(folder: str | Path) -> list[SeriesInfo]:
    """The image series in a DICOM folder, largest first.

    Parameters
    ----------
    folder
        Folder with DICOM files (searched recursively; hidden files ignored).

    Raises
    ------
    InputError
        When the folder holds no DICOM image.
    """
    return group_series(scan_folder(folder).headers)


def choose_series(scan: FolderScan, series_uid: str | None) -> tuple[list[SliceHeader], list[str]]:
    """The headers of the series asked for (default: the largest) and warnings about the choice.

    Raises
    ------
    InputError
        When ``series_uid`` is not in the folder (the message lists the series that are).
    """
    series = group_series(scan.headers)
    warnings = scan.warnings()
    if series_uid is None:
        chosen = series[0]
        if len(series) > 1:
            others = "; ".join(f"{s.uid} ({s.n_slices} slices)" for s in series[1:])
            warnings.append(f"{scan.folder.name}: {len(series)} series in the folder; read the "
                            f"largest, {chosen.uid} ({chosen.n_slices} slices); others: {others}")
    else:
        matches = [s for s in series if s.uid == series_uid]
        if not matches:
            listing = ", ".join(f"{s.uid} ({s.n_slices} slices)" for s in series)
            raise InputError.for_file(scan.folder, f"no series {series_uid}; it holds {listing}")
        chosen = matches[0]
    return [h for h in scan.headers if h.series_uid == chosen.uid], warnings
