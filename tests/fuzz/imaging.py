"""Imaging formats in the fuzzer: seeds, format-aware mutators, and the volume target.

Formats: ``dicom`` (a series of slices: RLE, JPEG 2000, JPEG-LS or uncompressed), ``nifti``
(``.nii``, ``.nii.gz``), ``metaimage`` (``.mha``, ``.mhd`` + ``.raw``/``.zraw``) and ``tiff``
(ImageJ multi-page, BigTIFF, deflate).

A case is one byte string. Formats of several files are stored as their files one after
another and split again by :func:`unpack`: a DICOM series at each ``DICM`` prefix (128-byte
preamble before it), a ``.mhd`` header after its ``ElementDataFile`` line (the rest is the data
file that line names). So byte mutators and the minimiser work on the series as a whole, and a
mutated size or name field damages the series the way it would on disk.

"Garbage accepted" checks (:func:`volume_problems`), on what ``volume_info`` returns (the CLI's
``info``): a 3-D shape, at most 2²⁸ voxels and no more decoded bytes than the file's bytes at
the best DEFLATE ratio (1032) allow; voxel sizes in [1e-6, 1e6] mm; an origin within 1e9 mm;
an orthonormal, finite direction; value range finite as float32; and the summary valid JSON
(no NaN or infinity anywhere).
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from tests.fuzz.seeds import IMAGING_FORMATS

CASE_STEM = "case"
MAX_VOXELS = 1 << 28
BEST_RATIO = 1032
SPACING_RANGE_MM = (1e-6, 1e6)
MAX_ORIGIN_MM = 1e9
_PREAMBLE = 128


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


# --------------------------------------------------------------------------- seeds

def _volume(shape=(3, 32, 36), spacing=(0.7, 0.8, 2.5), integers=True):
    from engines.imaging.volume import Volume

    z, y, x = np.indices(shape)
    values = (40 * x - 30 * y + 200 * z - 1000).astype(np.int16 if integers else np.float32)
    if not integers:
        values = values / 7.0
    c, s = math.cos(0.3), math.sin(0.3)
    direction = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return Volume(values, spacing_xyz=spacing, origin_xyz=(-120.5, 30.25, 7.0),
                  direction=direction, modality="CT")


def _series_bytes(compression: str | None, uid_seed: str) -> bytes:
    from engines.imaging.volume_io import write_volume

    with tempfile.TemporaryDirectory() as folder:
        written = write_volume(_volume(), Path(folder) / "series", compression=compression,
                               uid_seed=uid_seed)
        return b"".join(p.read_bytes() for p in sorted(written.iterdir()))


def _file_bytes(name: str, integers: bool = True, **options) -> bytes:
    """The file(s) ``write_volume`` makes for ``case<suffix>``, concatenated (.mhd first)."""
    from engines.imaging.volume_io import write_volume

    with tempfile.TemporaryDirectory() as folder:
        path = write_volume(_volume(integers=integers), Path(folder) / name, **options)
        data = path.read_bytes()
        if path.suffix == ".mhd":
            from engines.imaging.metaimage_header import parse_metaimage_header

            data += parse_metaimage_header(path).data_file.read_bytes()
        return data


@functools.cache
def imaging_seeds(fmt: str) -> tuple[tuple[str, bytes], ...]:
    """Seed files of an imaging format as ``((suffix, data), ...)``."""
    if fmt == "dicom":
        return tuple((".dcm", _series_bytes(c, f"fuzz-{c}"))
                     for c in (None, "rle", "jpeg2000", "jpegls"))
    if fmt == "nifti":
        return ((".nii", _file_bytes("case.nii")), (".nii.gz", _file_bytes("case.nii.gz")),
                (".nii", _file_bytes("case.nii", integers=False)))
    if fmt == "metaimage":
        return ((".mha", _file_bytes("case.mha")), (".mhd", _file_bytes("case.mhd")),
                (".mhd", _file_bytes("case.mhd", compression=True)),
                (".mha", _file_bytes("case.mha", integers=False)))
    if fmt == "tiff":
        return ((".tif", _file_bytes("case.tif")),
                (".tif", _file_bytes("case.tif", compression="zlib")),
                (".tif", _file_bytes("case.tif", bigtiff=True)),
                (".tif", _file_bytes("case.tif", integers=False)))
    raise ValueError(f"unknown imaging format {fmt!r}; valid: {', '.join(IMAGING_FORMATS)}")


# --------------------------------------------------------------------------- files of a case

def split_dicom(data: bytes) -> list[bytes]:
    """The files of a concatenated series: one starts 128 bytes before each ``DICM``."""
    starts, i = [0], data.find(b"DICM", _PREAMBLE + 4)
    while i != -1:
        if i - _PREAMBLE >= starts[-1] + _PREAMBLE + 4:
            starts.append(i - _PREAMBLE)
        i = data.find(b"DICM", i + 4)
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]


_DATA_FILE = re.compile(rb"^[ \t]*ElementDataFile[ \t]*=[ \t]*([^\r\n]*?)[ \t]*\r?\n",
                        re.MULTILINE)


def split_mhd(data: bytes) -> tuple[bytes, str | None, bytes]:
    """``(header, data file name or None, data)`` of a concatenated ``.mhd`` and its data."""
    match = _DATA_FILE.search(data[:1 << 16])
    if match is None:
        return data, None, b""
    name = match.group(1).decode("latin-1")
    plain = re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name) and name not in (".", "..") \
        and name.upper() != "LOCAL"
    return data[:match.end()], name if plain else None, data[match.end():]


def unpack(fmt: str, path: Path) -> tuple[Path, set[str]]:
    """Write the files of case ``path`` into a fresh folder beside it.

    Returns
    -------
    (Path, set of str)
        What to read (the series folder, or the image file) and the names an InputError may
        start with (the folder's and every file's).
    """
    folder = path.parent / f"{CASE_STEM}-files"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    data = path.read_bytes()
    if fmt == "dicom":
        names = set()
        for k, member in enumerate(split_dicom(data), start=1):
            (folder / f"IM{k:05d}.dcm").write_bytes(member)
            names.add(f"IM{k:05d}.dcm")
        return folder, names | {folder.name}
    target = folder / path.name
    if path.suffix == ".mhd":
        header, name, rest = split_mhd(data)
        target.write_bytes(header)
        if name is not None and name != target.name:
            (folder / name).write_bytes(rest)
        return target, {target.name} | ({name} if name else set())
    target.write_bytes(data)
    return target, {target.name}


# --------------------------------------------------------------------------- garbage checks

def volume_problems(fmt: str, read_path: Path) -> list[str]:
    """What is impossible in ``volume_info(read_path)``; [] for a valid volume."""
    from engines.imaging.volume_io import volume_info

    info = volume_info(read_path)
    problems = []
    shape = info["shape_zyx"]
    stored = sum(p.stat().st_size for p in (read_path.parent.iterdir() if read_path.is_file()
                                            else read_path.iterdir()))
    n = math.prod(shape)
    itemsize = np.dtype(info["dtype"]).itemsize
    if len(shape) != 3 or min(shape) < 1 or n > MAX_VOXELS:
        problems.append(f"shape {shape}")
    elif n * itemsize > stored * BEST_RATIO:
        problems.append(f"{n} voxels of {info['dtype']} from {stored} bytes")
    low, high = SPACING_RANGE_MM
    spacing = info["spacing_mm_zyx"]
    if len(spacing) != 3 or not all(low <= s <= high for s in spacing):
        problems.append(f"voxel size {spacing} mm")
    origin = info["origin_mm_xyz"]
    if len(origin) != 3 or not all(abs(o) <= MAX_ORIGIN_MM for o in origin):
        problems.append(f"origin {origin} mm")
    direction = np.asarray(info["direction"], dtype=np.float64)
    if direction.shape != (3, 3) or not np.all(np.isfinite(direction)) or not np.allclose(
            direction.T @ direction, np.eye(3), atol=1e-3):
        problems.append(f"direction {info['direction']}")
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(np.float32([info["hu_min"], info["hu_max"]]))):
            problems.append(f"values {info['hu_min']}…{info['hu_max']}")
    try:
        json.dumps(info, allow_nan=False)
    except ValueError as exc:
        problems.append(f"the summary is not valid JSON ({exc})")
    return problems


# --------------------------------------------------------------------------- mutators

_DICOM_EDITS = {
    "Rows": (0, 1, 2, 31, 33, 65535), "Columns": (0, 1, 35, 37, 65535),
    "BitsAllocated": (0, 1, 7, 8, 12, 32, 64), "BitsStored": (0, 1, 17, 32),
    "HighBit": (0, 31, 64), "PixelRepresentation": (0, 1, 2), "SamplesPerPixel": (0, 3),
    "PhotometricInterpretation": ("RGB", "PALETTE COLOR", "YBR_FULL", "BOGUS"),
    "RescaleSlope": ("nan", "inf", "1e300", "0", "-1", "1e-300", "abc", "3.5e38"),
    "RescaleIntercept": ("nan", "-inf", "1e300", "-3.5e38", "1e38"),
    "PixelSpacing": (["0", "1"], ["-1", "1"], ["nan", "1"], ["1e300", "1e300"],
                     ["1e-300", "1"], ["1"], ["1", "2", "3"], ["inf", "1"]),
    "ImagePositionPatient": (["nan", "0", "0"], ["1e300", "0", "1e300"], ["0", "0"],
                             ["0", "0", "0"], ["inf", "0", "0"], ["0", "0", "1e-300"]),
    "ImageOrientationPatient": (["0"] * 6, ["nan"] * 6, ["1", "0", "0", "1", "0", "0"],
                                ["1e300", "0", "0", "0", "1", "0"], ["1", "0", "0"]),
    "SliceThickness": ("0", "-1", "nan", "1e300"), "NumberOfFrames": ("0", "2", "1000000"),
    "SeriesInstanceUID": ("1.2.3", ""), "SOPInstanceUID": ("1.2.3.4", ""),
    "Modality": ("", "SEG", "X" * 64),
}
_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
             "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80",
             "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.1.99", "1.2.3.4.5")


def _dicom_load(member: bytes):
    import io

    import pydicom

    return pydicom.dcmread(io.BytesIO(member), force=True)


def _dicom_save(ds) -> bytes:
    import io

    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=False)
    return buffer.getvalue()


def _with_validation_off(function):
    @functools.wraps(function)
    def wrapped(data: bytes, rng: np.random.Generator) -> bytes:
        from pydicom import config

        before = (config.settings.reading_validation_mode,
                  config.settings.writing_validation_mode)
        config.settings.reading_validation_mode = config.IGNORE
        config.settings.writing_validation_mode = config.IGNORE
        try:
            return function(data, rng)
        except Exception:  # pydicom refused to write this value: leave the case as it was
            return data
        finally:
            (config.settings.reading_validation_mode,
             config.settings.writing_validation_mode) = before
    return wrapped


@_with_validation_off
def dicom_tags(data: bytes, rng: np.random.Generator) -> bytes:
    """Give 1-3 tags of one slice a hostile value (sizes, rescale, geometry, UIDs)."""
    members = split_dicom(data)
    k = int(rng.integers(len(members)))
    ds = _dicom_load(members[k])
    for _ in range(int(rng.integers(1, 4))):
        keyword = _pick(rng, sorted(_DICOM_EDITS))
        value = _pick(rng, _DICOM_EDITS[keyword])
        if keyword in ds and rng.random() < 0.15:
            del ds[keyword]
        else:
            setattr(ds, keyword, value)
    members[k] = _dicom_save(ds)
    return b"".join(members)


@_with_validation_off
def dicom_pixels(data: bytes, rng: np.random.Generator) -> bytes:
    """Change one slice's pixel data or transfer syntax: cut, extend, drop, swap syntax."""
    members = split_dicom(data)
    k = int(rng.integers(len(members)))
    ds = _dicom_load(members[k])
    choice = int(rng.integers(4))
    if choice == 0:
        ds.file_meta.TransferSyntaxUID = _pick(rng, _SYNTAXES)
    elif choice == 1 and "PixelData" in ds:
        pixels = ds.PixelData
        ds.PixelData = pixels[:int(rng.integers(len(pixels)))]
    elif choice == 2 and "PixelData" in ds:
        ds.PixelData = ds.PixelData + bytes(int(_pick(rng, (2, 64, 4096))))
    elif "PixelData" in ds:
        del ds.PixelData
    members[k] = _dicom_save(ds)
    return b"".join(members)


