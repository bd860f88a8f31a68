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
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.spectrum.readers._common import (
    CHANNEL_CALIBRATION,
    check_channel_count,
    check_counts,
    decode_text,
    parse_numbers,
    polynomial_calibration,
    read_file_bytes,
)
from engines.spectrum.spectrum import Calibration, Spectrum

_SECTION = re.compile(r"^\$([A-Z0-9_]+):", re.MULTILINE)
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
    sections = _sections(path, decode_text(path, read_file_bytes(path)))
    counts = _data(path, sections)
    live, real = _times(path, sections.get("MEAS_TIM"))
    calibration, source = _calibration(path, sections, counts.size)
    metadata: dict = {"format": "spe", "calibrated": calibration is not None}
    metadata["calibration_source" if calibration else "calibration_problem"] = source
    description = " ".join(sections.get("SPEC_ID", [])).strip()
    if description:
        metadata["description"] = description
    if sections.get("DATE_MEA"):
        metadata["start_time"] = _date(sections["DATE_MEA"][0])
    return Spectrum(counts, calibration or CHANNEL_CALIBRATION, live_time_s=live,
                    real_time_s=real, name=path.stem, source=path, metadata=metadata)


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


def _sections(path: Path, text: str) -> dict[str, list[str]]:
    """Split the text into ``{NAME: [content lines]}`` (first occurrence of a name wins)."""
    matches = list(_SECTION.finditer(text))
    if not matches or text[: matches[0].start()].strip():
        raise InputError.for_file(path, "not an ORTEC .Spe file (no '$SECTION:' lines at the "
                                        "start)")
    sections: dict[str, list[str]] = {}
    for match, following in zip(matches, matches[1:] + [None], strict=True):
        end = following.start() if following is not None else len(text)
        body = text[match.end():end].splitlines()
        sections.setdefault(match.group(1), [line.strip() for line in body if line.strip()])
    return sections


def _data(path: Path, sections: dict[str, list[str]]) -> np.ndarray:
    if "DATA" not in sections:
        raise InputError.for_file(path, "no $DATA section")
    lines = sections["DATA"]
    if not lines:
        raise InputError.for_file(path, "$DATA section is empty")
    bounds = parse_numbers(path, lines[0].split()[:2], "$DATA channel range")
    if bounds.size != 2 or np.any(bounds != np.rint(bounds)) or bounds[0] < 0:
        raise InputError.for_file(path, f"$DATA range line must be 'first last', got "
                                        f"{lines[0][:40]!r}")
    n_channels = check_channel_count(path, int(bounds[1] - bounds[0] + 1), "$DATA")
    tokens = " ".join(lines[1:]).split()
    if len(tokens) != n_channels:
        hint = " (truncated file?)" if len(tokens) < n_channels else ""
        raise InputError.for_file(path, f"$DATA declares {n_channels} channels "
                                        f"({int(bounds[0])}..{int(bounds[1])}) but holds "
                                        f"{len(tokens)} values{hint}")
    return check_counts(path, parse_numbers(path, tokens, "$DATA counts"), "$DATA")


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
