"""The reader boundary: library exceptions become :class:`InputError`, declared sizes are checked
against what the file can hold before anything is allocated.

Every volume reader wraps its library calls in :func:`reading` and checks the sizes a header
declares with :func:`check_declared_bytes` before it asks a library to decode. Keeping both here,
in one place, lets the mapping move to a project-wide boundary later without touching the
readers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engines.core.errors import InputError

#: Most bytes a reader decodes from compressed data whose decoded size the file size cannot
#: vouch for (gzip, JPEG 2000, ...). Uncompressed data is bounded by the file itself.
MAX_DECODED_BYTES = 2 * 10**9

#: Deflate (zlib, gzip) cannot expand data by more than about 1032:1; a header that declares
#: more decoded bytes than this many times the compressed size is lying.
MAX_DEFLATE_RATIO = 1100


def _library_errors() -> tuple[type[BaseException], ...]:
    """The exceptions the imaging libraries raise on bad files (imported only when needed)."""
    errors: list[type[BaseException]] = [OSError, ValueError, EOFError, struct.error, zlib.error]
    try:
        from pydicom.errors import InvalidDicomError
        errors.append(InvalidDicomError)
    except ImportError:  # pragma: no cover - pydicom is a dependency
        pass
    try:
        from nibabel.filebasedimages import ImageFileError
        errors.append(ImageFileError)
    except ImportError:  # pragma: no cover - nibabel is a dependency
        pass
    return tuple(errors)


@contextmanager
def reading(path: str | Path, *, also: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Turn the exceptions a library raises on a bad file into ``InputError("<name>: ...")``.

    Parameters
    ----------
    path
        The file being read; its name starts the message.
    also
        Further exception types to map for this call only, e.g. ``(RuntimeError,)`` around
        SimpleITK or a pixel decoder, which raise it for corrupt data.
    """
    try:
        yield
    except InputError:
        raise
    except (*_library_errors(), *also) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError.for_file(path, f"cannot be read ({detail})") from error


def check_declared_bytes(path: str | Path, declared: int, available: int, *,
                         compressed: bool = False, what: str = "the data") -> None:
    """Refuse a header whose declared data cannot be in the file, before allocating it.

    Parameters
    ----------
    declared
        Bytes the header says the decoded data takes.
    available
        Bytes of the file that can hold the data (file size less header, or the compressed
        stream's size).
    compressed
        ``True`` when the data is deflate-compressed: then it may expand by up to
        :data:`MAX_DEFLATE_RATIO` and at most to :data:`MAX_DECODED_BYTES`.
    """
    if declared <= 0:
        raise InputError.for_file(path, f"the header declares no voxels for {what}")
    if not compressed:
        if declared > available:
            raise InputError.for_file(
                path, f"the header declares {declared:,} bytes for {what} but only "
                      f"{max(available, 0):,} are in the file (truncated or wrong header)")
        return
    if declared > MAX_DECODED_BYTES:
        raise InputError.for_file(
            path, f"the header declares {declared:,} bytes of compressed {what}, more than the "
                  f"{MAX_DECODED_BYTES:,} this reader decodes")
    if declared > MAX_DEFLATE_RATIO * max(available, 1):
        raise InputError.for_file(
            path, f"the header declares {declared:,} bytes for {what}, which cannot be "
                  f"compressed into {available:,} bytes (wrong header)")
