"""TIFF stacks: one multi-page file (classic or BigTIFF, ImageJ, OME) or a folder of slices.

Pages are greyscale, 8/16-bit integer or float. The voxel size comes from the file
(:mod:`engines.imaging.tiff_spacing`), else from the caller's ``spacing_xyz``, else 1 mm with a
warning. Uncompressed contiguous data is memory-mapped (copy-on-write), so a stack larger than
memory opens at once; declared sizes are checked against the file before anything is decoded.
TIFF has no patient geometry: the origin is 0 and the direction the identity.
"""

from __future__ import annotations

import logging
import math
import os
import re
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.core.safe_read import MAX_COMPRESSION_RATIO, check_declared, reading
from engines.imaging.tiff_spacing import FileSpacing, file_spacing
from engines.imaging.volume import Volume, compact_values

TIFF_SUFFIXES = (".tif", ".tiff")
#: Most pages (IFDs) a TIFF file may have: a stack of 65,536 slices is beyond any volume read
#: here, and a hostile chain of tiny IFDs costs tifffile ~50 µs a page.
MAX_PAGES = 65_536


class _LoggedErrors(logging.Handler):
    """Collects what tifffile logs as errors: it logs a broken page chain (a truncated file)
    and carries on with the pages it found, which must not pass as a shorter stack."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def check_ifd_chain(path: Path, max_pages: int = MAX_PAGES) -> int:
    """Walk the chain of IFDs (pages) and return its length; InputError if it loops or is
    longer than ``max_pages``.

    tifffile catches a loop only at the 100th page of a full walk: a file whose second IFD
    points back at the first makes ``TiffFile.series`` build pages until memory runs out.
    What this walk cannot follow (not a TIFF, a cut chain) is left for tifffile to report.
    """
    with path.open("rb") as stream:
        head = stream.read(16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 8:
            return 0
        version = struct.unpack(order + "H", head[2:4])[0]
        if version == 42:
            count_format, tag_size, offset_format = "H", 12, "I"
            offset = struct.unpack(order + "I", head[4:8])[0]
        elif version == 43 and len(head) == 16:
            count_format, tag_size, offset_format = "Q", 20, "Q"
            offset = struct.unpack(order + "Q", head[8:16])[0]
        else:
            return 0
        count_size = struct.calcsize(count_format)
        offset_size = struct.calcsize(offset_format)
        size = path.stat().st_size
        seen: dict[int, int] = {}
        while 0 < offset < size:
            if offset in seen:
                raise InputError.for_file(path, f"the chain of pages loops (page {len(seen) - 1} "
                                                f"points back at page {seen[offset]})")
            if len(seen) == max_pages:
                raise InputError.for_file(path, f"more than {max_pages} pages")
            seen[offset] = len(seen)
            stream.seek(offset)
            raw = stream.read(count_size)
            if len(raw) < count_size:
                break
            n_tags = struct.unpack(order + count_format, raw)[0]
            end = offset + count_size + n_tags * tag_size
            if n_tags > 4096 or end >= size:  # tifffile's own limit; a cut chain
                break
            stream.seek(end)
            raw = stream.read(offset_size)
            if len(raw) < offset_size:
                break
            offset = struct.unpack(order + offset_format, raw)[0]
    return len(seen)


@contextmanager
def _open_tiff(path: Path) -> Iterator:
    """``tifffile.TiffFile(path)`` whose logged errors and exceptions become InputError."""
    import tifffile

    handler = _LoggedErrors()
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    try:
        with reading(path, "TIFF file"):
            check_ifd_chain(path)
        with reading(path, "TIFF file"), tifffile.TiffFile(path) as tif:
            yield tif
            if handler.messages:
                detail = handler.messages[-1].split("> ", 1)[-1]
                raise InputError.for_file(path, f"corrupt or truncated TIFF ({detail})")
    finally:
        logger.removeHandler(handler)


def resolve_spacing(found: FileSpacing, fallback: tuple[float, float, float] | None,
                    name: str) -> tuple[tuple[float, float, float], list[str], str]:
    """Voxel size ``(x, y, z)`` mm, warnings, and where it came from."""
    warnings = [f"{name}: {note}" for note in found.notes]
    x, y, z = found.x, found.y, found.z
    x, y = x or y, y or x
    if x is None or y is None:
        if fallback is not None:
            return tuple(float(v) for v in fallback), warnings, "spacing_xyz argument"
        warnings.append(f"{name}: no voxel size in the file; 1 mm assumed")
        return (1.0, 1.0, 1.0), warnings, "assumed"
    source = found.source
    if z is None:
        if fallback is not None:
            z, source = float(fallback[2]), f"{source} (z from the spacing_xyz argument)"
        else:
            z = x
            warnings.append(f"{name}: no slice spacing in the file; {x:.4g} mm (the pixel "
                            "size) assumed")
    if fallback is not None and not np.allclose(fallback, (x, y, z), rtol=1e-3):
        warnings.append(f"{name}: the file gives {x:.4g}×{y:.4g}×{z:.4g} mm, used instead of "
                        f"the spacing_xyz given {tuple(fallback)}")
    return (x, y, z), warnings, source


#: TIFF compressions tifffile decodes without imagecodecs, each with its best ratio (bytes
#: decoded per byte stored): none 1; PackBits 64 (a 2-byte run gives at most 128 bytes);
#: DEFLATE (Adobe and old) 1032; LZW under 3641 (a code has at least 9 bits and gives at most
#: 4096 bytes); LZMA without a bound, so only the allocation limit applies. Others (JPEG,
#: zstd, ...) would need codecs that are not installed.
COMPRESSION_RATIOS = {1: 1.0, 32773: 64.0, 8: MAX_COMPRESSION_RATIO,
                      32946: MAX_COMPRESSION_RATIO, 5: 4096 * 8 / 9, 34925: math.inf}


def _tag_number(path: Path, value, name: str) -> int:
    """A one-number TIFF tag's value; tifffile gives a tuple when the tag holds several."""
    if isinstance(value, tuple):
        raise InputError.for_file(path, f"the {name} tag holds {len(value)} values, not one "
                                        "(damaged IFD)")
    if not isinstance(value, int | np.integer):  # a damaged tag type: text or a float
        raise InputError.for_file(path, f"the {name} tag holds {type(value).__name__} "
                                        f"{str(value)[:20]!r}, not a number (damaged IFD)")
    return int(value)


