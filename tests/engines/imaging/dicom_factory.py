"""Test-only DICOM files made directly with pydicom: CT slices with any position, rescale,
instance number or compression, non-image objects (SR, RTSTRUCT), and a small JPEG Lossless
(process 14, selection value 1) encoder, because no installed library encodes that syntax."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

from engines.imaging.volume import Volume

#: JPEG-LS files are encoded with pyjpegls (the ``test`` extra); decoding needs only pylibjpeg.
NEEDS_JPEGLS = pytest.mark.skipif(importlib.util.find_spec("jpeg_ls") is None,
                                  reason="pyjpegls (test extra) not installed: no JPEG-LS encoder")
JPEGLS = pytest.param("jpegls", marks=NEEDS_JPEGLS)

SYNTAXES = {
    None: "1.2.840.10008.1.2.1",
    "implicit": "1.2.840.10008.1.2",
    "rle": "1.2.840.10008.1.2.5",
    "jpeg2000": "1.2.840.10008.1.2.4.90",
    "jpegls": "1.2.840.10008.1.2.4.80",
    "jpeg_lossless": "1.2.840.10008.1.2.4.70",
}


def jpeg_lossless_sv1(image: np.ndarray, precision: int = 16) -> bytes:
    """One greyscale frame as a JPEG Lossless, first-order prediction (Ra) codestream.

    Huffman table: the 17 difference categories each get a 5-bit code (valid, if not optimal).
    """
    x = image.astype(np.int64)
    rows, cols = x.shape
    prediction = np.empty_like(x)
    prediction[0, 0] = 1 << (precision - 1)
    prediction[0, 1:] = x[0, :-1]
    prediction[1:, 0] = x[:-1, 0]
    prediction[1:, 1:] = x[1:, :-1]
    diff = (x - prediction) % 65536
    diff = np.where(diff >= 32768, diff - 65536, diff).ravel()
    out = bytearray(b"\xff\xd8")
    out += b"\xff\xc3" + struct.pack(">HBHHB", 11, precision, rows, cols, 1) + bytes([1, 0x11, 0])
    counts = [0] * 16
    counts[4] = 17
    out += b"\xff\xc4" + struct.pack(">H", 2 + 1 + 16 + 17) + bytes([0]) + bytes(counts)
    out += bytes(range(17))
    out += b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x00, 1, 0, 0])
    accumulator, n_bits = 0, 0
    data = bytearray()

    def emit(value: int, length: int) -> None:
        nonlocal accumulator, n_bits
        accumulator = (accumulator << length) | (value & ((1 << length) - 1))
        n_bits += length
        while n_bits >= 8:
            n_bits -= 8
            byte = (accumulator >> n_bits) & 0xFF
            data.append(byte)
            if byte == 0xFF:
                data.append(0)
        accumulator &= (1 << n_bits) - 1

    for d in diff.tolist():
        category = 0 if d == 0 else int(abs(d)).bit_length()
        emit(category, 5)
        if 0 < category < 16:
            emit(d if d > 0 else d + (1 << category) - 1, category)
    if n_bits:
        emit((1 << (8 - n_bits)) - 1, 8 - n_bits)
    return bytes(out + data + b"\xff\xd9")


def _base(path: Path, sop_class: str, modality: str, series_uid: str, syntax: str):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.SeriesInstanceUID = modality, series_uid
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.PatientID = "TEST"
    return ds


def write_slice(path: Path, stored: np.ndarray, *, position, orientation, pixel_spacing,
                series_uid: str, slope: float = 1.0, intercept: float = -1024.0,
                instance_number: int = 1, compression: str | None = None,
                sop_uid: str | None = None, thickness: float | None = None) -> Path:
    """One CT slice of ``stored`` values (uint16 or int16, rows × columns)."""
    from pydicom.encaps import encapsulate

    syntax = SYNTAXES[compression]
    ds = _base(path, "1.2.840.10008.5.1.4.1.1.2", "CT", series_uid,
               SYNTAXES[None] if compression in ("rle", "jpeg2000", "jpegls") else syntax)
    if sop_uid is not None:
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.InstanceNumber = instance_number
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in orientation]
    ds.PixelSpacing = [f"{v:.6g}" for v in pixel_spacing]
    if thickness is not None:
        ds.SliceThickness = thickness
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = int(stored.dtype == np.int16)
    ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", f"{intercept:.10g}"
    pixels = np.ascontiguousarray(stored)
    if compression in ("rle", "jpeg2000", "jpegls"):
        ds.compress(syntax, pixels, generate_instance_uid=False)
    elif compression == "jpeg_lossless":
        ds.PixelData = encapsulate([jpeg_lossless_sv1(pixels.view(np.uint16))])
        ds["PixelData"].VR = "OB"
    else:
        ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True, implicit_vr=compression == "implicit",
               little_endian=True)
    return path


def write_series(folder: Path, volume: Volume, *, series_uid: str = "1.2.3.4.5",
                 rescales=None, names=None, instance_numbers=None,
                 compression: str | None = None) -> list[Path]:
    """``volume`` (HU, integer-valued) as one file per slice, positions from its geometry.

    ``rescales`` is one ``(slope, intercept)`` per slice (default ``(1, -1024)``); ``names`` and
    ``instance_numbers`` override the file names and InstanceNumbers.
    """
    folder.mkdir(parents=True, exist_ok=True)
    nz = volume.shape[0]
    rescales = rescales or [(1.0, -1024.0)] * nz
    names = names or [f"slice{k:03d}.dcm" for k in range(nz)]
    numbers = instance_numbers or list(range(1, nz + 1))
    orientation = (*volume.direction[:, 0], *volume.direction[:, 1])
    paths = []
    for k in range(nz):
        slope, intercept = rescales[k]
        stored = np.rint((volume.array[k].astype(np.float64) - intercept) / slope)
        dtype = np.uint16 if stored.min() >= 0 else np.int16
        paths.append(write_slice(
            folder / names[k], stored.astype(dtype), position=volume.voxel_to_world([k, 0, 0]),
            orientation=orientation,
            pixel_spacing=(volume.spacing_xyz[1], volume.spacing_xyz[0]), series_uid=series_uid,
            slope=slope, intercept=intercept, instance_number=numbers[k],
            compression=compression))
    return paths


def write_non_image(path: Path, kind: str, series_uid: str = "9.9.9") -> Path:
    """A DICOM object without pixel data: ``"SR"`` (basic text SR) or ``"RTSTRUCT"``."""
    sop = {"SR": "1.2.840.10008.5.1.4.1.1.88.11", "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3"}
    ds = _base(path, sop[kind], kind, series_uid, SYNTAXES[None])
    ds.SeriesDescription = f"a {kind}"
    ds.save_as(path, enforce_file_format=True)
    return path