def dicom_series(data: bytes, rng: np.random.Generator) -> bytes:
    """Series structure: drop, repeat or reorder slices; add a slice of another seed."""
    from tests.fuzz.imaging import imaging_seeds as _seeds

    members = split_dicom(data)
    choice = int(rng.integers(5))
    if choice == 0 and len(members) > 1:
        members.pop(int(rng.integers(len(members))))
    elif choice == 1:
        members.insert(int(rng.integers(len(members) + 1)), _pick(rng, members))
    elif choice == 2:
        members = [members[i] for i in rng.permutation(len(members))]
    elif choice == 3:
        other = split_dicom(_pick(rng, _seeds("dicom"))[1])
        members.insert(int(rng.integers(len(members) + 1)), _pick(rng, other))
    else:
        members.append(_pick(rng, (b"not dicom\n", b"\x08\x00" + bytes(30),
                                   bytes(_PREAMBLE) + b"DICM" + bytes(8))))
    return b"".join(members)


_NIFTI_FIELDS = {  # offset, struct code, hostile values
    "dim": (40, "<8h", ((3, 36, 32, 3, 1, 1, 1, 1), (3, 0, 32, 3, 1, 1, 1, 1),
                        (3, -1, 32, 3, 1, 1, 1, 1), (4, 36, 32, 3, 2, 1, 1, 1),
                        (3, 32767, 32767, 32767, 1, 1, 1, 1), (8, 36, 32, 3, 1, 1, 1, 1),
                        (0, 36, 32, 3, 1, 1, 1, 1), (2, 36, 32, 3, 1, 1, 1, 1))),
    "datatype": (70, "<h", (0, 1, 2, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 2304,
                            999)),
    "bitpix": (72, "<h", (0, 1, 8, 64, 128)),
    "pixdim": (76, "<8f", ((1, 0, 1, 1, 1, 1, 1, 1), (1, -1, 1, 1, 1, 1, 1, 1),
                           (1, np.nan, 1, 1, 1, 1, 1, 1), (1, np.inf, 1, 1, 1, 1, 1, 1),
                           (1, 3e38, 3e38, 3e38, 1, 1, 1, 1), (1, 1e-40, 1, 1, 1, 1, 1, 1),
                           (-1, 1, 1, 1, 1, 1, 1, 1))),
    "vox_offset": (108, "<f", (0.0, 1e30, -352.0, np.nan, 353.0, 4096.0)),
    "scl": (112, "<2f", ((np.nan, 0), (np.inf, 0), (3e38, 0), (1, 3e38), (0, 0), (1, np.nan),
                         (-1e38, 1e38))),
    "codes": (252, "<2h", ((0, 0), (1, 0), (0, 1), (5, 5), (-1, 99))),
    "quatern": (256, "<6f", ((np.nan, 0, 0, 0, 0, 0), (2, 2, 2, 0, 0, 0),
                             (0, 0, 0, 3e38, 3e38, 3e38), (0, 0, 0, np.inf, 0, 0))),
    "srow": (280, "<12f", ((0,) * 12, (np.nan,) * 12, (1, 0, 0, 3e38, 0, 1, 0, 0, 0, 0, 1, 0),
                           (1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0))),
    "magic": (344, "4s", (b"ni1\0", b"n+2\0", b"\0\0\0\0")),
    "sizeof_hdr": (0, "<i", (0, 540, 1 << 24, -348)),
}


