"""Readers for large micrographs, binary object masks and class-index label images.

Formats: TIFF (classic and BigTIFF, 8/16-bit or float, grey or RGB, any compression tifffile
decodes), PNG and JPEG (Pillow). Uncompressed contiguous TIFF is memory-mapped read-only, so an
8000 × 7000 16-bit image opens at once and is read tile by tile as the tiler asks for crops.
Compressed data is decoded whole, after its declared size has been checked against what the
file can hold (:mod:`engines.core.safe_read`), and Pillow's pixel cap
(``Image.MAX_IMAGE_PIXELS``) is set to :data:`MAX_PIXELS` before any image is opened.

Every failure is an :class:`~engines.core.errors.InputError` that starts with the file name.
Pixel size (µm) comes from FEI/Thermo or Zeiss SEM metadata, else from the resolution tags
(TIFF; PNG/JPEG dpi), ignoring the 72/96 dpi defaults of programs that know no size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import MAX_COMPRESSION_RATIO, check_declared, reading

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
TIFF_SUFFIXES = (".tif", ".tiff")
#: Largest micrograph accepted, px (four times the paper's 7000 × 8000).
MAX_PIXELS = 16_000 * 14_000
PLACEHOLDER_DPI = (72.0, 96.0)
#: Pixel sizes a file may state, µm (outside: treated as not stated).
PIXEL_SIZE_RANGE_UM = (1e-6, 1e6)


@dataclass
class Micrograph:
    """A micrograph as read.

    Attributes
    ----------
    array : (H, W) or (H, W, 3) ndarray, uint8 / uint16 / float32
        Pixels; a read-only memory map for uncompressed TIFF.
    path : Path
    pixel_size_um : float or None
        Pixel size when the file states it.
    reader : str
        How it was read (``"tifffile (memory-mapped)"``, ``"Pillow"``, ...).
    warnings : list of str
        Things the user should know (pages ignored, channels dropped, rows cropped).
    """

    array: np.ndarray
    path: Path
    pixel_size_um: float | None = None
    reader: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.array.shape[0]), int(self.array.shape[1])

    @property
    def channels(self) -> int:
        return 1 if self.array.ndim == 2 else int(self.array.shape[2])


def _check_suffix(path: Path) -> None:
    if not path.is_file():
        raise InputError.for_file(path, "file not found" if not path.exists() else "not a file")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError.for_file(path, f"unsupported image type {path.suffix or '(none)'!r}; "
                                        f"use {', '.join(IMAGE_SUFFIXES)}")


def _check_pixels(path: Path, height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise InputError.for_file(path, f"empty image ({height} × {width} px)")
    if height * width > MAX_PIXELS:
        raise InputError.for_file(path, f"{height} × {width} px is more than the "
                                        f"{MAX_PIXELS:,} px this reader opens")


def _channels_last(path: Path, array: np.ndarray, warnings: list[str]) -> np.ndarray:
    """(H, W) or (H, W, 3): drops alpha, moves planar channels last, squeezes single pages."""
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[2] not in (3, 4):
        array = np.moveaxis(array, 0, 2)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 3 and array.shape[2] in (2, 4):
        warnings.append(f"{path.name}: alpha channel ignored")
        array = array[:, :, 0] if array.shape[2] == 2 else array[:, :, :3]
    if array.ndim != 2 and not (array.ndim == 3 and array.shape[2] == 3):
        raise InputError.for_file(path, f"image of shape {tuple(array.shape)}; expected a grey "
                                        "or RGB image")
    if array.dtype.kind not in "uif" or array.dtype.itemsize > 4:
        raise InputError.for_file(path, f"pixels of type {array.dtype} are not supported")
    if array.dtype.kind == "f":
        for r0 in range(0, array.shape[0], 1024):  # block by block: a memory map stays one
            if not np.isfinite(array[r0:r0 + 1024]).all():
                raise InputError.for_file(path, "pixels that are NaN or infinite (from row "
                                                f"{r0}); a micrograph needs finite values")
    return array


def _plausible(size_um: float | None) -> float | None:
    """A stated pixel size, or None when it is not within PIXEL_SIZE_RANGE_UM."""
    low, high = PIXEL_SIZE_RANGE_UM
    return size_um if size_um is not None and low <= size_um <= high else None


def _um_per_pixel(value: Any, unit: str) -> float | None:
    scale = {"m": 1e6, "mm": 1e3, "um": 1.0, "µm": 1.0, "nm": 1e-3}.get(str(unit).strip())
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return _plausible(number * scale) if scale and 0 < number < float("inf") else None


def _tiff_pixel_size(tif: Any) -> float | None:
    """µm per pixel from SEM metadata (FEI/Thermo, Zeiss) or the resolution tags."""
    from engines.imaging.tiff_spacing import file_spacing

    try:
        fei = tif.fei_metadata
        if fei and "Scan" in fei:
            return _um_per_pixel(fei["Scan"].get("PixelWidth"), "m")
        zeiss = tif.sem_metadata
        if zeiss and "ap_image_pixel_size" in zeiss:
            entry = zeiss["ap_image_pixel_size"]
            return _um_per_pixel(entry[1], entry[2])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        pass
    spacing = file_spacing(tif)
    return _plausible(spacing.x * 1e3) if spacing.x else None


def _read_tiff(path: Path, warnings: list[str]) -> tuple[np.ndarray, float | None, str]:
    import tifffile

    from engines.imaging.tiff_stack import (
        _check_compression,
        _check_strips,
        _open_tiff,
        _shaped,
        _tag_number,
    )

    with _open_tiff(path) as tif:
        if not tif.series:
            raise InputError.for_file(path, "no image in the TIFF file")
        series = tif.series[0]
        if len(tif.series) > 1 or len(series.pages) > 1:
            warnings.append(f"{path.name}: several pages; the first image was read")
        page = series.pages[0]
        shape = tuple(page.shape) if page is not None else ()
        if page is None or page.dtype is None or len(shape) < 2:
            raise InputError.for_file(path, f"no decodable image in the first page (shape "
                                            f"{shape}; damaged IFD)")
        planar = len(shape) == 3 and shape[0] in (3, 4) and \
            _tag_number(path, page.planarconfig, "PlanarConfiguration") == 2
        height, width = (shape[1], shape[2]) if planar else shape[:2]
        _check_pixels(path, int(height), int(width))
        declared = int(np.prod(shape)) * page.dtype.itemsize
        contiguous = _check_compression(path, page) == 1 and page.is_contiguous and \
            len(series.pages) == 1
        if contiguous:
            check_declared(declared, 1, path, available=path.stat().st_size -
                           page.dataoffsets[0], what="the image")
        else:
            _check_strips(path, [page], declared)
        pixel_size = _tiff_pixel_size(tif)
        reader = "tifffile" + (" (memory-mapped)" if contiguous else "")
        if tif.is_bigtiff:
            reader += ", BigTIFF"
        array = None if contiguous else _shaped(path, page.asarray(), shape)
    if array is None:
        with reading(path, "TIFF micrograph"):
            array = tifffile.memmap(path, mode="r", series=0)
    return array, pixel_size, reader


def _pillow_image(path: Path):
    """An opened (not decoded) Pillow image with its size checked."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with reading(path, "image"):
        image = Image.open(path)
        width, height = image.size
    _check_pixels(path, height, width)
    bands = len(image.getbands())
    depth = 2 if image.mode.startswith("I;16") else 4 if image.mode in ("I", "F") else 1
    check_declared(height * width * bands * depth, 1, path, available=path.stat().st_size,
                   ratio=MAX_COMPRESSION_RATIO, what="the image")
    return image


