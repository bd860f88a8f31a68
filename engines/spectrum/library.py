"""Dataset folders of labelled spectra: ``DIR/<material name>/<spectrum files>``.

The sub-folder name is the class; each class may hold several (long) measurements in any
supported format. Loading reads every file, rebins it onto the model's energy grid (each file
from its own calibration) and keeps the live times so that the RSM can turn a count budget into a
measurement time. The rebinned files are cached per folder and grid
(:mod:`engines.spectrum.reference_cache`), so a library is read and rebinned once.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.spectrum.readers import SUPPORTED_SUFFIXES, read_spectrum
from engines.spectrum.rebin import rebin
from engines.spectrum.reference_cache import ReferenceCache
from engines.spectrum.spectrum import PAPER_GRID, EnergyGrid, Spectrum


@dataclass
class SpectrumLibrary:
    """Labelled long spectra on one energy grid.

    Attributes
    ----------
    classes
        Class (material) names, sorted; ``labels`` index into it.
    grid
        The energy grid every row of ``spectra`` is binned on.
    spectra
        Rebinned counts, shape (n_files, grid.n_channels), float64.
    labels
        Class index per file, shape (n_files,), int64.
    files
        Source file per row.
    live_times
        Live time per file in s, shape (n_files,), NaN when the file has none.
    """

    classes: list[str]
    grid: EnergyGrid
    spectra: np.ndarray
    labels: np.ndarray
    files: list[Path]
    live_times: np.ndarray

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def class_templates(self) -> np.ndarray:
        """Summed counts per class normalised to probabilities, shape (n_classes, n_channels)."""
        one_hot = np.eye(self.n_classes)[self.labels]  # (n_files, n_classes)
        sums = one_hot.T @ self.spectra
        totals = sums.sum(axis=1, keepdims=True)
        return np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0)

    def count_rate(self, class_index: int) -> float | None:
        """Counts per second of live time inside the grid for one class.

        Uses only the files of that class with a known live time; None when there are none.
        """
        if not 0 <= class_index < self.n_classes:
            raise InputError(f"class index {class_index} out of range 0..{self.n_classes - 1}")
        rows = (self.labels == class_index) & np.isfinite(self.live_times) & (self.live_times > 0)
        if not np.any(rows):
            return None
        return float(self.spectra[rows].sum() / self.live_times[rows].sum())

    def subset(self, file_indices: np.ndarray | list[int]) -> SpectrumLibrary:
        """A library with the given rows (same classes and grid)."""
        index = np.asarray(file_indices, dtype=np.int64)
        return SpectrumLibrary(list(self.classes), self.grid, self.spectra[index].copy(),
                               self.labels[index].copy(), [self.files[i] for i in index],
                               self.live_times[index].copy())


def find_dataset_files(folder: str | Path) -> dict[str, list[Path]]:
    """Class name -> sorted spectrum files, for a ``DIR/<class>/<files>`` dataset folder.

    Hidden files and folders (starting with ".") and files of other types are ignored.

    Raises
    ------
    InputError
        Folder missing or not a folder, no class sub-folders, a class folder without spectra.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder.name}: dataset folder not found ({folder})")
    if not folder.is_dir():
        raise InputError(f"{folder.name}: not a folder; a dataset is a folder with one "
                         "sub-folder of spectra per material")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise InputError(f"{folder.name}: no class sub-folders; expected "
                         f"{folder.name}/<material name>/<spectrum files>")
    found = {}
    for class_dir in class_dirs:
        files = sorted(p for p in class_dir.iterdir() if p.is_file()
                       and not p.name.startswith(".") and p.suffix.lower() in SUPPORTED_SUFFIXES)
        if not files:
            raise InputError(f"{folder.name}/{class_dir.name}: class folder holds no spectrum "
                             f"files ({', '.join(SUPPORTED_SUFFIXES)})")
        found[class_dir.name] = files
    return found


