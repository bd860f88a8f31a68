"""Writing micrographs and label images (atomically: a temporary name renamed into place).

Label images are written as palette PNG: the pixel values are the class indices (any reader
gets the indices) and the palette holds the class colours (any viewer shows the classes).
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes

PNG_LEVEL = 3   # zlib level: a 56-megapixel label image in about a second


def _written(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be written ({exc.strerror or exc})") from None
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_label_png(path: str | Path, labels: np.ndarray,
                    colours: Sequence[tuple[int, int, int]] | None = None) -> Path:
    """Write (H, W) class indices (0…255) as a palette PNG with ``colours`` by index."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "ub" or labels.dtype.itemsize != 1:
        raise ValueError(f"labels must be (H, W) uint8, got {labels.dtype} {labels.shape}")
    image = Image.frombytes("P", (labels.shape[1], labels.shape[0]),
                            np.ascontiguousarray(labels, dtype=np.uint8).tobytes())
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[:, :] = np.arange(256, dtype=np.uint8)[:, None]
    if colours is not None:
        palette[:len(colours)] = np.asarray(colours, dtype=np.uint8)
    image.putpalette(palette.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_LEVEL)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def write_mask_png(path: str | Path, mask: np.ndarray) -> Path:
    """Write an (H, W) bool mask as an 8-bit PNG of 0 and 255."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(
        buffer, format="PNG", compress_level=PNG_LEVEL)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def write_micrograph(path: str | Path, image: np.ndarray, pixel_size_um: float | None = None,
                     compression: str | None = None) -> Path:
    """Write a grey or RGB micrograph as TIFF (uncompressed by default, so it is memory-mapped
    on reading; BigTIFF above 2 GB; resolution tags in pixels per cm), PNG or JPEG (quality
    95), by the suffix of ``path``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import tifffile

        options = {"photometric": "minisblack" if image.ndim == 2 else "rgb",
                   "compression": compression, "bigtiff": image.nbytes > 2**31}
        if pixel_size_um:
            options.update(resolution=(1e4 / pixel_size_um, 1e4 / pixel_size_um),
                           resolutionunit="CENTIMETER")
        return _written(path, lambda p: tifffile.imwrite(p, image, **options))
    if suffix not in (".png", ".jpg", ".jpeg"):
        raise InputError.for_file(path, "write micrographs as .tif, .png or .jpg")
    from PIL import Image

    if suffix != ".png" and image.dtype != np.uint8:
        image = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else image
    pil = Image.fromarray(image)
    dpi = 25400 / pixel_size_um if pixel_size_um else None
    options = {"dpi": (dpi, dpi)} if dpi and (suffix == ".png" or dpi < 65536) else {}
    if suffix == ".png":
        options["compress_level"] = PNG_LEVEL
    else:
        options["quality"] = 95
    return _written(path, lambda p: pil.save(p, format="PNG" if suffix == ".png" else "JPEG",
                                             **options))
