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
from engines.core.safe_read import reading
from engines.core.safe_text import open_text_limited
from engines.spectrum.readers._common import (
    MAX_CHANNELS,
    MAX_TEXT_BYTES,
    fit_calibration,
    make_spectrum,
    parse_numbers,
    shift_calibration,
)
from engines.spectrum.spectrum import Calibration, Spectrum

_UNIT_SCALE = {"kev": 1.0, "mev": 1000.0, "ev": 1e-3}
_CHANNEL_NAMES = {"channel", "channels", "ch", "chan", "chn", "channel number", "bin", "index"}
_COUNT_NAMES = {"counts", "count", "cts", "n", "intensity", "events", "y"}
_ENERGY_NAMES = {"energy", "e", "kev", "mev", "energy kev", "energy mev"}
# Linear-time patterns only: no nested or overlapping repetition (a 100 kB line of "(" must not
# make the matcher backtrack quadratically).
_TOKEN = re.compile(r'"[^"]*"|\'[^\']*\'|\S+')
_UNIT = re.compile(r"[(\[]\s*(\w+)\s*[)\]]")
_BRACKETED = re.compile(r"[(\[][^()\[\]]*[)\]]")
#: Longest CSV line (a spectrum row is a few dozen characters) and most lines in a file.
MAX_LINE_CHARS = 1 << 16
MAX_LINES = MAX_CHANNELS + 100_000
_BLOCK_ROWS = 1 << 16


