"""The boundary every file reader goes through: a hostile file ends in one :class:`InputError`.

A bad file must give ``InputError("<file name>: <plain reason>")``: never a traceback, a hang,
a giant allocation or wrong data. This module decides what counts as "the file's fault" and
holds the few helpers that keep a reader's work and memory proportional to the bytes it was
given, whatever the file's header claims.

How a reader uses it
--------------------
::

    from engines.core.safe_read import (MAX_COMPRESSION_RATIO, check_declared, check_file,
                                        finite_after_cast, reading)

    def read_stack(path):
        with reading(path, "TIFF stack"):                       # 1
            size = check_file(path)                             # 2
            with tifffile.TiffFile(path) as tif:
                shape, dtype = ..., ...
                check_declared(np.prod(shape), dtype.itemsize, path, available=size,
                               ratio=MAX_COMPRESSION_RATIO, what="pixel data")  # 3
                volume = tif.asarray()
            spacing = finite_after_cast(raw_spacing, np.float32, "pixel spacing", path)  # 5
            ...                                                 # 6: validate the result

1. Wrap the whole read, including the validation of what it returns, in
   ``with reading(path, kind):``. Library exceptions that are the file's fault (rule below)
   leave it as ``InputError("<name>: not a readable <kind> (<reason>)")``; InputErrors raised
   inside pass through unchanged; numpy overflow warnings are silenced, because every value
   is checked explicitly (5).
2. ``check_file(path)`` refuses missing paths, folders, special and empty files and returns
   the size; ``read_bytes_limited(path, max_bytes)`` reads a whole (small) file after the
   same checks and a size limit.
3. Before allocating anything whose size a header declares, ``check_declared(n, itemsize,
   path, available=stored_bytes, ratio=...)``: the claim must fit the bytes that hold it
   (times the best ratio of the file's compression) and a fixed allocation limit.
4. Text, XML and JSON (in :mod:`engines.core.safe_text`): ``open_text_limited(path,
   max_bytes, max_line_chars, max_lines)`` streams lines (``for number, line in lines`` or,
   faster, ``for first, block in lines.blocks()``) with a byte, a line-length and a
   line-count limit (no regex or csv module ever sees a 100 kB line) and one encoding policy
   (UTF-8, UTF-16 with BOM, a few legacy 8-bit bytes); ``decode_text`` applies the same
   policy to bytes in memory. ``parse_xml_safely(source, path, max_depth=...,
   max_elements=...)``: no DOCTYPE, no entities, depth and element limits.
   ``parse_json_safely(text, path, max_depth=...)``.
5. Values are checked in the dtype they are kept in: ``finite_after_cast(values,
   np.float32, "hit times", path)`` (1e300 is finite as float64 but infinite as float32;
   300 does not fit int8).
6. The reader checks what it built (sizes consistent, counts non-negative, index ranges
   inside the data) and raises ``InputError.for_file(path, problem)``.

Time is budgeted the same way, before the work starts: a wall clock cannot stop C code (a
regex, a decompressor), so instead no reader does work that grows faster than the bytes it
was given. Declared sizes are checked against stored bytes (3), text comes in bounded lines
(4), patterns have no nested repetition, and nothing loops in Python over a count a header
claims. The fuzzer (``tests/fuzz``) holds every reader to a 10 s alarm and 2 GiB.

What counts as the file's fault
-------------------------------
Inside :func:`reading` an exception becomes an :class:`InputError` naming the file when

* its class is defined by a file library (the top-level module of ``type(exc).__module__``
  is in :data:`FILE_LIBRARIES`: h5py, uproot, awkward, tifffile, pydicom, SimpleITK,
  nibabel, PIL, lxml, defusedxml, xml/expat, csv, json, zlib, struct, ...), whatever its base
  (``ET.ParseError`` is a SyntaxError), unless it is a TypeError, AttributeError or NameError;
* it is a builtin data error (:data:`DATA_ERRORS`: ValueError, LookupError, RuntimeError,
  EOFError, ArithmeticError and their subclasses) *raised inside a file library*: the
  traceback holds a frame of a :data:`FILE_LIBRARIES` module below the innermost frame of
  our own code. h5py, for one, reports a damaged B-tree as KeyError, RuntimeError, OSError
  or ValueError from its Cython layer;
* it was raised inside a deserialiser written in Python (:data:`PYTHON_DESERIALISERS`:
  uproot, awkward, tifffile), whatever its type except a broken installation (ImportError,
  SyntaxError): uproot meets a damaged streamer with an AssertionError, an AttributeError on
  None or an UnboundLocalError; tifffile asserts on a page without a known sample type. The price is that a wrong call of ours into uproot reads as a
  bad file; but such a call fails on every file, valid ones included, and the reader tests
  catch it;
* it is a SyntaxError raised by Pillow's Python code (``SyntaxError: broken PNG file``: Pillow
  reports damaged image files that way) rather than a compile error (which has a file name);
* it is a panic of a decoder written in Rust (pyo3's ``PanicException``, a BaseException:
  pylibjpeg-rle panics on an out-of-bounds run);
* it is an OSError (the system or a library could not read the bytes) or a MemoryError (the
  file needs more memory than there is; the size checks above should have refused it first).

Everything else propagates unchanged, because it is a bug to fix rather than a file to
refuse: TypeError, AttributeError, NameError, AssertionError, ImportError and the like (from
anywhere but a Python deserialiser), and any data error raised by our own code (numpy
refusing our arguments included).
Where a library reports bad data with builtins raised at the call itself (expat, json, csv,
codecs) the helpers here catch those documented types explicitly, at that call.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError, LabLensError

#: Top-level modules whose exceptions (by class, or builtins raised inside them) mean "bad file".
FILE_LIBRARIES = frozenset({
    "h5py", "uproot", "awkward", "tifffile", "imagecodecs", "pydicom", "pylibjpeg", "openjpeg",
    "libjpeg", "rle", "SimpleITK", "nibabel", "PIL", "lxml", "defusedxml", "xml", "pyexpat",
    "csv", "_csv", "json", "zlib", "gzip", "bz2", "_bz2", "lzma", "_lzma", "zipfile", "tarfile",
    "struct", "_struct", "safetensors", "cramjam", "lz4", "zstandard", "xxhash",
    "pyo3_runtime"})
#: Builtin exception types that count when a file library raised them.
DATA_ERRORS = (ValueError, LookupError, RuntimeError, EOFError, ArithmeticError)
#: Never the file's fault, whoever raised them.
PROGRAMMING_ERRORS = (TypeError, AttributeError, NameError, AssertionError, ImportError,
                      SyntaxError, StopIteration)
_LIBRARY_BUGS = (TypeError, AttributeError, NameError)
#: Deserialisers written in Python: they report some damaged files with AssertionError,
#: AttributeError, TypeError... from deep inside their parsing code.
PYTHON_DESERIALISERS = frozenset({"uproot", "awkward", "tifffile"})
#: Never the file's fault, even inside a Python deserialiser (a broken installation).
BROKEN_INSTALL = (ImportError, SyntaxError)
#: Packages of our own code (frames of these are "ours" when reading a traceback).
OWN_PACKAGES = frozenset({"engines", "app", "widgets", "tests", "main", "__main__"})

#: Best ratio of DEFLATE (zlib/gzip), the compression of our HDF5 files: 1032 to 1.
MAX_COMPRESSION_RATIO = 1032
#: Largest single allocation a header may ask a reader for.
MAX_ALLOCATION_BYTES = 4 << 30


# --------------------------------------------------------------------------- the boundary

def is_file_fault(exc: BaseException) -> bool:
    """Whether ``exc``, raised while reading a file, is the file's fault (see module docstring)."""
    if isinstance(exc, LabLensError | OSError | MemoryError):
        return True
    if type(exc).__module__.split(".")[0] in FILE_LIBRARIES:  # e.g. ET.ParseError (SyntaxError)
        return not isinstance(exc, _LIBRARY_BUGS)
    inside = libraries_below_our_code(exc)
    if inside & PYTHON_DESERIALISERS and not isinstance(exc, BROKEN_INSTALL):
        return True
    if isinstance(exc, SyntaxError) and exc.filename is None and "PIL" in inside:
        return True
    if isinstance(exc, PROGRAMMING_ERRORS):
        return False
    return isinstance(exc, DATA_ERRORS) and bool(inside & FILE_LIBRARIES)