def _pillow_pixel_size(image) -> float | None:
    dpi = image.info.get("dpi")
    try:
        x = float(dpi[0])
    except (TypeError, ValueError, IndexError):
        return None
    # PNG stores pixels per metre: 72 and 96 dpi come back as 72.009 and 96.012
    return None if round(x, 1) in PLACEHOLDER_DPI or not x > 0 else _plausible(25400.0 / x)


def _read_pillow(path: Path, palette_indices: bool) -> tuple[np.ndarray, float | None]:

    image = _pillow_image(path)
    with reading(path, "image"), image:
        image.load()
        pixel_size = _pillow_pixel_size(image)
        mode = image.mode
        if mode == "P" and not palette_indices:
            image = image.convert("RGB")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            image = image.convert("RGB")
        elif mode == "1":
            image = image.convert("L")
        array = np.asarray(image)
    if array.dtype == np.int32 and array.size and 0 <= array.min() and array.max() < 65536:
        array = array.astype(np.uint16)
    return array, pixel_size


def read_image_array(path: str | Path, *, palette_indices: bool = False
                     ) -> tuple[np.ndarray, float | None, str, list[str]]:
    """``(array, pixel size µm or None, reader, warnings)`` of an image file.

    ``palette_indices`` keeps a palette PNG's indices (for label images) instead of its
    colours.
    """
    path = Path(path)
    _check_suffix(path)
    warnings: list[str] = []
    if path.suffix.lower() in TIFF_SUFFIXES:
        array, pixel_size, reader = _read_tiff(path, warnings)
    else:
        array, pixel_size = _read_pillow(path, palette_indices)
        reader = "Pillow"
    return _channels_last(path, array, warnings), pixel_size, reader, warnings