def iter_load_library(folder: str | Path,
                      grid: EnergyGrid = PAPER_GRID) -> Generator[Progress, None, SpectrumLibrary]:
    """Read a dataset folder and rebin every spectrum onto ``grid``; yields one Progress per file.

    Raises
    ------
    InputError
        See :func:`find_dataset_files`; a file that cannot be read (its own message, naming the
        file); a file without energy calibration; a spectrum with no counts inside the grid.
    """
    by_class = find_dataset_files(folder)
    classes = sorted(by_class)
    files = [f for name in classes for f in by_class[name]]
    labels = np.array([i for i, name in enumerate(classes) for _ in by_class[name]], np.int64)
    spectra = np.zeros((len(files), grid.n_channels))
    live_times = np.full(len(files), np.nan)
    lo, hi = grid.edges[0], grid.edges[-1]
    cache = ReferenceCache(Path(folder), grid)
    for row, path in enumerate(files):
        yield Progress(row / len(files), f"reading {path.parent.name}/{path.name}",
                       file=row + 1, files=len(files))
        cached = cache.get(path)
        if cached is not None:
            spectra[row], live_times[row] = cached
            continue
        spectrum = read_spectrum(path)
        if not spectrum.metadata.get("calibrated", True):
            raise InputError.for_file(path, "has no energy calibration, so it cannot be placed "
                                            "on the model's energy grid")
        try:
            spectra[row] = rebin(spectrum, grid)
        except InputError as exc:  # rebin's messages do not name the file
            raise InputError.for_file(path, str(exc)) from None
        if spectra[row].sum() <= 0:
            e = spectrum.edges
            raise InputError.for_file(path, f"no counts inside the energy grid {lo:.1f}-"
                                            f"{hi:.1f} keV (spectrum covers {e[0]:.1f}-"
                                            f"{e[-1]:.1f} keV)")
        if spectrum.live_time_s:
            live_times[row] = spectrum.live_time_s
        cache.put(path, spectra[row], spectrum.live_time_s or None)
    cache.save()
    yield Progress(1.0, f"loaded {len(files)} spectra of {len(classes)} classes")
    return SpectrumLibrary(classes, grid, spectra, labels, files, live_times)


def load_library(folder: str | Path, grid: EnergyGrid = PAPER_GRID) -> SpectrumLibrary:
    """Blocking :func:`iter_load_library`."""
    return drive(iter_load_library(folder, grid))


def summarize(path: str | Path) -> dict:
    """JSON-friendly summary of a spectrum file or a dataset folder (CLI ``info`` verb).

    Returns
    -------
    dict
        For a file: path, format, channels, calibration_kev (None when uncalibrated),
        energy_range_kev, total_counts, live_time_s, real_time_s, count_rate_cps.
        For a folder: path, classes (name, files, total_counts, live_time_s), files.
    """
    path = Path(path)
    if path.is_dir():
        classes = []
        for name, files in find_dataset_files(path).items():
            spectra = [read_spectrum(f) for f in files]
            lives = [s.live_time_s for s in spectra if s.live_time_s is not None]
            classes.append({"name": name, "files": len(files),
                            "total_counts": float(sum(s.total_counts for s in spectra)),
                            "live_time_s": float(sum(lives)) if lives else None})
        return {"path": str(path), "classes": classes,
                "files": int(sum(c["files"] for c in classes))}
    return _file_summary(path, read_spectrum(path))


def _file_summary(path: Path, spectrum: Spectrum) -> dict:
    calibrated = spectrum.metadata.get("calibrated", True)
    edges = spectrum.edges
    rate = spectrum.count_rate
    return {"path": str(path), "format": spectrum.metadata.get("format", ""),
            "channels": spectrum.n_channels,
            "calibration_kev": list(spectrum.calibration.coefficients) if calibrated else None,
            "energy_range_kev": [float(edges[0]), float(edges[-1])] if calibrated else None,
            "total_counts": spectrum.total_counts, "live_time_s": spectrum.live_time_s,
            "real_time_s": spectrum.real_time_s,
            "count_rate_cps": float(rate) if rate is not None else None}