def _is_rust_panic(exc: BaseException) -> bool:
    """A panic of a decoder written in Rust (pyo3's PanicException is a BaseException)."""
    return type(exc).__name__ == "PanicException" and \
        type(exc).__module__.split(".")[0] == "pyo3_runtime"


def libraries_below_our_code(exc: BaseException) -> set[str]:
    """Top-level modules of the traceback frames below the innermost frame of our code."""
    modules = []
    tb = exc.__traceback__
    while tb is not None:
        modules.append(str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0])
        tb = tb.tb_next
    ours = [i for i, name in enumerate(modules) if name in OWN_PACKAGES]
    return set(modules[ours[-1] + 1:] if ours else modules)


def describe(exc: BaseException) -> str:
    """A one-line, plain reason for a library exception (no traceback, at most 160 chars)."""
    if isinstance(exc, RecursionError):
        return "structure nested too deeply"
    if isinstance(exc, MemoryError):
        return "it needs more memory than is available (damaged size fields?)"
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    first = first.strip("'\"")
    return f"{type(exc).__name__}: {first[:140]}" if first else type(exc).__name__


@contextmanager
def reading(path: str | Path, kind: str) -> Iterator[Path]:
    """Context of one read of ``path`` (a ``kind`` such as "HDF5 event file"); yields the Path.

    File-fault exceptions leave as ``InputError("<name>: not a readable <kind> (<reason>)")``;
    InputErrors (and other LabLensErrors) pass unchanged; programming errors propagate.
    numpy floating-point warnings are silenced inside: readers check values explicitly.
    """
    path = Path(path)
    try:
        with np.errstate(all="ignore"):
            yield path
    except LabLensError:
        raise
    except BaseException as exc:
        if not (isinstance(exc, Exception) or _is_rust_panic(exc)) or not is_file_fault(exc):
            raise
        raise InputError.for_file(path, f"not a readable {kind} ({describe(exc)})") from exc


