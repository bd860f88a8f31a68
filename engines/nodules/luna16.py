"""The LUNA16 layout and its CSV files.

A LUNA16 folder holds ``subset0/ … subset9/`` with one ``<seriesuid>.mhd`` (+ ``.raw``) per
scan, and beside them

* ``annotations.csv``: ``seriesuid, coordX, coordY, coordZ, diameter_mm`` — nodules ≥ 3 mm, world
  mm (LPS, as ITK reads the .mhd);
* ``annotations_excluded.csv`` (optional): findings the evaluation ignores (same columns; a
  diameter of -1 means unknown);
* ``candidates.csv`` (optional): ``seriesuid, coordX, coordY, coordZ, class`` (1 = nodule).

:func:`open_dataset` also accepts scans as NIfTI files or DICOM series anywhere below the
folder (a DICOM series is named by its SeriesInstanceUID). A CAD submission (what ``nodules
detect`` writes) is ``seriesuid, coordX, coordY, coordZ, probability`` — here with an extra
``diameter_mm`` column, which the LUNA16 evaluation script ignores.
"""

from __future__ import annotations

import csv
import io
import operator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.core.froc import Findings
from engines.core.safe_text import gc_paused

COORDS = ("coordX", "coordY", "coordZ")
ANNOTATION_COLUMNS = ("seriesuid", *COORDS, "diameter_mm")
SUBMISSION_COLUMNS = ("seriesuid", *COORDS, "probability")
CANDIDATE_COLUMNS = ("seriesuid", *COORDS, "class")
SCAN_SUFFIXES = (".mhd", ".mha", ".nii", ".nii.gz")
MAX_CSV_BYTES = 200 * 2**20
#: Most lines read from one CSV: 1.6 times the real candidates_V2.csv (754,975 rows). Parsing
#: takes about 6 µs and 400 bytes a row, so 200 MB of rows would take 13 s or gigabytes; the
#: line breaks are counted before anything is parsed.
MAX_ROWS = 1_200_000
#: Largest world coordinate accepted, mm (as a volume's origin: engines.imaging.volume).
MAX_WORLD_MM = 1e9
#: Largest nodule diameter accepted, mm (a whole thorax is about 400 mm wide).
MAX_DIAMETER_MM = 1000.0


@dataclass(frozen=True)
class ScanEntry:
    """One scan of a dataset: its seriesuid, file or folder, and the DICOM series to read."""

    seriesuid: str
    path: Path
    series_uid: str | None = None


@dataclass(frozen=True)
class LunaDataset:
    """A folder of scans with their annotations.

    Attributes
    ----------
    root : Path
    scans : list of ScanEntry
        Sorted by seriesuid.
    annotations : Findings
        Nodules (``diameter_mm``) of the scans found (rows of other scans are dropped).
    excluded : Findings or None
        ``annotations_excluded.csv``, when present.
    candidates : Findings or None
        ``candidates.csv`` with its ``class`` column as ``probability`` (0 or 1), when present.
    """

    root: Path
    scans: list[ScanEntry]
    annotations: Findings
    excluded: Findings | None = None
    candidates: Findings | None = None

    def nodules_of(self, seriesuid: str, excluded: bool = False) -> Findings:
        """The annotation (or excluded) rows of one scan."""
        table = self.excluded if excluded else self.annotations
        if table is None:
            return empty_findings()
        return select(table, table.scan == seriesuid)

    def describe(self) -> str:
        return (f"{self.root.name}: {len(self.scans)} scans, {len(self.annotations)} nodules"
                + (f", {len(self.excluded)} excluded findings" if self.excluded is not None
                   else ""))


def empty_findings(with_probability: bool = False) -> Findings:
    return Findings(np.zeros(0, dtype=object), np.zeros((0, 3)), np.zeros(0),
                    np.zeros(0) if with_probability else None)


def select(findings: Findings, keep: np.ndarray) -> Findings:
    """The rows of ``findings`` where ``keep`` is True."""
    return Findings(findings.scan[keep], findings.xyz_mm[keep],
                    None if findings.diameter_mm is None else findings.diameter_mm[keep],
                    None if findings.probability is None else findings.probability[keep])