def nifti_header(data: bytes, rng: np.random.Generator) -> bytes:
    """Set 1-2 NIfTI-1 header fields to hostile values (sizes, types, geometry, scaling)."""
    zipped = data[:2] == b"\x1f\x8b"
    raw = bytearray(gzip.decompress(data) if zipped else data)
    for _ in range(int(rng.integers(1, 3))):
        offset, code, values = _NIFTI_FIELDS[_pick(rng, sorted(_NIFTI_FIELDS))]
        value = _pick(rng, values)
        packed = struct.pack(code, *(value if isinstance(value, tuple) else (value,)))
        raw[offset:offset + len(packed)] = packed
    return gzip.compress(bytes(raw), mtime=0) if zipped else bytes(raw)


_MHD_VALUES = {
    "NDims": ("0", "1", "2", "4", "5", "-3", "x", "99999999999999999999"),
    "DimSize": ("36 32 0", "36 32 -1", "36 32 3 2", "36 32", "100000 100000 100000",
                "36 32 3.5", "4294967297 1 1", "36 32 1000", "1 1 1"),
    "ElementType": ("MET_UCHAR", "MET_DOUBLE", "MET_FLOAT", "MET_LONG_LONG", "MET_STRING",
                    "MET_UCHAR_ARRAY", "BOGUS"),
    "ElementSpacing": ("0 1 1", "-1 1 1", "nan 1 1", "1e300 1 1", "1e-300 1 1", "1 1",
                       "inf 1 1", "1 1 1 1"),
    "Offset": ("nan 0 0", "1e300 0 0", "0 0", "inf 0 0"),
    "TransformMatrix": ("0 0 0 0 0 0 0 0 0", "nan 0 0 0 1 0 0 0 1", "1 1 0 0 1 0 0 0 1",
                        "1 0 0 0 1 0", "1e300 0 0 0 1 0 0 0 1"),
    "HeaderSize": ("-1", "-2", "100000000", "7"),
    "CompressedData": ("True", "False"), "CompressedDataSize": ("0", "1", "-1", "99999999999"),
    "ElementNumberOfChannels": ("0", "2", "-1"),
    "ElementByteOrderMSB": ("True", "False"), "BinaryDataByteOrderMSB": ("True",),
    "ElementDataFile": ("LOCAL", "missing.raw", "LIST", "case%03d.raw 1 3 1", "../case.raw",
                        "case.mhd", ""),
    "ObjectType": ("Bogus", ""),
}


