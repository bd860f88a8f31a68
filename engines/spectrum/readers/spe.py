"""ORTEC ``.Spe`` ASCII spectra (Maestro/GammaVision "SPE" export).

The file is a list of sections, each a ``$NAME:`` line followed by its content lines:
``$SPEC_ID`` (description), ``$DATE_MEA`` (``mm/dd/yyyy hh:mm:ss``), ``$MEAS_TIM`` (``live real``
in seconds), ``$DATA`` (``first last`` channel, then one count per channel), ``$ENER_FIT``
(linear ``a b``) and ``$MCA_CAL`` (coefficient count, then ``a b [c] [unit]``). ``$MCA_CAL`` is
preferred when both calibrations are present. Files without a usable calibration are returned
with energy = channel number and ``metadata["calibrated"] = False``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.core.safe_read import reading
from engines.core.safe_text import open_text_limited
from engines.spectrum.readers._common import (
    CHANNEL_CALIBRATION,
    MAX_CHANNELS,
    MAX_TEXT_BYTES,
    check_channel_count,
    check_counts,
    make_spectrum,
    parse_numbers,
    polynomial_calibration,
)
from engines.spectrum.spectrum import Calibration, Spectrum

_SECTION = re.compile(r"\$([A-Z0-9_]+):")
#: Lines kept of a section other than $DATA (only the first few are ever used).
MAX_SECTION_LINES = 1000
#: Most lines in a file: one count per line for 2^20 channels, and headers, ROIs, comments.
MAX_LINES = MAX_CHANNELS + 100_000
_BLOCK = 1 << 16
_UNIT_SCALE = {"kev": 1.0, "mev": 1000.0, "ev": 1e-3}


def read_spe(path: str | Path) -> Spectrum:
    """Read an ORTEC ``.Spe`` ASCII spectrum.

    Returns
    -------
    Spectrum
        counts shape (last - first + 1,), live/real time from ``$MEAS_TIM``, metadata with
        ``format="spe"``, ``description`` ($SPEC_ID), ``start_time`` (ISO, when parseable),
        ``calibrated`` and ``calibration_source`` (or ``calibration_problem``).

    Raises
    ------
    InputError
        ``"<file name>: <problem>"``: not an SPE file, no ``$DATA``, channel count and data
        disagree (e.g. a truncated file), non-numeric/negative/NaN counts, bad times.
    """
    path = Path(path)
    with reading(path, ".Spe spectrum"), \
            open_text_limited(path, MAX_TEXT_BYTES, max_lines=MAX_LINES) as lines:
        sections, counts = _sections(path, lines.blocks())
        live, real = _times(path, sections.get("MEAS_TIM"))
        calibration, source = _calibration(path, sections, counts.size)
        metadata: dict = {"format": "spe", "calibrated": calibration is not None}
        metadata["calibration_source" if calibration else "calibration_problem"] = source
        description = " ".join(sections.get("SPEC_ID", [])[:100]).strip()
        if description:
            metadata["description"] = description[:2000]
        if sections.get("DATE_MEA"):
            metadata["start_time"] = _date(sections["DATE_MEA"][0])
        return make_spectrum(path, counts, calibration or CHANNEL_CALIBRATION, live, real,
                             name=path.stem, metadata=metadata)


def write_spe(path: str | Path, spectrum: Spectrum) -> Path:
    """Write ``spectrum`` as an ORTEC ``.Spe`` file (CRLF, as Maestro writes it).

    Counts are written as integers when they are whole numbers, else with 9 significant digits.
    ``$MEAS_TIM`` is written only when both times are known (a missing one repeats the other).
    """
    path = Path(path)
    counts = spectrum.counts
    c = spectrum.calibration.coefficients + (0.0,) * (3 - len(spectrum.calibration.coefficients))
    lines = ["$SPEC_ID:", spectrum.metadata.get("description") or spectrum.name or path.stem]
    start = spectrum.metadata.get("start_time")
    if start:
        try:
            lines += ["$DATE_MEA:",
                      dt.datetime.fromisoformat(str(start)).strftime("%m/%d/%Y %H:%M:%S")]
        except ValueError:
            pass
    live = spectrum.live_time_s if spectrum.live_time_s is not None else spectrum.real_time_s
    real = spectrum.real_time_s if spectrum.real_time_s is not None else spectrum.live_time_s
    if live is not None:
        lines += ["$MEAS_TIM:", f"{live:.6g} {real:.6g}"]
    lines += ["$DATA:", f"0 {counts.size - 1}"]
    integral = np.all(counts == np.rint(counts))
    lines += (counts.astype(np.int64).astype(str) if integral
              else np.char.mod("%.9g", counts)).tolist()
    lines += ["$ENER_FIT:", f"{c[0]:.10g} {c[1]:.10g}",
              "$MCA_CAL:", "3", f"{c[0]:.10E} {c[1]:.10E} {c[2]:.10E} keV"]
    atomic_write_bytes(path, ("\r\n".join(lines) + "\r\n").encode())
    return path


def _sections(path: Path, blocks: Iterable[tuple[int, list[str]]]
              ) -> tuple[dict[str, list[str]], np.ndarray]:
    """``{NAME: [content lines]}`` (first occurrence of a name wins) and the $DATA counts.

    ``blocks`` yields ``(first line number, lines)``; a section starts with a ``$NAME:`` line.
    The counts are parsed as they stream in, into an array of the size the ``first last`` line
    declares, so memory follows the channel count and not the file.
    """
    sections: dict[str, list[str]] = {}
    target: list[str] | None = None
    data: _Data | None = None
    in_data = False
    for _, block in blocks:
        data_lines: list[str] = []
        for raw in block:
            match = _SECTION.match(raw) if raw[:1] == "$" else None
            if match is not None:
                if in_data:
                    data.add(data_lines)
                    data_lines = []
                name = match.group(1)
                target = sections.setdefault(name, []) if name not in sections else None
                in_data = name == "DATA" and target is not None
                if in_data:
                    data = _Data(path)
                line = raw[match.end():].strip()
            else:
                line = raw.strip()
                if not sections and line:
                    raise InputError.for_file(path, "not an ORTEC .Spe file (no '$SECTION:' "
                                                    "lines at the start)")
            if not line or target is None:
                continue
            if in_data:
                data_lines.append(line)
            elif len(target) < MAX_SECTION_LINES:
                target.append(line)
        if in_data:
            data.add(data_lines)
    if not sections:
        raise InputError.for_file(path, "not an ORTEC .Spe file (no '$SECTION:' lines at the "
                                        "start)")
    if data is None:
        raise InputError.for_file(path, "no $DATA section")
    return sections, data.counts()


class _Data:
    """The $DATA section: a ``first last`` channel line, then one count per channel."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first = self.last = 0
        self.values: np.ndarray | None = None
        self.seen = 0  # count tokens seen (also past the declared number)
        self.stored = 0
        self.pending: list[str] = []

    def add(self, lines: list[str]) -> None:
        """The next (stripped, non-empty) lines of the section."""
        if not lines:
            return
        if self.values is None:
            line, lines = lines[0], lines[1:]
            bounds = parse_numbers(self.path, line.split()[:2], "$DATA channel range")
            if bounds.size != 2 or np.any(bounds != np.rint(bounds)) or bounds[0] < 0:
                raise InputError.for_file(self.path, f"$DATA range line must be 'first last', "
                                                     f"got {line[:40]!r}")
            self.first, self.last = int(bounds[0]), int(bounds[1])
            self.values = np.empty(check_channel_count(self.path, self.last - self.first + 1,
                                                       "$DATA"))
        tokens = " ".join(lines).split()
        room = self.values.size - self.seen
        if room > 0:
            self.pending += tokens[:room]
        self.seen += len(tokens)
        if len(self.pending) >= _BLOCK:
            self._store()

    def _store(self) -> None:
        values = parse_numbers(self.path, self.pending, "$DATA counts", first_index=self.stored)
        self.values[self.stored:self.stored + values.size] = values
        self.stored += values.size
        self.pending = []

    def counts(self) -> np.ndarray:
        """The counts, shape (last - first + 1,), once the declared number was found."""
        if self.values is None:
            raise InputError.for_file(self.path, "$DATA section is empty")
        n = self.values.size
        if self.seen != n:
            hint = " (truncated file?)" if self.seen < n else ""
            raise InputError.for_file(self.path, f"$DATA declares {n} channels "
                                                 f"({self.first}..{self.last}) but holds "
                                                 f"{self.seen} values{hint}")
        self._store()
        return check_counts(self.path, self.values, "$DATA")