def _numbers(path: Path, lines: np.ndarray, column: str, cells: tuple[str, ...]) -> np.ndarray:
    """The cells of one column as float64 (one vectorised conversion; the per-cell loop only
    runs to name the first bad line); InputError for a non-number or a non-finite value."""
    try:
        values = np.array(cells, dtype=np.float64).reshape(-1)
    except ValueError:  # find the line; numpy may also refuse what float() takes
        numbers = []
        for line, text in zip(lines, cells, strict=True):
            try:
                numbers.append(float(text))
            except ValueError:
                raise InputError.for_file(path, f"line {line}: {column} {text[:40]!r} is not "
                                                "a number") from None
        values = np.array(numbers, dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError.for_file(path, f"line {lines[np.argmax(bad)]}: {column} is not finite")
    return values


def _check_range(path: Path, lines: np.ndarray, column: str, values: np.ndarray,
                 unknown_diameter: bool) -> np.ndarray:
    """``values`` of ``column`` if they can be one: coordinates within MAX_WORLD_MM, diameters
    in (0, MAX_DIAMETER_MM] (or -1, unknown, where ``unknown_diameter``), classes 0 or 1."""
    if column in COORDS:
        bad, why = np.abs(values) > MAX_WORLD_MM, f"mm is beyond {MAX_WORLD_MM:g} mm"
    elif column == "diameter_mm":
        bad = ~((values > 0) & (values <= MAX_DIAMETER_MM))
        if unknown_diameter:
            bad &= values != -1
        why = f"is not within (0, {MAX_DIAMETER_MM:g}] mm" + \
            (" or -1 (unknown)" if unknown_diameter else "")
    elif column == "class":
        bad, why = (values != 0) & (values != 1), "is not 0 or 1"
    else:
        return values
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError.for_file(path, f"line {lines[k]}: {column} {values[k]:g} {why}")
    return values


def read_findings(path: str | Path, value_column: str, unknown_diameter: bool = False
                  ) -> Findings:
    """A LUNA16-style CSV: seriesuid, coordX, coordY, coordZ and ``value_column``
    (``diameter_mm``, ``probability`` or ``class``; a submission's ``diameter_mm`` column is
    read too when present).

    Values are checked: coordinates within 1e9 mm, ``diameter_mm`` in (0, 1000] mm (or -1,
    unknown, where ``unknown_diameter``: ``annotations_excluded.csv``), ``class`` 0 or 1, and
    every seriesuid non-empty.

    Returns
    -------
    Findings
        ``diameter_mm`` for annotations (and submissions that carry it); ``probability`` for
        submissions, or the class for ``candidates.csv``.

    Raises
    ------
    InputError
        ``"annotations.csv: no column coordX"``, ``"…: line 7: coordZ 'x' is not a number"``.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise InputError.for_file(path, "larger than 200 MB; not a LUNA16 CSV")
        data = path.read_bytes()
        if max(data.count(b"\n"), data.count(b"\r")) > MAX_ROWS:  # csv ends rows at either
            raise InputError.for_file(path, f"more than {MAX_ROWS:,} lines; not a LUNA16 CSV")
        data.decode("utf-8-sig")  # the whole file is text, or nothing of it is read
    except FileNotFoundError:
        raise InputError.for_file(path, "no such file") from None
    except UnicodeDecodeError:
        raise InputError.for_file(path, "not a text (UTF-8) CSV file") from None
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be read ({exc.strerror})") from None
    # decoded as it is parsed (a StringIO of the whole text took 4 bytes a character)
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="\n"))
    try:
        header = [h.strip() for h in next(reader, [])]
        if not header:
            raise InputError.for_file(path, "empty file")
        for column in ("seriesuid", *COORDS, value_column):
            if column not in header:
                shown = ", ".join(header)
                shown = shown[:200] + "…" if len(shown) > 200 else shown
                raise InputError.for_file(path, f"no column {column} (header: {shown})")
        index = {name: header.index(name) for name in header}
        wanted = ["seriesuid", *COORDS, value_column]
        if value_column != "diameter_mm" and "diameter_mm" in index:
            wanted.append("diameter_mm")
        # only the wanted cells of each row are kept (a 10^6-row candidates file)
        pick = operator.itemgetter(*(index[name] for name in wanted))
        lines, picked, short = [], [], None
        with gc_paused():
            for line, row in enumerate(reader, start=2):
                if not "".join(row).strip():  # blank lines are skipped
                    continue
                if len(row) < len(header):
                    short = short or (line, len(row))
                    continue
                lines.append(line)
                picked.append(pick(row))
    except csv.Error as exc:
        raise InputError.for_file(path, f"not a valid CSV file ({exc})") from None
    del data, reader
    if short is not None:
        raise InputError.for_file(path, f"line {short[0]}: {short[1]} fields, "
                                        f"expected {len(header)}")
    line_numbers = np.array(lines, dtype=np.int64)
    table = list(zip(*picked, strict=True)) or [()] * len(wanted)  # every tuple is full
    cells = dict(zip(wanted, table, strict=True))
    del picked
    scan = np.asarray([uid.strip() for uid in cells["seriesuid"]], dtype=object)
    if scan.size and not all(scan):
        raise InputError.for_file(path, f"line {line_numbers[np.argmin(scan.astype(bool))]}: "
                                        "empty seriesuid")
    columns = {name: _check_range(path, line_numbers, name, _numbers(
        path, line_numbers, name, cells[name]),
        name == "diameter_mm" and (unknown_diameter or value_column != "diameter_mm"))
        for name in wanted[1:]}
    xyz_array = np.stack([columns[c] for c in COORDS], axis=1).reshape(-1, 3)
    if value_column == "diameter_mm":
        return Findings(scan, xyz_array, columns["diameter_mm"])
    return Findings(scan, xyz_array, columns.get("diameter_mm"), columns[value_column])


def _write(path: str | Path, header: tuple[str, ...], rows: list[list]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = Path(path)
    try:
        atomic_write_bytes(path, buffer.getvalue().encode())
    except OSError as exc:
        raise InputError.for_file(path, f"cannot be written ({exc.strerror})") from None
    return path


def _coordinates(xyz: np.ndarray) -> list[list[str]]:
    return [[f"{v:.4f}" for v in row] for row in np.reshape(xyz, (-1, 3))]


def write_annotations(path: str | Path, findings: Findings) -> Path:
    """``annotations.csv`` (or ``annotations_excluded.csv``): world mm and diameter_mm."""
    rows = [[s, *c, f"{d:.3f}"] for s, c, d in
            zip(findings.scan, _coordinates(findings.xyz_mm), findings.diameter_mm, strict=True)]
    return _write(path, ANNOTATION_COLUMNS, rows)


def write_submission(path: str | Path, findings: Findings, with_diameter: bool = True) -> Path:
    """A LUNA16 CAD submission: seriesuid, coordX, coordY, coordZ, probability (+ diameter_mm
    when ``with_diameter`` and the findings carry diameters)."""
    with_diameter = with_diameter and findings.diameter_mm is not None
    header = SUBMISSION_COLUMNS + (("diameter_mm",) if with_diameter else ())
    rows = []
    for i, (scan, coords) in enumerate(zip(findings.scan, _coordinates(findings.xyz_mm),
                                           strict=True)):
        row = [scan, *coords, f"{findings.probability[i]:.6f}"]
        if with_diameter:
            row.append(f"{findings.diameter_mm[i]:.3f}")
        rows.append(row)
    return _write(path, header, rows)


def write_candidates(path: str | Path, findings: Findings, labels: np.ndarray) -> Path:
    """LUNA16's ``candidates.csv``: seriesuid, coordX, coordY, coordZ, class (1 = nodule)."""
    rows = [[s, *c, int(label)] for s, c, label in
            zip(findings.scan, _coordinates(findings.xyz_mm), labels, strict=True)]
    return _write(path, CANDIDATE_COLUMNS, rows)


def concat(parts: list[Findings]) -> Findings:
    """Rows of several :class:`Findings` (all with or all without each optional column)."""
    if not parts:
        return empty_findings()
    diam = None if parts[0].diameter_mm is None else np.concatenate([p.diameter_mm
                                                                     for p in parts])
    prob = None if parts[0].probability is None else np.concatenate([p.probability
                                                                     for p in parts])
    return Findings(np.concatenate([p.scan.astype(object) for p in parts]),
                    np.concatenate([p.xyz_mm for p in parts]), diam, prob)


# -- the folder ----------------------------------------------------------------------------


def _is_scan_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(SCAN_SUFFIXES)


def find_scans(root: str | Path) -> list[ScanEntry]:
    """Scans below ``root``: .mhd/.mha/NIfTI files (named by their stem) and DICOM series
    (named by SeriesInstanceUID), sorted by seriesuid; InputError when there is none."""
    from engines.imaging.dicom_series import list_series
    from engines.nodules.scan import file_seriesuid

    root = Path(root)
    if not root.is_dir():
        raise InputError.for_file(root, "not a folder (a LUNA16 dataset is a folder with "
                                        "subset*/ and annotations.csv)")
    entries: dict[str, ScanEntry] = {}
    dicom_folders = set()
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if _is_scan_file(path):
            uid = file_seriesuid(path)
            entries.setdefault(uid, ScanEntry(uid, path))
        elif path.is_file() and path.suffix.lower() in (".dcm", ".dicom", ".ima", ""):
            dicom_folders.add(path.parent)
    for folder in sorted(dicom_folders):
        try:
            series = list_series(folder)
        except InputError:
            continue
        for info in series:
            entries.setdefault(info.uid, ScanEntry(info.uid, folder, info.uid))
    if not entries:
        raise InputError.for_file(root, "no scans found (.mhd, .mha, .nii, .nii.gz or DICOM "
                                        "series)")
    return [entries[k] for k in sorted(entries)]


def _csv(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / "CSVFILES" / name):
        if candidate.is_file():
            return candidate
    return None


def open_dataset(root: str | Path, require_annotations: bool = True) -> LunaDataset:
    """The scans and CSV files of a LUNA16-style folder (module docstring).

    Raises
    ------
    InputError
        No scans, or no ``annotations.csv`` when ``require_annotations``.
    """
    root = Path(root)
    scans = find_scans(root)
    uids = {entry.seriesuid for entry in scans}
    path = _csv(root, "annotations.csv")
    if path is None:
        if require_annotations:
            raise InputError.for_file(root / "annotations.csv", "not found in the dataset "
                                                                "folder")
        annotations = empty_findings()
    else:
        annotations = read_findings(path, "diameter_mm")

    def ours(table: Findings) -> Findings:
        return select(table, np.array([s in uids for s in table.scan], dtype=bool))

    excluded_path = _csv(root, "annotations_excluded.csv")
    candidates_path = _csv(root, "candidates.csv")
    return LunaDataset(
        root, scans, ours(annotations),
        ours(read_findings(excluded_path, "diameter_mm", unknown_diameter=True))
        if excluded_path else None,
        ours(read_findings(candidates_path, "class")) if candidates_path else None)
