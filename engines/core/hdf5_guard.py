"""Damage in an HDF5 file that would make libhdf5 loop for ever, found before h5py opens it.

A variable-length string (our files' ``format``, ``content`` and ``metadata`` attributes) lives
in a *global heap collection* ("GCOL"). libhdf5 walks a collection's objects when it loads it:
each used object advances the walk by its header and aligned size, the free-space object
(index 0) by its size alone. A free-space object of size 0 before the collection's end (zeroed
bytes do this) never advances it, and the read spins in C code, where no Python alarm reaches.
:func:`check_global_heaps` walks every collection the same way first and refuses such a file
(and one whose free space is smaller than an object header, or that has more entries than a
collection can index, so the walk itself is bounded).

The layout (HDF5 file format specification, "Global Heap"): ``GCOL``, version 1, 3 reserved
bytes, the collection size (8 bytes, the file's length size; 8 in every file h5py writes),
then objects of index (2 bytes), reference count (2), reserved (4), size (8), data padded to
8 bytes. A collection is at least 4096 bytes.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path

from engines.core.errors import InputError

SIGNATURE = b"GCOL"
HEADER_BYTES = 16  # signature, version, reserved, collection size
OBJECT_HEADER_BYTES = 16
MIN_COLLECTION_BYTES = 4096
#: Objects a collection can index (a 2-byte index; 0 is the free space): bounds the walk.
MAX_OBJECTS = 65_535


def check_global_heaps(path: str | Path) -> None:
    """InputError naming ``path`` when a global heap collection would make libhdf5 loop.

    Only byte runs that are a collection header (signature, version 1, zero reserved bytes, a
    size of at least 4096 that fits the file) are walked, so data that happens to hold the
    four letters is not mistaken for one.
    """
    path = Path(path)
    with path.open("rb") as stream:
        size = stream.seek(0, 2)
        if size < HEADER_BYTES:
            return
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = data.find(SIGNATURE)
            while start >= 0:
                _walk(path, data, start, size)
                start = data.find(SIGNATURE, start + 1)


def _walk(path: Path, data, start: int, file_size: int) -> None:
    if start + HEADER_BYTES > file_size or data[start + 4:start + 8] != b"\x01\x00\x00\x00":
        return
    (length,) = struct.unpack_from("<Q", data, start + 8)
    if length < MIN_COLLECTION_BYTES or start + length > file_size:
        return
    end, at = start + length, start + HEADER_BYTES
    for _ in range(MAX_OBJECTS + 2):  # every indexed object, then the free space
        if at + OBJECT_HEADER_BYTES > end:
            return
        index, = struct.unpack_from("<H", data, at)
        (object_size,) = struct.unpack_from("<Q", data, at + 8)
        if index == 0 and object_size < OBJECT_HEADER_BYTES:  # 0: libhdf5 spins on it
            raise InputError.for_file(path, f"damaged global heap at byte {start:,}: a "
                                            f"free-space entry of {object_size} bytes (its "
                                            "strings cannot be read)")
        at += object_size if index == 0 else \
            OBJECT_HEADER_BYTES + (object_size + 7) // 8 * 8
    raise InputError.for_file(path, f"damaged global heap at byte {start:,}: more than "
                                    f"{MAX_OBJECTS:,} entries")