def metaimage_header(data: bytes, rng: np.random.Generator) -> bytes:
    """Change, add or drop 1-2 header lines of a MetaImage file (the data stays)."""
    end = data.find(b"ElementDataFile")
    end = data.find(b"\n", end) + 1 if end != -1 else 0
    if end <= 0:
        return data
    lines = data[:end].splitlines(keepends=True)
    for _ in range(int(rng.integers(1, 3))):
        key = _pick(rng, sorted(_MHD_VALUES))
        line = f"{key} = {_pick(rng, _MHD_VALUES[key])}\n".encode()
        where = [i for i, old in enumerate(lines) if old.split(b"=")[0].strip() == key.encode()]
        if where and rng.random() < 0.15 and key != "ElementDataFile":
            lines.pop(where[0])
        elif where:
            lines[where[0]] = line
        else:
            lines.insert(max(0, len(lines) - 1), line)
    return b"".join(lines) + data[end:]


_TIFF_TAGS = {256: (0, 1, 37, 65535, 1 << 30), 257: (0, 1, 33, 65535, 1 << 30),
              258: (1, 4, 12, 24, 32, 64), 259: (5, 7, 8, 32773, 34712, 50000),
              262: (2, 3, 4), 273: (0, 1 << 31, 4), 277: (0, 3, 4), 278: (0, 1, 1 << 30),
              279: (0, 1, 1 << 31), 284: (2,), 339: (2, 3, 4, 6), 282: (0,), 283: (0,)}