def _times(path: Path, lines: list[str] | None) -> tuple[float | None, float | None]:
    if not lines:
        return None, None
    values = parse_numbers(path, lines[0].split(), "$MEAS_TIM")
    if values.size != 2 or np.any(values < 0):
        raise InputError.for_file(path, f"$MEAS_TIM must be 'live real' seconds, got "
                                        f"{lines[0][:40]!r}")
    return float(values[0]), float(values[1])


def _calibration(path: Path, sections: dict[str, list[str]],
                 n_channels: int) -> tuple[Calibration | None, str]:
    """Calibration from $MCA_CAL, else $ENER_FIT; (None, reason) when neither is usable."""
    problems = []
    mca = sections.get("MCA_CAL", [])
    if len(mca) >= 2:
        tokens = mca[1].split()
        unit = tokens[-1].lower() if tokens and tokens[-1].isalpha() else "kev"
        numbers = tokens[:-1] if tokens and tokens[-1].isalpha() else tokens
        declared = parse_numbers(path, mca[0].split()[:1], "$MCA_CAL coefficient count")
        coefficients = parse_numbers(path, numbers, "$MCA_CAL coefficients")
        if declared.size != 1 or coefficients.size != int(declared[0]):
            raise InputError.for_file(path, f"$MCA_CAL declares {mca[0][:20]!r} coefficients "
                                            f"but lists {coefficients.size}")
        if unit in _UNIT_SCALE:
            calibration, problem = polynomial_calibration(coefficients * _UNIT_SCALE[unit],
                                                          n_channels)
            if calibration is not None:
                return calibration, "$MCA_CAL"
            problems.append(f"$MCA_CAL: {problem}")
        else:
            problems.append(f"$MCA_CAL: unknown energy unit {tokens[-1]!r}")
    fit = sections.get("ENER_FIT", [])
    if fit:
        coefficients = parse_numbers(path, fit[0].split(), "$ENER_FIT")
        calibration, problem = polynomial_calibration(coefficients, n_channels)
        if calibration is not None:
            return calibration, "$ENER_FIT"
        problems.append(f"$ENER_FIT: {problem}")
    return None, "; ".join(problems) or "no $MCA_CAL or $ENER_FIT section"


def _date(text: str) -> str:
    for pattern in ("%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S", "%d-%b-%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).isoformat()
        except ValueError:
            continue
    return text.strip()
