"""Synthetic PGNAA sample libraries: expected spectra and long measurements written as CSV.

A library is a set of materials measured on one set-up (count rate, reference live time).
Each class gets ``measurements_per_class`` long measurements: Poisson counts around the expected
spectrum, each with a slightly different live time (+-5 %) and a small gain drift (+-5e-5,
i.e. +-0.4 keV at 7.6 MeV), written with the paper's nominal calibration
``E = 2.0727 + 0.704981 * ch`` keV over 16384 channels. Real time includes a dead time of
6 us per count. See docs/synthetic_library.md for the physics and the composition tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, drive
from engines.core.registry import lookup
from engines.spectrum.readers.csv_format import write_csv
from engines.spectrum.rsm import PAPER_COUNT_RATE
from engines.spectrum.spectrum import PAPER_CALIBRATION, PAPER_GRID, EnergyGrid, Spectrum
from engines.spectrum.synthetic.detector import DetectorModel
from engines.spectrum.synthetic.materials import MATERIAL_LIBRARIES, Material
from engines.spectrum.synthetic.source import (
    Facility,
    element_captures,
    element_responses,
    facility_response,
)

DEAD_TIME_PER_COUNT_S = 6e-6
LIVE_TIME_SPREAD = 0.05  # measurement live time = reference * (1 +- spread)
GAIN_DRIFT_SPREAD = 5e-5  # relative gain error of a measurement, uniform in +-spread


@dataclass(frozen=True)
class LibrarySpec:
    """One synthetic library.

    Attributes
    ----------
    name
        Library name, e.g. ``"materials12"``.
    materials
        Its classes, in the paper's order.
    count_rate_cps
        Count rate of the set-up in counts per live second (paper: 19650 counts ~ 2.479 s for
        materials12, 20000 ~ 1.11 s for aluminium, 500000 ~ 24.44 s for copper).
    live_time_s
        Live time of one long reference measurement, seconds.
    kept_channels
        ``(first, stop)`` channel range the paper kept for this dataset.
    """

    name: str
    materials: tuple[Material, ...]
    count_rate_cps: float
    live_time_s: float
    kept_channels: tuple[int, int]

    @property
    def class_names(self) -> list[str]:
        return [m.name for m in self.materials]

    @property
    def kept(self) -> slice:
        return slice(*self.kept_channels)


LIBRARY_SPECS: dict[str, LibrarySpec] = {
    "materials12": LibrarySpec("materials12", MATERIAL_LIBRARIES["materials12"],
                               PAPER_COUNT_RATE, 7200.0, (104, 8000)),
    "aluminium4": LibrarySpec("aluminium4", MATERIAL_LIBRARIES["aluminium4"],
                              20000 / 1.11, 10800.0, (104, 16384)),
    "copper5": LibrarySpec("copper5", MATERIAL_LIBRARIES["copper5"],
                           500000 / 24.44, 10800.0, (104, 14000)),
}
LIBRARIES: tuple[str, ...] = tuple(LIBRARY_SPECS)


def library_spec(library: str) -> LibrarySpec:
    """The spec of a library; unknown names raise :class:`InputError` listing the valid ones."""
    return lookup(LIBRARY_SPECS, library, "sample library")


def spectrum_shapes(materials: tuple[Material, ...], edges_kev: np.ndarray,
                    detector: DetectorModel | None = None,
                    facility: Facility | None = None) -> np.ndarray:
    """Expected detected spectra of materials, each normalised to sum 1.

    Returns
    -------
    (len(materials), n_channels) float64 probabilities per channel.
    """
    detector = detector or DetectorModel()
    facility = facility or Facility()
    captures = [element_captures(m.composition, facility) for m in materials]
    symbols = sorted({s for c in captures for s in c})
    responses = element_responses(symbols, edges_kev, detector, facility)
    weights = np.array([[c.get(s, 0.0) for s in symbols] for c in captures])
    shapes = weights @ responses + facility_response(edges_kev, detector, facility)[None, :]
    return shapes / shapes.sum(axis=1, keepdims=True)


def expected_spectra(library: str = "materials12", grid: EnergyGrid = PAPER_GRID, *,
                     live_time_s: float | None = None, gain_drift: float = 0.0,
                     ) -> tuple[list[str], np.ndarray]:
    """Expected (noise-free) counts of a library's reference measurements.

    Parameters
    ----------
    library
        One of :data:`LIBRARIES`.
    grid
        Channel grid the detector reports on (default: the paper's 16384 channels).
    live_time_s
        Live time in seconds (default: the library's reference live time).
    gain_drift
        Relative gain error: a photon of energy E is recorded at the nominal channel of
        ``E * (1 + gain_drift)``.

    Returns
    -------
    class_names, counts
        Class names in library order and (n_classes, n_channels) float64 expected counts.
    """
    spec = library_spec(library)
    live = spec.live_time_s if live_time_s is None else float(live_time_s)
    if not live > 0 or not abs(gain_drift) < 0.05:
        raise InputError(f"live time must be > 0 s and |gain drift| < 0.05, got {live}, "
                         f"{gain_drift}")
    shapes = spectrum_shapes(spec.materials, grid.edges / (1.0 + gain_drift))
    return spec.class_names, shapes * spec.count_rate_cps * live


def _drifted(shapes: np.ndarray, edges: np.ndarray, drift: float) -> np.ndarray:
    """Re-bin (C, n) per-channel contents to channels whose true energies are ``edges/(1+drift)``."""
    cumulative = np.concatenate([np.zeros((shapes.shape[0], 1)), np.cumsum(shapes, axis=1)], 1)
    moved = edges / (1.0 + drift)
    return np.diff(np.stack([np.interp(moved, edges, row) for row in cumulative]), axis=1)


def iter_sample_library(out_dir: str | Path, library: str = "materials12", seed: int = 0,
                        measurements_per_class: int = 2) -> Generator[Progress, None, Path]:
    """Write a library's long measurements as CSV files, yielding progress per file.

    Files are ``out_dir/<library>/<class name>/<slug>_<i>.csv``. Returns the library folder.
    The same ``seed`` gives the same files.
    """
    spec = library_spec(library)
    if not 1 <= int(measurements_per_class) <= 100:
        raise InputError(f"measurements per class must be 1-100, got {measurements_per_class}")
    if int(seed) < 0:
        raise InputError(f"the seed must be >= 0, got {seed}")
    root = Path(out_dir) / spec.name
    rng = np.random.default_rng([int(seed), LIBRARIES.index(spec.name)])
    yield Progress(0.0, f"computing {spec.name} spectra")
    edges = PAPER_GRID.edges
    shapes = spectrum_shapes(spec.materials, edges)
    n_files = len(spec.materials) * measurements_per_class
    done = 0
    # files go to a private staging folder and move into place at the end, so a cancelled or
    # failed run (or two writers at once) never leaves a half-written library behind
    staging = _staging_folder(root)
    try:
        for index in range(measurements_per_class):
            drift = rng.uniform(-GAIN_DRIFT_SPREAD, GAIN_DRIFT_SPREAD)
            drifted = _drifted(shapes, edges, drift)
            for material, shape in zip(spec.materials, drifted, strict=True):
                live = spec.live_time_s * (1.0 + rng.uniform(-LIVE_TIME_SPREAD, LIVE_TIME_SPREAD))
                counts = rng.poisson(np.clip(shape, 0.0, None) * spec.count_rate_cps * live)
                real = live / (1.0 - spec.count_rate_cps * DEAD_TIME_PER_COUNT_S)
                spectrum = Spectrum(counts.astype(np.float64), PAPER_CALIBRATION, live_time_s=live,
                                    real_time_s=real, name=f"{material.name} #{index}")
                path = staging / material.name / f"{material.slug}_{index}.csv"
                _write(path, spectrum, root)
                done += 1
                yield Progress(done / n_files, f"wrote {material.slug}_{index}.csv")
        _move_into_place(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _staging_folder(root: Path) -> Path:
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    except OSError as error:
        raise InputError(f"cannot write sample data to {root.parent}: "
                         f"{error.strerror or error}") from error


def _write(path: Path, spectrum: Spectrum, root: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(path, spectrum)
    except OSError as error:
        raise InputError(f"cannot write sample data to {root}: {error.strerror or error}") from error


def _move_into_place(staging: Path, root: Path) -> None:
    """Rename the staging folder to ``root``; when ``root`` already holds files (a user's
    folder, or a concurrent writer that finished first), move the new files into it."""
    try:
        try:
            os.replace(staging, root)
        except OSError:
            if not root.is_dir():
                raise
            for source in staging.rglob("*.csv"):
                target = root / source.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
    except OSError as error:
        raise InputError(f"cannot write sample data to {root}: {error.strerror or error}") from error


def write_sample_library(out_dir: str | Path, library: str = "materials12", seed: int = 0,
                         measurements_per_class: int = 2) -> Path:
    """Write a library (see :func:`iter_sample_library`) and return ``out_dir/<library>``."""
    return drive(iter_sample_library(out_dir, library, seed, measurements_per_class))
