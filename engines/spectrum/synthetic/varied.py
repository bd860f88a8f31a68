"""A library measured the way real ones are: several files per material, each with its own
calibration, channel count, live time, count rate and resolution, written as ORTEC ``.Spe``.

Real reference libraries (one folder per material, 10-20 ``.Spe`` files of differing
calibrations) are what the uniform sample libraries are not. For each file of a class this
draws

* a channel count (16384 or 8192) and a *stated* calibration: gain ``0.704981 * 16384 / n``
  keV/channel times ``1 +- gain_spread``, an offset in ``+-offset_kev`` and a small quadratic
  term;
* a *true* calibration that differs from the stated one by a relative gain error in
  ``+-calibration_error`` (the spectrometer's drift between calibration and measurement);
* a live time (log-uniform in ``live_time_s``), a count rate (``count_rate_cps``) and one of
  three detector resolutions (``resolution_scale``).

Expected counts are computed on a fine grid (0.35 keV channels) for each detector, rebinned to
the file's true channel edges and drawn as Poisson counts. Files are then split per class into
``train/`` and ``test/`` by file (about 30 % held out, at least one), so a model is evaluated
on measurements it never saw.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress
from engines.spectrum.readers.spe import write_spe
from engines.spectrum.rebin import rebin_counts
from engines.spectrum.spectrum import Calibration, EnergyGrid, Spectrum
from engines.spectrum.synthetic.detector import DetectorModel
from engines.spectrum.synthetic.library import spectrum_shapes
from engines.spectrum.synthetic.materials import MATERIAL_LIBRARIES

FINE_GRID = EnergyGrid(Calibration((0.0, 0.35)), 34_000)  # 0-11.9 MeV


@dataclass(frozen=True)
class Variation:
    """How the files of a varied library differ (see the module docstring)."""

    files_per_class: tuple[int, int] = (3, 12)
    live_time_s: tuple[float, float] = (600.0, 7200.0)
    count_rate_cps: tuple[float, float] = (3000.0, 12000.0)
    gain_spread: float = 0.02
    offset_kev: float = 3.0
    quadratic: float = 2e-9
    calibration_error: float = 1e-4
    resolution_scale: tuple[float, float, float] = (0.9, 1.0, 1.15)
    test_fraction: float = 0.3


#: The shape of a real reference library: 10-20 files per material (the issue's public
#: library; ``spectrum sample --library mixed19 --files 10:20``).
REAL_SHAPE = Variation(files_per_class=(10, 20))


def _detector(scale: float) -> DetectorModel:
    base = DetectorModel()
    return DetectorModel(noise_fwhm_kev=base.noise_fwhm_kev * scale,
                         fano_factor=base.fano_factor * scale ** 2)


def iter_varied_library(out_dir: str | Path, library: str = "mixed19", seed: int = 0,
                        variation: Variation | None = None) -> Generator[Progress, None, Path]:
    """Write ``out_dir/<library>/{train,test}/<class>/<slug>_<i>.Spe``; returns the library
    folder. The same seed gives the same files."""
    variation = variation or Variation()
    if library not in MATERIAL_LIBRARIES:
        raise InputError(f"unknown material library {library!r}; valid: "
                         f"{', '.join(MATERIAL_LIBRARIES)}")
    materials = MATERIAL_LIBRARIES[library]
    low, high = variation.files_per_class
    if not 2 <= low <= high <= 100:
        raise InputError(f"files per class must satisfy 2 <= low <= high <= 100, got {low, high}")
    rng = np.random.default_rng([int(seed), 1913])
    root = Path(out_dir) / library
    yield Progress(0.0, f"computing {library} spectra for {len(variation.resolution_scale)} "
                        "detectors")
    shapes = [spectrum_shapes(materials, FINE_GRID.edges, _detector(scale))
              for scale in variation.resolution_scale]
    counts_per_class = rng.integers(low, high + 1, size=len(materials))
    total, done = int(counts_per_class.sum()), 0
    for index, (material, n_files) in enumerate(zip(materials, counts_per_class, strict=True)):
        n_test = max(1, int(round(variation.test_fraction * n_files)))
        test = set(rng.choice(n_files, size=n_test, replace=False).tolist())
        for i in range(int(n_files)):
            spectrum = _measurement(shapes, index, variation, rng)
            spectrum.name = f"{material.name} #{i}"
            split = "test" if i in test else "train"
            path = root / split / material.name / f"{material.slug}_{i}.Spe"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_spe(path, spectrum)
            except OSError as error:
                raise InputError(f"cannot write to {root}: {error.strerror or error}") from error
            done += 1
            yield Progress(done / total, f"wrote {split}/{material.name}/{path.name}")
    return root


def _measurement(shapes: list[np.ndarray], index: int, variation: Variation,
                 rng: np.random.Generator) -> Spectrum:
    n_channels = int(rng.choice([16384, 8192]))
    gain = 0.704981 * 16384 / n_channels * (1 + rng.uniform(-1, 1) * variation.gain_spread)
    offset = rng.uniform(-1, 1) * variation.offset_kev
    quadratic = rng.uniform(-1, 1) * variation.quadratic * (16384 / n_channels) ** 2
    stated = Calibration((offset, gain, quadratic))
    error = 1 + rng.uniform(-1, 1) * variation.calibration_error
    true_edges = stated.edges(n_channels) * error
    detector = int(rng.integers(len(shapes)))
    live = float(np.exp(rng.uniform(*np.log(variation.live_time_s))))
    rate = float(rng.uniform(*variation.count_rate_cps))
    expected = rebin_counts(shapes[detector][index], FINE_GRID.edges, true_edges)
    counts = rng.poisson(np.clip(expected, 0, None) * rate * live).astype(np.float64)
    real = live / (1.0 - rate * 6e-6)
    return Spectrum(counts, stated, live_time_s=round(live, 3), real_time_s=round(real, 3),
                    metadata={"description": f"varied library, detector {detector}"})