def read_csv(path: str | Path) -> Spectrum:
    """Read a CSV/text spectrum.

    The energy column holds channel-centre energies (keV, or MeV/eV when the header says so); a
    linear or quadratic calibration is fitted to them. Without an energy column the
    ``# calibration_kev: c0 c1 [c2]`` comment written by :func:`write_csv` is used. The file is
    read line by line: memory stays proportional to the channels, and a file with more than
    2^20 data rows is refused as soon as the row after the limit is reached.

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
    with reading(path, "CSV spectrum"), \
            open_text_limited(path, MAX_TEXT_BYTES, MAX_LINE_CHARS, MAX_LINES) as text:
        comments: dict[str, str] = {}
        table: _Table | None = None
        for first, block in text.blocks():
            rows, numbers = [], []
            for number, raw in enumerate(block, first):
                line = raw.strip()
                if not line:
                    continue
                if line[0] == "#":
                    key, _, value = line[1:].partition(":")
                    comments.setdefault(key.strip().lower(), value.strip())
                    continue
                rows.append(line)
                numbers.append(number)
            if rows and table is None:
                table = _Table(path, rows[0], numbers[0])
                rows, numbers = rows[1:], numbers[1:]
            if rows:
                table.add(rows, numbers)
        if table is None:
            raise InputError.for_file(path, "no data rows (only comments or blank lines)")
        columns, energy_scale = table.finish()
        calibration, source = _calibration(path, columns, comments, energy_scale)
        return make_spectrum(path, columns["counts"], calibration,
                             _time_comment(path, comments, "live_time_s"),
                             _time_comment(path, comments, "real_time_s"),
                             name=comments.get("name") or path.stem,
                             metadata={"format": "csv", "calibrated": True,
                                       "calibration_source": source})


class _Table:
    """The data table: header, column roles, and float64 columns parsed block by block.

    A block of plain rows (no quotes or brackets) is split with ``str.split`` and converted
    by numpy in one go; a block that fails that fast path is parsed row by row, which also
    finds and names the first bad line.
    """

    def __init__(self, path: Path, first: str, number: int) -> None:
        self.path = path
        self.delimiter = next((d for d in ("\t", ";", ",") if d in first), None)
        row = self._split(first, number)
        self.header = None if _is_numeric_row(row) else row
        self.roles: dict[str, int] | None = None
        self.energy_scale = 1.0
        self.rows = 0
        self._parsed: dict[str, list[np.ndarray]] = {}
        if self.header is None:
            self.add([first], [number])

    def _split(self, line: str, number: int) -> list[str]:
        if self.delimiter is None:
            cells = _whitespace_cells(line)
        else:
            # One reader per line: an unbalanced quote must not swallow the following rows.
            try:
                cells = next(csv.reader([line], delimiter=self.delimiter,
                                        skipinitialspace=True), [])
            except csv.Error as exc:
                raise InputError.for_file(self.path, f"line {number}: {exc}") from None
            if self.delimiter == ";":  # continental spreadsheets: decimal commas
                cells = [cell.replace(",", ".") for cell in cells]
        return [cell.strip().strip("\"'").strip() for cell in cells]

    def add(self, lines: list[str], numbers: list[int]) -> None:
        """Parse data rows ``lines`` (stripped, non-empty) from lines ``numbers`` of the file."""
        if self.roles is None:
            self.roles, self.energy_scale = _column_roles(
                self.path, self.header, len(self._split(lines[0], numbers[0])))
            self._parsed = {role: [] for role in self.roles}
        self.rows += len(lines)
        if self.rows > MAX_CHANNELS:
            raise InputError.for_file(self.path, f"more than {MAX_CHANNELS} data rows (channels)")
        for start in range(0, len(lines), _BLOCK_ROWS):
            block = lines[start:start + _BLOCK_ROWS]
            columns = self._fast(block)
            if columns is None:
                columns = self._slow(block, numbers[start:start + _BLOCK_ROWS])
            for role, values in columns.items():
                self._parsed[role].append(values)

    def _fast(self, lines: list[str]) -> dict[str, np.ndarray] | None:
        joined = "".join(lines)
        if any(c in joined for c in "\"'([])"):
            return None
        if self.delimiter == ";":
            rows = [line.replace(",", ".").split(";") for line in lines]
        else:
            rows = [line.split(self.delimiter) for line in lines]
        needed = max(self.roles.values()) + 1
        if min(map(len, rows)) < needed:
            return None
        try:
            columns = {role: np.array([row[i] for row in rows], dtype=np.float64)
                       for role, i in self.roles.items()}
        except ValueError:
            return None
        return columns if all(np.all(np.isfinite(v)) for v in columns.values()) else None

    def _slow(self, lines: list[str], numbers: list[int]) -> dict[str, np.ndarray]:
        needed = max(self.roles.values()) + 1
        tokens: dict[str, list[str]] = {role: [] for role in self.roles}
        for line, number in zip(lines, numbers, strict=True):
            row = self._split(line, number)
            if len(row) < needed:
                raise InputError.for_file(self.path, f"line {number} has {len(row)} fields, "
                                                     f"expected at least {needed}: "
                                                     f"{','.join(row)[:60]!r}")
            if not all(row[i] for i in self.roles.values()):
                raise InputError.for_file(self.path, f"line {number} has an empty field")
            for role, index in self.roles.items():
                tokens[role].append(row[index])
        return {role: parse_numbers(self.path, values, f"{role} column", numbers)
                for role, values in tokens.items()}

    def finish(self) -> tuple[dict[str, np.ndarray], float]:
        """Columns ``{"counts": (n,), ["energy": (n,)], ["channel": (n,)]}`` and the unit scale."""
        if self.roles is None:
            raise InputError.for_file(self.path, "a header line but no data rows")
        return {role: np.concatenate(parts) for role, parts in self._parsed.items()}, \
            self.energy_scale


def _whitespace_cells(line: str) -> list[str]:
    """Whitespace-separated cells; quoted cells and a unit in brackets stay with their name
    ("Energy (keV)" is one cell)."""
    cells: list[str] = []
    open_unit = False
    for token in _TOKEN.findall(line):
        closes = ")" in token or "]" in token
        if cells and (open_unit or token[0] in "(["):
            cells[-1] = f"{cells[-1]} {token}"
            open_unit = not closes
        else:
            cells.append(token)
            open_unit = False
    return cells


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
        unit_match = _UNIT.search(lowered)
        base = _BRACKETED.sub("", lowered).strip()
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