_NATIVE_STDERR = threading.Lock()


@contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Catch what C libraries print straight to file descriptor 2 (ITK's NIfTI library:
    ``** ERROR: nifti_convert_nhdr2nim: bad dim[1]``), past Python's ``sys.stderr``: the CLI
    would show it above its one error line. Inside, descriptor 2 goes to a temporary file; its
    non-empty lines (at most 64 KiB) are in the yielded list once the block has ended, whether
    it raised or not. One such block at a time (descriptor 2 belongs to the process)."""
    lines: list[str] = []
    with _NATIVE_STDERR, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read(64 << 10).decode("utf-8", "replace")
            lines.extend(line.strip(" *\t") for line in text.splitlines() if line.strip(" *\t"))


# --------------------------------------------------------------------------- sizes

def check_file(path: str | Path) -> int:
    """Size in bytes of the regular, non-empty file ``path``; InputError otherwise."""
    path = Path(path)
    try:
        if not path.exists():
            raise InputError.for_file(path, f"file not found (no such file: {path})")
        if path.is_dir():
            raise InputError.for_file(path, "is a folder, not a file")
        if not path.is_file():
            raise InputError.for_file(path, "is not a regular file")
        size = path.stat().st_size
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError.for_file(path, "the file is empty")
    return size


def size_text(n_bytes: float) -> str:
    """``n_bytes`` for a message: \"512 bytes\", \"3.5 MiB\"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{int(n_bytes)} bytes"


