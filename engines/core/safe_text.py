"""Text, XML and JSON from files, within limits: the text half of :mod:`engines.core.safe_read`.

One encoding policy for text (UTF-8 with or without BOM, UTF-16 with BOM, or a few legacy
8-bit bytes in otherwise plain text), streaming with byte, line-length and line-count limits,
an XML parser without DOCTYPE, entities or unbounded nesting, and JSON with a depth limit.
Every problem is an ``InputError("<file name>: <problem>")``; the module docstring of
:mod:`engines.core.safe_read` says how readers use these helpers.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from engines.core.errors import InputError
from engines.core.safe_read import check_file, size_text

#: Longest text line :func:`open_text_limited` hands out by default.
MAX_LINE_CHARS = 1 << 20
DEFAULT_XML_DEPTH = 64
DEFAULT_XML_ELEMENTS = 1_000_000
DEFAULT_JSON_DEPTH = 64

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CHUNK = 1 << 20
_TEXT_CHUNK = 1 << 18  # characters per read when streaming lines


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: for parsers that build a list of millions of rows
    (each new container counts towards the next collection, so collecting while the list
    grows cost half of a 10^6-row CSV's parse). Restores the previous state."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _encoding(path: Path, chunks: Iterator[bytes] | list[bytes]) -> str:
    """The encoding of text made of ``chunks``: "utf-16", "utf-8-sig" or "latin-1"."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    utf8, high, total, first = True, 0, 0, True
    for chunk in chunks:
        if first and chunk.startswith(_UTF16_BOMS):
            return "utf-16"
        first = False
        if b"\x00" in chunk:
            raise InputError.for_file(path, "binary data where text was expected")
        total += len(chunk)
        high += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) >= 0x80))
        if utf8:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    if utf8:
        return "utf-8-sig"
    # Windows software writes comments in cp1252/latin-1; accept a few such bytes only.
    if high > max(16, total // 100):
        raise InputError.for_file(path, "unreadable encoding (not UTF-8 or plain text)")
    return "latin-1"


def decode_text(path: str | Path, data: bytes) -> str:
    """Decode text in memory: UTF-8 (optional BOM), UTF-16 with BOM, or a few legacy bytes.

    Raises :class:`InputError` for binary content (NUL or control bytes) or an unreadable
    encoding.
    """
    path = Path(path)
    encoding = _encoding(path, [data])
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise InputError.for_file(path, f"unreadable {encoding.upper()} text") from None
    if _CONTROL.search(text):
        raise InputError.for_file(path, "binary data where text was expected")
    return text


class TextLines:
    """Lines of a text file, read lazily in chunks.

    Made by :func:`open_text_limited`; use it as a context manager so that the file is closed.
    Iterate for ``(line_number, line)`` pairs, or call :meth:`blocks` for ``(first_line_number,
    [lines])`` lists of about a MiB each (much faster for large files). Lines come without
    their line break (``\\n``, ``\\r\\n`` or ``\\r``).
    """

    def __init__(self, path: Path, encoding: str, max_bytes: int, max_line_chars: int,
                 max_lines: int | None) -> None:
        self.path, self.encoding = path, encoding
        self._max_bytes, self._max_line, self._max_lines = max_bytes, max_line_chars, max_lines
        try:
            self._handle: IO[str] = path.open("r", encoding=encoding, newline=None)
        except OSError as exc:
            raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from None

    def __enter__(self) -> TextLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for first, lines in self.blocks():
            yield from enumerate(lines, first)

    def _refuse(self, problem: str) -> InputError:
        return InputError.for_file(self.path, problem)

    def blocks(self) -> Iterator[tuple[int, list[str]]]:
        """``(number of the first line, lines)`` per chunk read; every limit checked first."""
        pending, number, chars = "", 1, 0
        while True:
            try:
                chunk = self._handle.read(_TEXT_CHUNK)
            except UnicodeDecodeError:
                raise self._refuse(f"unreadable {self.encoding.upper()} text after line "
                                   f"{number}") from None
            except OSError as exc:
                raise self._refuse(f"cannot be read ({exc.strerror or exc})") from None
            if not chunk:
                break
            chars += len(chunk)
            if chars > self._max_bytes:
                raise self._refuse(f"text grew past the limit of {size_text(self._max_bytes)}")
            control = _CONTROL.search(chunk)
            if control:
                # ``pending`` is the unfinished last line (it holds no line break)
                line = number + chunk.count("\n", 0, control.start())
                raise self._refuse(f"binary data where text was expected (line {line})")
            lines = (pending + chunk).split("\n")
            pending = lines.pop()
            self._check(number, lines + [pending])
            if lines:
                yield number, lines
                number += len(lines)
        if pending:
            yield number, [pending]

    def _check(self, number: int, lines: list[str]) -> None:
        if max(map(len, lines)) > self._max_line:
            index = next(i for i, line in enumerate(lines) if len(line) > self._max_line)
            raise self._refuse(f"line {number + index} is longer than {self._max_line} "
                               "characters")
        # the last piece is the unfinished line: a line once it holds a character
        last = number + len(lines) - (1 if lines[-1] else 2)
        if self._max_lines is not None and last > self._max_lines:
            raise self._refuse(f"more than {self._max_lines} lines")


def open_text_limited(path: str | Path, max_bytes: int, max_line_chars: int = MAX_LINE_CHARS,
                      max_lines: int | None = None) -> TextLines:
    """Open a text file for streaming, after the size, encoding and binary-content checks.

    The file is read twice: once in 1 MiB chunks to settle the encoding (as
    :func:`decode_text`), then in chunks of 256 k characters split into lines; memory stays
    proportional to a chunk.

    Raises
    ------
    InputError
        Missing/empty/oversized file, binary content, unreadable encoding; while iterating, a
        line longer than ``max_line_chars``, more than ``max_lines`` lines, control characters.
    """
    path = Path(path)
    size = check_file(path)
    if size > max_bytes:
        raise InputError.for_file(path, f"file of {size_text(size)} is too large for this "
                                        f"format (limit {size_text(max_bytes)})")

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            remaining = max_bytes
            while remaining > 0:
                chunk = handle.read(min(_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    try:
        encoding = _encoding(path, chunks())
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from None
    return TextLines(path, encoding, max_bytes, max_line_chars, max_lines)


# --------------------------------------------------------------------------- XML and JSON

class _Refused(Exception):
    """Raised from inside the XML parser's callbacks to stop it."""


def parse_xml_safely(source: bytes | IO[bytes], path: str | Path, *,
                     max_depth: int = DEFAULT_XML_DEPTH,
                     max_elements: int = DEFAULT_XML_ELEMENTS,
                     strip_namespaces: bool = False):
    """Parse XML into an ``xml.etree.ElementTree.Element`` without the dangerous features.

    DOCTYPE and entity declarations are refused (no entity expansion, no external entities),
    nesting deeper than ``max_depth`` or more than ``max_elements`` elements stop the parse
    at once. ``strip_namespaces`` drops ``{uri}`` from tag and attribute names.

    Parameters
    ----------
    source
        The document's bytes, or a binary file object (read in chunks).
    """
    import xml.etree.ElementTree as ET
    from xml.parsers import expat

    path = Path(path)
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    state = {"depth": 0, "elements": 0}

    def name(raw: str) -> str:
        if "}" not in raw:
            return raw
        uri, local = raw.rsplit("}", 1)
        return local if strip_namespaces else f"{{{uri}}}{local}"

    def start(tag: str, attributes: dict[str, str]) -> None:
        state["depth"] += 1
        state["elements"] += 1
        if state["depth"] > max_depth:
            raise _Refused(f"XML nested deeper than {max_depth} elements")
        if state["elements"] > max_elements:
            raise _Refused(f"XML with more than {max_elements} elements")
        builder.start(name(tag), {name(k): v for k, v in attributes.items()})

    def end(tag: str) -> None:
        state["depth"] -= 1
        builder.end(name(tag))

    def refuse(*_: object) -> None:
        raise _Refused("XML with DOCTYPE/ENTITY declarations is refused (entity expansion "
                       "could exhaust memory)")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            parser.Parse(bytes(source), True)
        else:
            parser.ParseFile(source)
        return builder.close()
    except _Refused as exc:
        raise InputError.for_file(path, str(exc)) from None
    except expat.ExpatError as exc:
        raise InputError.for_file(path, f"malformed XML ({expat.ErrorString(exc.code)}: line "
                                        f"{exc.lineno}, column {exc.offset})") from None
    except LookupError as exc:  # an encoding Python does not know
        raise InputError.for_file(path, f"XML declares an unknown encoding ({exc})") from None
    except ValueError as exc:  # e.g. "multi-byte encodings are not supported"
        raise InputError.for_file(path, f"XML declares an unsupported encoding ({exc})") from None


def parse_json_safely(text: str | bytes, path: str | Path, *,
                      max_depth: int = DEFAULT_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses malformed text and nesting deeper than ``max_depth``."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise InputError.for_file(path, f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise InputError.for_file(path, f"not valid JSON ({exc.msg} at line {exc.lineno}, "
                                        f"column {exc.colno})") from None
    except UnicodeDecodeError:
        raise InputError.for_file(path, "JSON that is not UTF-8 text") from None
    except ValueError as exc:  # an integer past Python's 4300-digit conversion limit
        raise InputError.for_file(path, f"not valid JSON ({str(exc).split(':')[0]})") from None
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > max_depth:
                raise InputError.for_file(path, f"JSON nested deeper than {max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value