_IMAGEJ = (b"spacing=nan", b"spacing=-1", b"spacing=0", b"spacing=1e300", b"spacing=1e-300",
           b"images=100000000", b"slices=100000000", b"unit=furlong", b"spacing=inf")


def tiff_tags(data: bytes, rng: np.random.Generator) -> bytes:
    """Set a tag of the first page's IFD to a hostile value, or spoil the ImageJ description."""
    if rng.random() < 0.3 and b"ImageJ=" in data:
        return re.sub(rb"spacing=[^\n]*|images=\d+|slices=\d+", _pick(rng, _IMAGEJ), data,
                      count=1)
    big = data[2:4] in (b"\x2b\x00", b"\x00\x2b")
    order = "<" if data[:2] == b"II" else ">"
    try:
        first = struct.unpack_from(order + ("Q" if big else "I"), data, 8 if big else 4)[0]
        count = struct.unpack_from(order + ("Q" if big else "H"), data, first)[0]
    except struct.error:
        return data
    size, start = (20, first + 8) if big else (12, first + 2)
    entries = [start + i * size for i in range(min(count, 64))
               if start + (i + 1) * size <= len(data)]
    if not entries:
        return data
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 3))):
        at = _pick(rng, entries)
        tag = struct.unpack_from(order + "H", data, at)[0]
        if tag not in _TIFF_TAGS:
            tag = _pick(rng, sorted(_TIFF_TAGS))
            struct.pack_into(order + "H", out, at, tag)
        value = _pick(rng, _TIFF_TAGS[tag])
        if big:
            struct.pack_into(order + "HQQ", out, at + 2, 16, 1, value)
        else:
            struct.pack_into(order + "HII", out, at + 2, 4, 1, value)
    return bytes(out)


def imaging_mutators(fmt: str) -> dict:
    """Format-aware mutators of an imaging format (the byte-level ones come on top)."""
    from tests.fuzz.mutators import hostile_number, huge_number

    table = {"dicom": {"dicom_tags": dicom_tags, "dicom_pixels": dicom_pixels,
                       "dicom_series": dicom_series},
             "nifti": {"nifti_header": nifti_header},
             "metaimage": {"metaimage_header": metaimage_header,
                           "hostile_number": hostile_number, "huge_number": huge_number},
             "tiff": {"tiff_tags": tiff_tags}}
    return table[fmt]