def _check_compression(path: Path, page) -> float:
    """The best compression ratio of ``page`` (1: uncompressed); InputError when its
    compression cannot be decoded."""
    code = _tag_number(path, page.compression, "Compression")
    if code not in COMPRESSION_RATIOS:
        raise InputError.for_file(path, f"TIFF compression {code} cannot be decoded here "
                                        "(supported: none, LZW, deflate, PackBits, LZMA)")
    return COMPRESSION_RATIOS[code]


def _stack_shape(path: Path, shape: tuple[int, ...], samples: int) -> tuple[int, int, int]:
    """The ``(z, y, x)`` shape of a series of ``shape``; InputError unless greyscale 2-/3-D."""
    if samples != 1:
        raise InputError.for_file(path, f"{samples} samples per pixel (colour); a volume needs "
                                        "greyscale pages")
    squeezed = tuple(n for n in shape if n != 1) if len(shape) > 3 else tuple(shape)
    if len(squeezed) == 2:
        squeezed = (1, *squeezed)
    if len(squeezed) != 3:
        raise InputError.for_file(path, f"image of shape {tuple(shape)}; a volume needs "
                                        "Z×Y×X greyscale pages")
    return squeezed


def _shaped(path: Path, data: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``data`` decoded from the pages in ``shape``; InputError when it holds another number
    of values (tifffile gives back what it could decode from damaged pages)."""
    if data.size != math.prod(shape):
        raise InputError.for_file(path, f"the pages decode to {data.size} values, the header "
                                        f"declares {math.prod(shape)} (damaged pixel data)")
    return data.reshape(shape)


def _check_strips(path: Path, pages, declared: int) -> None:
    """Every strip or tile lies inside the file, and they can hold the declared bytes at their
    compression's best ratio (a tiny hostile file declaring gigabytes is refused unread)."""
    size = path.stat().st_size
    total, ratio = 0, 1.0
    for page in pages:
        if page is None:
            continue
        ratio = max(ratio, _check_compression(path, page))
        for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
            if offset + count > size:
                raise InputError.for_file(path, "pixel data runs past the end of the file "
                                                "(truncated)")
            total += count
    check_declared(declared, 1, path, available=total, ratio=ratio,
                   what="the header of the pages")


def read_tiff_file(path: str | Path, *, spacing_xyz=None) -> Volume:
    """One multi-page TIFF as a volume (memory-mapped when uncompressed and contiguous).

    Raises
    ------
    InputError
        Not a TIFF, pages of different sizes or types, colour pages, truncated data.
    """
    import tifffile

    path = Path(path)
    warnings: list[str] = []
    with _open_tiff(path) as tif:
        series = tif.series
        if not series:
            raise InputError.for_file(path, "no image in the TIFF file")
        if len(series) > 1:
            shapes = ", ".join(f"{tuple(s.shape)} {s.dtype}" for s in series[:4])
            if not tif.is_ome:
                raise InputError.for_file(path, f"pages of different sizes or types ({shapes}); "
                                                "a volume needs equal pages")
            warnings.append(f"{path.name}: {len(series)} images in the OME file; read the first")
        stack = series[0]
        key = stack.keyframe
        samples = _tag_number(path, key.samplesperpixel, "SamplesPerPixel")
        shape = _stack_shape(path, tuple(stack.shape), samples)
        declared = math.prod(shape) * stack.dtype.itemsize
        contiguous = stack.dataoffset is not None and _check_compression(path, key) == 1
        if contiguous:
            check_declared(declared, 1, path, available=path.stat().st_size - stack.dataoffset,
                           what="the header of the pages")
        else:
            _check_strips(path, stack.pages, declared)
        spacing, notes, source = resolve_spacing(file_spacing(tif), spacing_xyz, path.name)
        array = None if contiguous else compact_values(_shaped(path, stack.asarray(), shape))
        big = tif.is_bigtiff
    if array is None:
        with reading(path, "TIFF file"):
            array = tifffile.memmap(path, mode="c").reshape(shape)
    metadata = {"reader": "tifffile" + (" (memory-mapped)" if contiguous else ""),
                "spacing_source": source, "bigtiff": big, "warnings": warnings + notes}
    return Volume(array, spacing_xyz=spacing, source=path, metadata=metadata)


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", path.name)]


def tiff_slices(folder: Path) -> list[Path]:
    """The TIFF files directly in ``folder``, in natural order (``s2`` before ``s10``)."""
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in TIFF_SUFFIXES
                   and not p.name.startswith(".")), key=_natural_key)


