"""CSV spectra: the paper's ``"Energy (keV)","Counts"`` two-column files.

Writing: a few ``#`` comment lines (live/real time, calibration, name), then the header and one
row per channel. Reading tolerates what spreadsheets and other programs make of that: any
separator (comma, semicolon with decimal commas, tab, whitespace), quoted or differently spelled
headers, an extra channel column in any order, CRLF, a UTF-8 BOM, and headerless columns
(1 column: counts; 2: energy, counts; 3: channel, energy, counts).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.spectrum.readers._common import (
    check_counts,
    decode_text,
    fit_calibration,
    parse_numbers,
    read_file_bytes,
    shift_calibration,
)
from engines.spectrum.spectrum import Calibration, Spectrum

_UNIT_SCALE = {"kev": 1.0, "mev": 1000.0, "ev": 1e-3}
_CHANNEL_NAMES = {"channel", "channels", "ch", "chan", "chn", "channel number", "bin", "index"}
_COUNT_NAMES = {"counts", "count", "cts", "n", "intensity", "events", "y"}
_ENERGY_NAMES = {"energy", "e", "kev", "mev", "energy kev", "energy mev"}
_WHITESPACE_CELL = re.compile(r'"[^"]*"|\'[^\']*\'|[^\s(\[]+(?:\s*[(\[][^)\]]*[)\]])?|[(\[][^)\]]*[)\]]')


def read_csv(path: str | Path) -> Spectrum:
    """Read a CSV/text spectrum.

    The energy column holds channel-centre energies (keV, or MeV/eV when the header says so); a
    linear or quadratic calibration is fitted to them. Without an energy column the
    ``# calibration_kev: c0 c1 [c2]`` comment written by :func:`write_csv` is used.

    Returns
    -------
    Spectrum
        counts shape (n_rows,), ``source=path``, metadata ``format="csv"``.

    Raises
    ------
    InputError
        ``"<file name>: <problem>"`` for anything that cannot be read unambiguously.
    """
    path = Path(path)
    text = decode_text(path, read_file_bytes(path))
    comments: dict[str, str] = {}
    lines: list[str] = []
    line_numbers: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            comments.setdefault(key.strip().lower(), value.strip())
            continue
        lines.append(line)
        line_numbers.append(number)
    if not lines:
        raise InputError.for_file(path, "no data rows (only comments or blank lines)")
    rows = _split_rows(lines)
    header = None if _is_numeric_row(rows[0]) else rows[0]
    if header is not None:
        rows, line_numbers = rows[1:], line_numbers[1:]
        if not rows:
            raise InputError.for_file(path, "a header line but no data rows")
    roles, energy_scale = _column_roles(path, header, len(rows[0]))
    columns = _columns(path, rows, line_numbers, roles)
    counts = check_counts(path, columns["counts"], "counts column")
    calibration, source = _calibration(path, columns, comments, energy_scale)
    return Spectrum(counts, calibration,
                    live_time_s=_time_comment(path, comments, "live_time_s"),
                    real_time_s=_time_comment(path, comments, "real_time_s"),
                    name=comments.get("name") or path.stem, source=path,
                    metadata={"format": "csv", "calibrated": True,
                              "calibration_source": source})


def _split_rows(lines: list[str]) -> list[list[str]]:
    first = lines[0]
    delimiter = next((d for d in ("\t", ";", ",") if d in first), None)
    if delimiter is None:
        rows = [_WHITESPACE_CELL.findall(line) for line in lines]
    else:
        # One reader per line: an unbalanced quote must not swallow the following rows.
        rows = [next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
                for line in lines]
        if delimiter == ";":  # continental spreadsheets: decimal commas
            rows = [[cell.replace(",", ".") for cell in row] for row in rows]
    return [[cell.strip().strip("\"'").strip() for cell in row] for row in rows]


def _is_numeric_row(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row if cell]
    except ValueError:
        return False
    return True


def _column_roles(path: Path, header: list[str] | None,
                  n_cells: int) -> tuple[dict[str, int], float]:
    """Map "channel"/"energy"/"counts" to column indices; also return the energy unit scale."""
    if header is None:
        layouts = {1: ("counts",), 2: ("energy", "counts"), 3: ("channel", "energy", "counts")}
        if n_cells not in layouts:
            raise InputError.for_file(path, f"{n_cells} unnamed columns; add a header naming "
                                            "the Energy (keV) and Counts columns")
        return {role: i for i, role in enumerate(layouts[n_cells])}, 1.0
    roles: dict[str, int] = {}
    energy_scale = 1.0
    unknown = []
    for index, cell in enumerate(header):
        lowered = cell.lower().replace("_", " ")
        unit_match = re.search(r"[(\[]\s*(\w+)\s*[)\]]", lowered)
        base = re.sub(r"[(\[].*?[)\]]", "", lowered).strip()
        unit = unit_match.group(1) if unit_match else (base if base in _UNIT_SCALE else "")
        if base in _CHANNEL_NAMES or base.startswith("channel"):
            role = "channel"
        elif base in _COUNT_NAMES or base.startswith("count"):
            role = "counts"
        elif base in _ENERGY_NAMES or base.startswith("energy"):
            role = "energy"
            energy_scale = _UNIT_SCALE.get(unit, _UNIT_SCALE.get(base.split()[-1], 1.0))
        else:
            unknown.append(index)
            continue
        if role in roles:
            raise InputError.for_file(path, f"two {role} columns in the header {header}")
        roles[role] = index
    if "counts" not in roles and len(unknown) == 1:
        roles["counts"] = unknown[0]
    if "counts" not in roles:
        raise InputError.for_file(path, f"no counts column in the header {header}; expected a "
                                        'column named "Counts" (or cts)')
    return roles, energy_scale


def _columns(path: Path, rows: list[list[str]], line_numbers: list[int],
             roles: dict[str, int]) -> dict[str, np.ndarray]:
    needed = max(roles.values()) + 1
    for row, number in zip(rows, line_numbers, strict=True):
        if len(row) < needed:
            raise InputError.for_file(path, f"line {number} has {len(row)} fields, expected at "
                                            f"least {needed}: {','.join(row)[:60]!r}")
        if not all(row[i] for i in roles.values()):
            raise InputError.for_file(path, f"line {number} has an empty field")
    return {role: parse_numbers(path, [row[index] for row in rows], f"{role} column",
                                line_numbers)
            for role, index in roles.items()}


def _calibration(path: Path, columns: dict[str, np.ndarray], comments: dict[str, str],
                 energy_scale: float) -> tuple[Calibration, str]:
    n_rows = columns["counts"].size
    first_channel = 0.0
    if "channel" in columns:
        channels = columns["channel"]
        if np.any(channels != np.rint(channels)) or np.any(np.diff(channels) != 1):
            raise InputError.for_file(path, "channel column is not consecutive whole numbers")
        first_channel = float(channels[0])
    if "energy" in columns:
        calibration, problem = fit_calibration(np.arange(n_rows, dtype=np.float64),
                                               columns["energy"] * energy_scale)
        if calibration is None:
            raise InputError.for_file(path, f"energy column: {problem}")
        return calibration, "energy column"
    text = comments.get("calibration_kev")
    if text is None:
        raise InputError.for_file(path, 'no energy column and no "# calibration_kev: c0 c1 [c2]" '
                                        'comment; add an "Energy (keV)" column')
    coefficients = parse_numbers(path, text.replace(",", " ").split(), "calibration_kev comment")
    try:
        calibration = Calibration(tuple(coefficients))
    except InputError as exc:
        raise InputError.for_file(path, str(exc)) from None
    return shift_calibration(calibration, first_channel), "comment"


def _time_comment(path: Path, comments: dict[str, str], key: str) -> float | None:
    if key not in comments:
        return None
    value = parse_numbers(path, [comments[key]], f"{key} comment")[0]
    if value < 0:
        raise InputError.for_file(path, f"{key} comment is negative ({value:g})")
    return float(value)


def write_csv(path: str | Path, spectrum: Spectrum) -> Path:
    """Write ``spectrum`` as CSV with its calibration and times in comment lines."""
    path = Path(path)
    lines = [f"# name: {spectrum.name}"] if spectrum.name else []
    coefficients = " ".join(f"{c:.10g}" for c in spectrum.calibration.coefficients)
    lines.append(f"# calibration_kev: {coefficients}")
    if spectrum.live_time_s is not None:
        lines.append(f"# live_time_s: {spectrum.live_time_s:.6g}")
    if spectrum.real_time_s is not None:
        lines.append(f"# real_time_s: {spectrum.real_time_s:.6g}")
    lines.append('"Energy (keV)","Counts"')
    counts = spectrum.counts
    integral = np.all(counts == np.rint(counts))
    count_text = counts.astype(np.int64).astype(str) if integral else np.char.mod("%.6g", counts)
    energy_text = np.char.mod("%.4f", spectrum.energies)
    rows = np.char.add(np.char.add(energy_text, ","), count_text)
    atomic_write_bytes(path, ("\n".join(lines + rows.tolist()) + "\n").encode())
    return path
