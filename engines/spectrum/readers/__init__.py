"""Spectrum file readers: CSV/text, ORTEC ``.Spe``, Canberra ``.cnf`` and ANSI N42.42 XML, and
every other format InterSpec reads through SpecUtils (:mod:`.specutils`).

:func:`read_spectrum` picks the reader from the file's content when that is unambiguous (a CAM
block directory, an XML document, ``$SPEC_ID``-style sections) and from its suffix otherwise,
so a ``.spe`` that is really N42 XML still opens. Our readers keep the formats they cover (they
are faster and stricter: no assumed calibration); a SpecUtils suffix (``.chn``, ``.spc``,
``.pcf``, ``.mca``, ...) or a file of an unknown suffix that ours cannot read goes to SpecUtils.
``metadata["reader"]`` says which reader read a file. Every failure is an
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
from engines.spectrum.readers.specutils import DESCRIPTION as SPECUTILS_DESCRIPTION
from engines.spectrum.readers.specutils import SPECUTILS_SUFFIXES, available, read_specutils
from engines.spectrum.spectrum import Spectrum

__all__ = ["FILE_FILTER", "FORMATS", "SUPPORTED_SUFFIXES", "detect_format", "iter_read_spectra",
           "read_cnf", "read_csv", "read_n42", "read_spe", "read_specutils", "read_spectrum",
           "write_csv", "write_n42", "write_spe"]

#: Reader per format name.
FORMATS: dict[str, Callable[[Path], Spectrum]] = {
    "csv": read_csv, "spe": read_spe, "cnf": read_cnf, "n42": read_n42,
    "specutils": read_specutils}
_SUFFIX_FORMAT = {".csv": "csv", ".txt": "csv", ".spe": "spe", ".cnf": "cnf", ".n42": "n42",
                  ".xml": "n42"}
_SPECUTILS = available()
_SUFFIX_FORMAT.update({s: "specutils" for s in SPECUTILS_SUFFIXES if _SPECUTILS})
#: Lower-case suffixes :func:`read_spectrum` accepts (matching is case-insensitive).
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_SUFFIX_FORMAT)
_PATTERNS = [f"*{s}" for s in SUPPORTED_SUFFIXES] + [f"*{s.upper()}" for s in SUPPORTED_SUFFIXES]
#: File-dialog filter (Qt syntax, plain text); both cases listed for case-sensitive file systems.
FILE_FILTER = f"Spectra ({' '.join(_PATTERNS + ['*.Spe'])});;All files (*)"
_DESCRIPTION = ("CSV/text (.csv, .txt), ORTEC .Spe, Canberra .cnf, ANSI N42.42 XML "
                "(.n42, .xml)" + (f"; {SPECUTILS_DESCRIPTION}" if _SPECUTILS else ""))
_SNIFF_BYTES = 4096


def detect_format(path: str | Path) -> str:
    """Name of the reader for ``path``: "csv", "spe", "cnf", "n42" or "specutils".

    Content wins over the suffix when it is unambiguous; a SpecUtils suffix goes to SpecUtils;
    other plain text goes to the CSV reader, other binary content to SpecUtils (when installed).

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
    if by_suffix == "specutils":
        return "specutils"  # e.g. IAEA-style text in .iaea, ORTEC binary .Chn
    if sniffed in ("spe", "cnf", "n42"):
        return sniffed
    if sniffed == "text":
        return by_suffix if by_suffix in ("csv", "spe") else "csv"
    if by_suffix == "cnf":
        return "cnf"  # binary: let the CNF reader say what is wrong with it
    if _SPECUTILS and by_suffix is None:
        return "specutils"  # unknown binary: SpecUtils tries all its parsers
    raise InputError.for_file(path, f"not a supported spectrum file; supported formats: "
                                    f"{_DESCRIPTION}")


def read_spectrum(path: str | Path) -> Spectrum:
    """Read any supported spectrum file.

    Returns
    -------
    Spectrum
        With calibration (``metadata["calibrated"]`` is False when the file has none and energy
        equals the channel number), live/real time when present, ``source=path``, ``name``,
        ``metadata["format"]`` and ``metadata["reader"]`` ("lablens" or "sandiaspecutils").
    """
    path = Path(path)
    spectrum = _read(path, detect_format(path))
    spectrum.metadata.setdefault("reader", "lablens")
    return spectrum


def _read(path: Path, name: str) -> Spectrum:
    if path.suffix.lower() in _SUFFIX_FORMAT:
        return FORMATS[name](path)
    try:  # unknown suffix: plain text was only a guess
        return FORMATS[name](path)
    except InputError as exc:
        problem = str(exc).removeprefix(f"{path.name}: ")
        if _SPECUTILS and name != "specutils":  # text of a format ours do not know
            try:
                return read_specutils(path)
            except InputError:
                pass
        raise InputError.for_file(path, f"not a recognised spectrum file (read as {name}: "
                                        f"{problem}); supported formats: {_DESCRIPTION}") from None


def _sniff(path: Path, head: bytes) -> str | None:
    if looks_like_cnf(head):
        return "cnf"
    text = _decode_head(path, head)
    if text is None:
        return None
    start = text.lstrip()
    if start.startswith("<"):
        return "n42"
    if start.startswith("$") and ":" in start.split("\n", 1)[0]:
        return "spe"
    return "text"


def _decode_head(path: Path, head: bytes) -> str | None:
    """The sniffed bytes as text, or None for binary content. A character cut at the sniff
    boundary is not binary: up to 3 of its bytes (UTF-8; a UTF-16 high surrogate is 2) go."""
    for cut in (0, 1, 2, 3) if len(head) == _SNIFF_BYTES else (0,):
        try:
            return decode_text(path, head[:len(head) - cut])
        except InputError:
            pass
    return None


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