def read_micrograph(path: str | Path, crop_bottom: int = 0) -> Micrograph:
    """Read a micrograph (grey or RGB; memory-mapped when it can be).

    Parameters
    ----------
    crop_bottom
        Rows of an instrument data bar to drop from the bottom, px.
    """
    path = Path(path)
    array, pixel_size, reader, warnings = read_image_array(path)
    micrograph = Micrograph(array, path, pixel_size, reader, warnings)
    if crop_bottom:
        crop_rows(micrograph, micrograph.shape[0] - int(crop_bottom), "a data bar setting")
    return micrograph


def crop_rows(micrograph: Micrograph, rows: int, why: str) -> None:
    """Keep the first ``rows`` rows (a view), with a warning that says ``why``."""
    height = micrograph.shape[0]
    if rows < 1:
        raise InputError.for_file(micrograph.path, f"cropping {height - rows} rows ({why}) "
                                                   f"leaves nothing of {height}")
    if rows < height:
        micrograph.array = micrograph.array[:rows]
        micrograph.warnings.append(f"{micrograph.path.name}: bottom {height - rows} rows "
                                   f"cropped ({why}); {rows} rows kept")


def to_grey(array: np.ndarray, rows_per_block: int = 1024) -> np.ndarray:
    """(H, W) grey image of a grey or RGB ``array``: an RGB image whose channels are equal
    gives its first channel (a view), others the Rec. 601 luma, computed block by block."""
    if array.ndim == 2:
        return array
    if channels_equal(array):
        return array[:, :, 0]
    out = np.empty(array.shape[:2], dtype=array.dtype)
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    for r0 in range(0, array.shape[0], rows_per_block):
        block = np.asarray(array[r0:r0 + rows_per_block], dtype=np.float32) @ weights
        out[r0:r0 + rows_per_block] = np.round(block) if out.dtype.kind in "ui" else block
    return out


def channels_equal(array: np.ndarray, rows_per_block: int = 1024) -> bool:
    """Whether the colour channels of (H, W, C) ``array`` are all equal (checked by blocks)."""
    for r0 in range(0, array.shape[0], rows_per_block):
        block = np.asarray(array[r0:r0 + rows_per_block])
        if not all(np.array_equal(block[..., 0], block[..., c]) for c in
                   range(1, block.shape[2])):
            return False
    return True
