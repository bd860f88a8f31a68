"""Spectrum file readers: CSV/text, ORTEC ``.Spe``, Canberra ``.cnf`` and ANSI N42.42 XML.

:func:`read_spectrum` picks the reader from the file's content when that is unambiguous (a CAM
block directory, an XML document, ``$SPEC_ID``-style sections) and from its suffix otherwise,
so a ``.spe`` that is really N42 XML still opens. Every failure is an
``InputError("<file name>: <problem>")``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.core.safe_read import check_file
from engines.core.safe_text import decode_text
from engines.spectrum.readers.cnf import looks_like_cnf, read_cnf
from engines.spectrum.readers.csv_format import read_csv, write_csv
from engines.spectrum.readers.n42 import read_n42, write_n42
from engines.spectrum.readers.spe import read_spe, write_spe
from engines.spectrum.spectrum import Spectrum

__all__ = ["FILE_FILTER", "FORMATS", "SUPPORTED_SUFFIXES", "detect_format", "iter_read_spectra",
           "read_cnf", "read_csv", "read_n42", "read_spe", "read_spectrum", "write_csv",
           "write_n42", "write_spe"]

#: Reader per format name.
FORMATS: dict[str, Callable[[Path], Spectrum]] = {
    "csv": read_csv, "spe": read_spe, "cnf": read_cnf, "n42": read_n42}
_SUFFIX_FORMAT = {".csv": "csv", ".txt": "csv", ".spe": "spe", ".cnf": "cnf", ".n42": "n42",
                  ".xml": "n42"}
#: Lower-case suffixes :func:`read_spectrum` accepts (matching is case-insensitive).
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_SUFFIX_FORMAT)
_PATTERNS = [f"*{s}" for s in SUPPORTED_SUFFIXES] + [f"*{s.upper()}" for s in SUPPORTED_SUFFIXES]
#: File-dialog filter (Qt syntax, plain text); both cases listed for case-sensitive file systems.
FILE_FILTER = f"Spectra ({' '.join(_PATTERNS + ['*.Spe'])});;All files (*)"
_DESCRIPTION = ("CSV/text (.csv, .txt), ORTEC .Spe, Canberra .cnf, ANSI N42.42 XML "
                "(.n42, .xml)")
_SNIFF_BYTES = 4096


def detect_format(path: str | Path) -> str:
    """Name of the reader for ``path``: "csv", "spe", "cnf" or "n42".

    Content wins over the suffix when it is unambiguous; plain text goes to the CSV reader.

    Raises
    ------
    InputError
        Missing path, folder, empty or unreadable file, or content of no supported format.
    """
    path = Path(path)
    check_file(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror or exc})") from exc
    sniffed = _sniff(path, head)
    by_suffix = _SUFFIX_FORMAT.get(path.suffix.lower())
    if sniffed in ("spe", "cnf", "n42"):
        return sniffed
    if sniffed == "text":
        return by_suffix if by_suffix in ("csv", "spe") else "csv"
    if by_suffix == "cnf":
        return "cnf"  # binary: let the CNF reader say what is wrong with it
    raise InputError.for_file(path, f"not a supported spectrum file; supported formats: "
                                    f"{_DESCRIPTION}")


def read_spectrum(path: str | Path) -> Spectrum:
    """Read any supported spectrum file.

    Returns
    -------
    Spectrum
        With calibration (``metadata["calibrated"]`` is False when the file has none and energy
        equals the channel number), live/real time when present, ``source=path``, ``name`` and
        ``metadata["format"]``.
    """
    path = Path(path)
    name = detect_format(path)
    if path.suffix.lower() in _SUFFIX_FORMAT:
        return FORMATS[name](path)
    try:  # unknown suffix: plain text was only a guess
        return FORMATS[name](path)
    except InputError as exc:
        problem = str(exc).removeprefix(f"{path.name}: ")
        raise InputError.for_file(path, f"not a recognised spectrum file (read as {name}: "
                                        f"{problem}); supported formats: {_DESCRIPTION}") from None


def _sniff(path: Path, head: bytes) -> str | None:
    if looks_like_cnf(head):
        return "cnf"
    try:
        text = decode_text(path, head)
    except InputError:
        # A cut-off multi-byte character at the sniff boundary is not binary content.
        try:
            text = decode_text(path, head[:-4]) if len(head) == _SNIFF_BYTES else None
        except InputError:
            text = None
    if text is None:
        return None
    start = text.lstrip()
    if start.startswith("<"):
        return "n42"
    if start.startswith("$") and ":" in start.split("\n", 1)[0]:
        return "spe"
    return "text"


def iter_read_spectra(paths: list[Path], skip_bad: bool = False
                      ) -> TaskGenerator[tuple[list[Spectrum], list[InputError]]]:
    """Read spectrum files, one progress report per file.

    Returns the spectra and, with ``skip_bad``, the errors of the files that could not be read
    (without it the first such error is raised).
    """
    spectra, errors = [], []
    for index, path in enumerate(paths):
        yield Progress(index / len(paths), f"reading {Path(path).name}")
        try:
            spectra.append(read_spectrum(path))
        except InputError as error:
            if not skip_bad:
                raise
            errors.append(error)
    yield Progress(1.0, f"read {len(spectra)} file(s)")
    return spectra, errors
