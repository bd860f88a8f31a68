"""Write a :class:`Volume` as a DICOM CT series: one CT Image Storage file per slice.

Each file carries ImagePositionPatient, ImageOrientationPatient, PixelSpacing and a rescale that
gives the HU back exactly for integer data within 16 bits (stored = HU + 1024 unsigned, as
scanners do, or signed with intercept 0 for a wider range); other data is scaled to 16 bits and
the quantisation step is reported. The series is written to a hidden temporary folder and renamed
into place, so a reader never sees half a series.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.imaging.volume import Volume

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"

#: ``compression=`` names and their transfer syntaxes (all lossless).
COMPRESSIONS = {
    None: "1.2.840.10008.1.2.1",        # Explicit VR Little Endian
    "rle": "1.2.840.10008.1.2.5",       # RLE Lossless
    "jpeg2000": "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "jpegls": "1.2.840.10008.1.2.4.80",    # JPEG-LS Lossless (needs pyjpegls)
}


@dataclass(frozen=True)
class StoredValues:
    """16-bit stored values and the rescale that maps them back: ``value = stored × slope +
    intercept``, within ``max_error`` (0 when exact)."""

    stored: np.ndarray
    slope: float
    intercept: float
    max_error: float


def stored_values(array: np.ndarray) -> StoredValues:
    """Encode ``array`` as 16-bit stored values (exact for integers in [-32768, 64511]).

    Raises
    ------
    InputError
        When the array holds NaN or infinite values.
    """
    values = np.asarray(array)
    if not np.isfinite(values).all():
        raise InputError("a DICOM series cannot hold NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    integral = np.issubdtype(values.dtype, np.integer) or bool(np.all(np.mod(values, 1) == 0))
    if integral and low >= -1024 and high <= 65535 - 1024:
        return StoredValues((values + 1024).astype(np.uint16), 1.0, -1024.0, 0.0)
    if integral and low >= -32768 and high <= 32767:
        return StoredValues(values.astype(np.int16), 1.0, 0.0, 0.0)
    slope = (high - low) / 65535 if high > low else 1.0
    stored = np.rint((values.astype(np.float64) - low) / slope).astype(np.uint16)
    return StoredValues(stored, slope, low, slope / 2)


def _is_dicom_file(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(132)
    return len(head) == 132 and head[128:] == b"DICM"


def _check_target(folder: Path) -> None:
    """A folder may be replaced only when it is absent, empty or holds nothing but DICOM files."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError.for_file(folder, "exists and is not a folder; not replaced")
    others = [p.name for p in folder.iterdir() if not (p.is_file() and _is_dicom_file(p))]
    if others:
        raise InputError.for_file(folder, f"holds files other than DICOM (e.g. {others[0]}); "
                                          "not replaced")


def _replace_folder(temporary: Path, folder: Path) -> None:
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(folder, old)
        os.replace(temporary, folder)
        shutil.rmtree(old)
    else:
        os.replace(temporary, folder)


def _uid(seed: str | None, *parts: object) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=None if seed is None else [seed, *map(str, parts)])


def write_dicom_series(volume: Volume, folder: str | Path, *, compression: str | None = None,
                       series_description: str = "", patient_id: str = "LABLENS",
                       patient_name: str = "LabLens^Sample", series_number: int = 1,
                       uid_seed: str | None = None) -> TaskGenerator[list[Path]]:
    """Write ``volume`` as a CT series into ``folder``; yields :class:`Progress`, returns the files.

    Parameters
    ----------
    volume
        ``(nz, ny, nx)`` values (HU for CT) with ITK geometry; slice ``k`` becomes one file.
    folder
        Target folder; replaced when it exists and holds only DICOM files.
    compression
        ``None`` (Explicit VR Little Endian), ``"rle"``, ``"jpeg2000"`` or ``"jpegls"``.
    uid_seed
        Derive every UID from this text (reproducible sample data); default random UIDs.

    Raises
    ------
    InputError
        Unknown or unavailable compression, non-finite values, a target folder with other files.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.pixels import get_encoder
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

    if compression not in COMPRESSIONS:
        raise InputError(f"unknown DICOM compression {compression!r}; choose one of "
                         f"{', '.join(repr(c) for c in COMPRESSIONS)}")
    syntax = UID(COMPRESSIONS[compression])
    if compression is not None and not get_encoder(syntax).is_available:
        raise InputError(f"DICOM compression {compression!r} ({syntax.name}) has no encoder "
                         "installed here")
    if compression == "jpeg2000" and min(volume.shape[1:]) < 32:
        raise InputError(f"JPEG 2000 needs slices of at least 32 × 32 pixels, not "
                         f"{volume.shape[1]} × {volume.shape[2]}")
    folder = Path(folder)
    _check_target(folder)
    encoded = stored_values(volume.array)
    signed = encoded.stored.dtype == np.int16
    direction = volume.direction
    normal = np.cross(direction[:, 0], direction[:, 1])
    study, series, frame = (_uid(uid_seed, name) for name in ("study", "series", "frame"))
    nz = volume.shape[0]
    width = max(5, len(str(nz)))
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}")
    temporary.mkdir()
    files = []
    try:
        for k in range(nz):
            instance = _uid(uid_seed, "instance", k)
            ds = Dataset()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
            ds.file_meta.MediaStorageSOPInstanceUID = instance
            ds.file_meta.TransferSyntaxUID = UID(COMPRESSIONS[None])
            ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
            ds.SOPClassUID, ds.SOPInstanceUID = CT_IMAGE_STORAGE, instance
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.FrameOfReferenceUID = frame
            ds.PatientName, ds.PatientID = patient_name, patient_id
            ds.Modality = volume.modality or "CT"
            ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
            ds.SeriesDescription = series_description
            ds.SeriesNumber, ds.InstanceNumber = series_number, k + 1
            position = volume.voxel_to_world([k, 0, 0])
            ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
            ds.ImageOrientationPatient = [f"{v:.8f}" for v in
                                          (*direction[:, 0], *direction[:, 1])]
            ds.SliceLocation = f"{float(position @ normal):.6f}"
            ds.PixelSpacing = [f"{volume.spacing_xyz[1]:.8g}", f"{volume.spacing_xyz[0]:.8g}"]
            ds.SliceThickness = f"{volume.spacing_xyz[2]:.8g}"
            ds.Rows, ds.Columns = volume.shape[1], volume.shape[2]
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
            ds.PixelRepresentation = int(signed)
            ds.RescaleSlope = f"{encoded.slope:.10g}"
            ds.RescaleIntercept = f"{encoded.intercept:.10g}"
            ds.RescaleType = "HU" if ds.Modality == "CT" else "US"
            pixels = np.ascontiguousarray(encoded.stored[k])
            if compression is None:
                ds.PixelData = pixels.tobytes()
            else:
                ds.compress(syntax, pixels, generate_instance_uid=False)
            path = temporary / f"IM{k + 1:0{width}d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            files.append(folder / path.name)
            if k % 16 == 15:
                yield Progress((k + 1) / nz, f"slice {k + 1}/{nz} written")
        _replace_folder(temporary, folder)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    return files