def read_tiff_folder(folder: str | Path, *, spacing_xyz=None) -> TaskGenerator[Volume]:
    """A folder of single-page TIFF slices as a volume; yields :class:`Progress`.

    Slices are ordered by file name in natural order. All must have one size and type.
    """
    import tifffile

    folder = Path(folder)
    files = tiff_slices(folder)
    if not files:
        raise InputError.for_file(folder, "no TIFF slices in the folder")
    expected = None
    spacing_found = FileSpacing()
    for path in files:
        with _open_tiff(path) as tif:
            page = tif.pages.first
            samples = _tag_number(path, page.samplesperpixel, "SamplesPerPixel")
            shape = _stack_shape(path, tuple(tif.series[0].shape), samples)
            if shape[0] != 1 or len(tif.pages) != 1:
                raise InputError.for_file(path, f"{len(tif.pages)} pages; a folder stack needs "
                                                "one 2-D slice per file")
            described = (shape[1:], page.dtype)
            _check_strips(path, [page], math.prod(shape) * page.dtype.itemsize)
            if expected is None:
                expected, spacing_found = described, file_spacing(tif)
            elif described != expected:
                raise InputError.for_file(path, f"slice of {described[0]} {described[1]}, but "
                                                f"{files[0].name} is {expected[0]} {expected[1]}")
    yield Progress(0.05, f"{len(files)} TIFF headers read")
    array = np.empty((len(files), *expected[0]), expected[1])
    for k, path in enumerate(files):
        with reading(path, "TIFF file"):
            array[k] = _shaped(path, tifffile.imread(path), expected[0])
        if k % 16 == 15:
            yield Progress(0.05 + 0.95 * (k + 1) / len(files), f"slice {k + 1}/{len(files)}")
    spacing, warnings, source = resolve_spacing(spacing_found, spacing_xyz, folder.name)
    return Volume(compact_values(array), spacing_xyz=spacing, source=folder,
                  metadata={"reader": "tifffile (folder of slices)", "files": len(files),
                            "spacing_source": source, "warnings": warnings})


def write_tiff(volume: Volume, path: str | Path, *, compression: str | None = None,
               bigtiff: bool = False) -> Path:
    """Write ``volume`` as one multi-page TIFF with its voxel size.

    Parameters
    ----------
    compression
        ``None`` or ``"zlib"`` (deflate).
    bigtiff
        Write BigTIFF (for stacks over 4 GB). Classic files are ImageJ hyperstacks (``spacing``
        and ``unit=mm`` in the description, pixels per mm in X/YResolution); BigTIFF files carry
        the same in tifffile's JSON description and X/YResolution in pixels per cm.

    Returns
    -------
    Path
        ``path``, written under a temporary name and renamed into place.
    """
    import tifffile

    if compression not in (None, "zlib"):
        raise InputError(f"unknown TIFF compression {compression!r}; choose None or 'zlib'")
    path = Path(path)
    array = compact_values(volume.array)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    elif array.dtype == np.int8:
        array = array.astype(np.int16)
    sx, sy, sz = volume.spacing_xyz
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        if bigtiff:
            tifffile.imwrite(temporary, array, bigtiff=True, compression=compression,
                             photometric="minisblack",
                             resolution=(10.0 / sx, 10.0 / sy), resolutionunit="CENTIMETER",
                             metadata={"spacing": sz, "unit": "mm"})
        else:
            tifffile.imwrite(temporary, array, imagej=True, compression=compression,
                             resolution=(1.0 / sx, 1.0 / sy),
                             metadata={"spacing": sz, "unit": "mm", "axes": "ZYX"})
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
