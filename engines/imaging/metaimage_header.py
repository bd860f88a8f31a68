"""MetaImage (``.mhd`` + ``.raw``/``.zraw``, ``.mha``) headers, parsed and checked by hand.

SimpleITK allocates whatever a header declares. Before it is called, :func:`check_metaimage`
reads the small text header itself and checks ``DimSize`` × element size against the bytes that
``ElementDataFile`` really holds, so a header that declares 10⁹ voxels, names a missing data file
or points at a truncated one is an :class:`InputError`, never a giant allocation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import MAX_COMPRESSION_RATIO, check_declared, reading
from engines.imaging.volume import MAX_ORIGIN_MM, SPACING_RANGE_MM

#: Bytes of an element of each MetaImage ``ElementType``.
ELEMENT_BYTES = {
    "MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
    "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
    "MET_DOUBLE": 8,
}

#: A header longer than this is not a MetaImage header.
MAX_HEADER_BYTES = 64 * 1024

_LINE = re.compile(rb"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*")


@dataclass(frozen=True)
class MetaHeader:
    """The parts of a MetaImage header that fix the data's size and place.

    ``data_file`` is the file holding the voxels (the header itself for ``LOCAL``) and
    ``data_offset`` where they start in it (``None``: at the end, ``HeaderSize = -1``).
    """

    fields: dict[str, str]
    dims: tuple[int, ...]
    element_type: str
    channels: int
    data_file: Path
    data_offset: int | None
    compressed: bool
    compressed_size: int | None

    @property
    def data_bytes(self) -> int:
        """Decoded size of the voxel data declared by the header."""
        return math.prod(self.dims) * ELEMENT_BYTES[self.element_type] * self.channels


def _integers(path: Path, fields: dict[str, str], key: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in fields[key].split())
    except KeyError:
        raise InputError.for_file(path, f"the header has no {key}") from None
    except ValueError:
        raise InputError.for_file(path, f"{key} is not a list of integers: "
                                        f"{fields[key]!r}") from None


#: Geometry keys (and their synonyms) and how many numbers each holds for ``n`` dimensions.
_GEOMETRY = {("ElementSpacing", "ElementSize"): lambda n: n,
             ("Offset", "Position", "Origin", "CenterOfRotation"): lambda n: n,
             ("TransformMatrix", "Rotation", "Orientation"): lambda n: n * n}


def _check_geometry(path: Path, fields: dict[str, str], ndims: int) -> None:
    """Refuse geometry SimpleITK would choke on: wrong counts, non-finite or impossible
    sizes, a direction matrix that is not orthonormal (ITK spent minutes in C code on a
    1.8e308 entry)."""
    low, high = SPACING_RANGE_MM
    for keys, count in _GEOMETRY.items():
        for key in keys:
            if key not in fields:
                continue
            try:
                values = np.array([float(v) for v in fields[key].split()])
            except ValueError:
                raise InputError.for_file(path, f"{key} is not a list of numbers: "
                                                f"{fields[key][:80]!r}") from None
            if values.size != count(ndims) or not np.all(np.isfinite(values)):
                raise InputError.for_file(path, f"{key} must be {count(ndims)} finite numbers, "
                                                f"not {fields[key][:80]!r}")
            if keys[0] == "ElementSpacing" and not np.all((values >= low) & (values <= high)):
                raise InputError.for_file(path, f"{key} {fields[key]!r}: voxel sizes must lie "
                                                f"from {low:g} to {high:g} mm")
            if keys[0] == "Offset" and np.any(np.abs(values) > MAX_ORIGIN_MM):
                raise InputError.for_file(path, f"{key} {fields[key]!r} is beyond "
                                                f"{MAX_ORIGIN_MM:g} mm")
            if keys[0] == "TransformMatrix":
                matrix = values.reshape(ndims, ndims)
                # entries of direction cosines lie within ±1: checked first, so that 1e300
                # does not overflow the product
                if np.any(np.abs(matrix) > 1 + 1e-3) or \
                        not np.allclose(matrix.T @ matrix, np.eye(ndims), atol=1e-3):
                    raise InputError.for_file(path, f"{key} {fields[key][:80]!r} is not a "
                                                    "rotation (orthonormal direction cosines)")


def parse_metaimage_header(path: str | Path) -> MetaHeader:
    """Parse the header of ``path`` (``.mhd`` or ``.mha``) up to its ``ElementDataFile`` line.

    Raises
    ------
    InputError
        Not a MetaImage header, missing or malformed keys, a data file list or pattern.
    """
    path = Path(path)
    with reading(path, "MetaImage header"), open(path, "rb") as handle:
        head = handle.read(MAX_HEADER_BYTES)
    fields: dict[str, str] = {}
    offset = 0
    for number, raw in enumerate(head.splitlines(keepends=True), start=1):
        offset += len(raw)
        if not raw.strip():
            continue
        match = _LINE.fullmatch(raw.rstrip(b"\r\n"))
        if match is None:
            raise InputError.for_file(path, f"line {number} is not 'Key = Value': not a "
                                            "MetaImage header")
        fields[match.group(1).decode("ascii")] = match.group(2).decode("latin-1")
        if match.group(1) == b"ElementDataFile":
            break
    else:
        raise InputError.for_file(path, "no ElementDataFile line in the header")
    ndims = _integers(path, fields, "NDims")
    dims = _integers(path, fields, "DimSize")
    if len(ndims) != 1 or not 2 <= ndims[0] <= 4 or len(dims) != ndims[0]:
        raise InputError.for_file(path, f"NDims {fields['NDims']} with DimSize "
                                        f"{fields['DimSize']}: only 2-D and 3-D images are read")
    if len(dims) == 4 and dims[3] != 1:
        raise InputError.for_file(path, f"a 4-D image (DimSize {fields['DimSize']}); only "
                                        "3-D volumes are read")
    if min(dims) < 1:
        raise InputError.for_file(path, f"DimSize {fields['DimSize']} has an empty axis")
    element_type = fields.get("ElementType", "").upper()
    if element_type not in ELEMENT_BYTES:
        raise InputError.for_file(path, f"unknown ElementType {fields.get('ElementType')!r}")
    channels = _integers(path, fields, "ElementNumberOfChannels")[0] \
        if "ElementNumberOfChannels" in fields else 1
    if channels != 1:
        raise InputError.for_file(path, f"{channels} channels per voxel; only scalar volumes "
                                        "are read")
    name = fields["ElementDataFile"]
    if name.upper() == "LIST" or "%" in name or " " in name.strip():
        raise InputError.for_file(path, f"ElementDataFile {name!r} (a list of files) is not "
                                        "supported; convert to one data file")
    local = name.upper() == "LOCAL"
    header_size = _integers(path, fields, "HeaderSize")[0] if "HeaderSize" in fields else 0
    if local:
        data_offset: int | None = offset + max(header_size, 0)
    else:
        data_offset = None if header_size == -1 else max(header_size, 0)
    _check_geometry(path, fields, len(dims))
    compressed = fields.get("CompressedData", "False").strip().lower() == "true"
    compressed_size = _integers(path, fields, "CompressedDataSize")[0] \
        if "CompressedDataSize" in fields else None
    return MetaHeader(fields=fields, dims=dims, element_type=element_type, channels=channels,
                      data_file=path if local else path.parent / name, data_offset=data_offset,
                      compressed=compressed, compressed_size=compressed_size)


def check_metaimage(path: str | Path) -> MetaHeader:
    """Parse the header and check that its data file holds the voxels it declares.

    Raises
    ------
    InputError
        A missing data file, or fewer bytes than declared (uncompressed), or more decoded bytes
        than the compressed stream can hold.
    """
    path = Path(path)
    header = parse_metaimage_header(path)
    if not header.data_file.is_file():
        raise InputError.for_file(path, f"ElementDataFile {header.data_file.name} is missing")
    size = header.data_file.stat().st_size
    start = header.data_offset if header.data_offset is not None else 0
    available = size - start
    if header.compressed:
        if header.compressed_size is not None:
            if header.compressed_size > available:
                raise InputError.for_file(
                    path, f"CompressedDataSize {header.compressed_size:,} is more than the "
                          f"{available:,} bytes in {header.data_file.name}")
            available = header.compressed_size
    check_declared(header.data_bytes, 1, path, available=available,
                   ratio=MAX_COMPRESSION_RATIO if header.compressed else 1,
                   what=f"the header of the voxels in {header.data_file.name}")
    return header