def check_declared(n_elements: int, itemsize: int, path: str | Path, *,
                   available: int | None = None, ratio: float = 1.0, what: str = "data",
                   limit_bytes: int | None = MAX_ALLOCATION_BYTES) -> int:
    """Check a size read from a header before anything is allocated from it.

    Parameters
    ----------
    n_elements, itemsize
        The declared number of values and the bytes each takes once read.
    available
        Bytes that hold those values in the file (default: the whole file's size).
    ratio
        Best compression ratio of the storage (1 for raw data,
        :data:`MAX_COMPRESSION_RATIO` for DEFLATE, ``math.inf`` for codecs without a bound
        such as JPEG 2000 or LZW, which leaves only ``limit_bytes``).
    limit_bytes
        Largest allocation allowed whatever the file holds (None: no limit).

    Returns
    -------
    int
        ``n_elements``, once it passed.
    """
    n = int(n_elements)
    if n < 0:
        raise InputError.for_file(path, f"{what} declares a negative size ({n})")
    need = n * int(itemsize)
    claim = f"{n:,} bytes" if itemsize == 1 else f"{n} values ({size_text(need)})"
    stored = check_file(path) if available is None else int(available)
    if need > stored * ratio:
        how = " even at the best compression ratio" if ratio > 1 else ""
        raise InputError.for_file(path, f"{what} declares {claim} but the file stores only "
                                        f"{size_text(stored)} for them{how} (damaged or "
                                        "hostile header)")
    if limit_bytes is not None and need > limit_bytes:
        raise InputError.for_file(path, f"{what} declares {claim}, more than the "
                                        f"{size_text(limit_bytes)} a reader may allocate")
    return n


def read_bytes_limited(path: str | Path, max_bytes: int) -> bytes:
    """The whole content of ``path`` after :func:`check_file` and a size limit."""
    path = Path(path)
    size = check_file(path)
    if size > max_bytes:
        raise InputError.for_file(path, f"file of {size_text(size)} is too large (limit "
                                        f"{size_text(max_bytes)})")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise InputError.for_file(path, f"file grew past the limit of {size_text(max_bytes)}")
    return data


# --------------------------------------------------------------------------- values

def finite_after_cast(values: Any, dtype: Any, what: str, path: str | Path,
                      allow_nan: bool = False) -> np.ndarray:
    """``values`` cast to ``dtype``, refused unless every value survives the cast.

    Float targets: every value must be finite *after* the cast (1e300 overflows float32);
    ``allow_nan`` lets NaN through where it marks a missing value (infinities still fail).
    Integer targets: every value must be a whole number inside the type's range (no wrap).

    Raises
    ------
    InputError
        ``"<file>: <what>: value <v> at index <i> ..."`` for the first offending value, or
        when the values are not numbers at all.
    """
    array = np.asarray(values)
    target = np.dtype(dtype)
    if array.dtype.kind not in "biuf":
        raise InputError.for_file(path, f"{what}: expected numbers, found {array.dtype} values")
    if target.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            cast = array.astype(target, copy=False)
        bad = np.isinf(cast) if allow_nan else ~np.isfinite(cast)
        if np.any(bad):
            index = int(np.argmax(bad.ravel()))
            value = array.ravel()[index].item()
            raise InputError.for_file(path, f"{what}: value {value!r} at index {index} is NaN, "
                                            f"infinite or beyond the {target.name} range")
        return cast
    if target.kind not in "iu":
        raise ValueError(f"finite_after_cast: unsupported target type {target}")
    if array.size == 0 or array.dtype.kind == "b":
        return array.astype(target)
    info = np.iinfo(target)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        bad[~bad] |= ((array[~bad] != np.floor(array[~bad])) | (array[~bad] < info.min)
                      | (array[~bad] >= info.max + 1.0))
    else:
        if info.min <= int(array.min()) and int(array.max()) <= info.max:
            return array.astype(target, copy=False)
        bad = (array < info.min) | (array > info.max)
    if np.any(bad):
        index = int(np.argmax(np.asarray(bad).ravel()))
        value = array.ravel()[index].item()
        raise InputError.for_file(path, f"{what}: value {value!r} at index {index} is not a "
                                        f"whole number within the {target.name} range")
    return array.astype(target)
