"""Classifying opened spectra, as recorded or as a short measurement (what Analyze does).

A spectrum is rebinned onto the model's energy grid; optionally a short measurement of ``k``
counts is drawn from it (RSM-3, paper Sec. III-A) to see what the model would say after a few
seconds. The result carries the class probabilities, the class activation map of the call over
energy and everything needed to draw and to export it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.spectrum.rebin import rebin
from engines.spectrum.rsm import rsm3
from engines.spectrum.spectrum import Spectrum

if TYPE_CHECKING:
    from engines.spectrum.classifier import SpectrumClassifier

MAX_DRAW_COUNTS = 10_000_000


@dataclass
class SpectrumAnalysis:
    """The classification of one spectrum.

    Attributes
    ----------
    name
        Display name (file name or spectrum name).
    source
        File the spectrum came from, if any.
    classes
        The model's class names.
    probabilities
        (n_classes,) softmax output, sums to 1.
    edges_kev
        (n_channels + 1,) channel edges of the model's grid, keV.
    counts
        (n_channels,) counts that were classified (rebinned; the RSM draw for a short
        measurement), float64.
    cam
        (n_channels,) float32 class activation map of the predicted class; NaN in the channels
        the model discards.
    live_time_s
        Live time of what was classified (scaled by ``k / total`` for a short measurement);
        None when the file has none.
    short_counts
        ``k`` of the short measurement, None when the spectrum was classified as recorded.
    seed
        Seed of the short-measurement draw.
    """

    name: str
    source: Path | None
    classes: list[str]
    probabilities: np.ndarray
    edges_kev: np.ndarray
    counts: np.ndarray
    cam: np.ndarray
    live_time_s: float | None
    short_counts: int | None = None
    seed: int = 0

    @property
    def predicted_index(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def predicted(self) -> str:
        return self.classes[self.predicted_index]

    @property
    def confidence(self) -> float:
        """Probability of the predicted class, 0-1."""
        return float(self.probabilities[self.predicted_index])

    @property
    def total_counts(self) -> float:
        return float(self.counts.sum())

    @property
    def mode(self) -> str:
        """``"as recorded"`` or ``"RSM-3 draw of k counts (seed s)"``."""
        if self.short_counts is None:
            return "as recorded"
        return f"RSM-3 draw of {self.short_counts} counts (seed {self.seed})"


def model_counts(classifier: SpectrumClassifier, spectrum: Spectrum) -> np.ndarray:
    """A spectrum's counts on the classifier's grid, shape (n_channels,), float64.

    Raises
    ------
    InputError
        The file has no energy calibration, or no counts in the channels the model keeps.
    """
    label = spectrum.source.name if spectrum.source else (spectrum.name or "spectrum")
    if not spectrum.metadata.get("calibrated", True):
        raise InputError(f"{label}: has no energy calibration, so it cannot be placed on the "
                         "model's energy grid")
    counts = rebin(spectrum, classifier.grid)
    if counts[classifier.keep_mask].sum() <= 0:
        raise InputError(f"{label}: has no counts in the energy range the model uses")
    return counts


def short_measurement(counts: np.ndarray, k: int, live_time_s: float | None, seed: int = 0
                      ) -> tuple[np.ndarray, float | None]:
    """An RSM-3 draw of ``k`` counts from ``counts`` and its live time.

    Parameters
    ----------
    counts
        (n_channels,) long measurement.
    k
        Counts in the short measurement (1 - :data:`MAX_DRAW_COUNTS`).
    live_time_s
        Live time of the long measurement, or None.

    Returns
    -------
    (n_channels,) float64 draw summing to ``k`` and ``live_time_s * k / counts.sum()`` (None
    when the live time is unknown).
    """
    if isinstance(k, bool) or not 1 <= int(k) <= MAX_DRAW_COUNTS:
        raise InputError(f"a short measurement needs 1-{MAX_DRAW_COUNTS} counts, got {k!r}")
    draw = rsm3(counts, int(k), np.random.default_rng([int(seed), int(k)])).astype(np.float64)
    live = live_time_s * int(k) / float(np.sum(counts)) if live_time_s else None
    return draw, live


def analyze_spectra(classifier: SpectrumClassifier, spectra: Sequence[Spectrum],
                    short_counts: int | None = None, seed: int = 0
                    ) -> TaskGenerator[list[SpectrumAnalysis]]:
    """Classify spectra and compute the CAM of each call; a generator (one Progress each).

    Parameters
    ----------
    spectra
        Spectra in any calibration (rebinned onto the model's grid here).
    short_counts
        Classify an RSM-3 draw of this many counts instead of the whole spectrum.
    seed
        Seed of the draws (spectrum ``i`` uses ``seed + i``).

    Returns
    -------
    One :class:`SpectrumAnalysis` per spectrum, in order.
    """
    out = []
    edges = classifier.grid.edges
    for index, spectrum in enumerate(spectra):
        name = spectrum.source.name if spectrum.source else (spectrum.name or f"spectrum {index}")
        yield Progress(index / max(len(spectra), 1), f"classifying {name}")
        counts = model_counts(classifier, spectrum)
        live = spectrum.live_time_s
        if short_counts is not None:
            counts, live = short_measurement(counts, short_counts, live, seed + index)
        result = classifier.cam(counts)
        out.append(SpectrumAnalysis(name, spectrum.source, list(classifier.classes),
                                    result.probabilities[0], edges, counts, result.maps[0],
                                    live, short_counts, seed + index))
    yield Progress(1.0, f"classified {len(out)} spectra")
    return out


def classification_record(analysis: SpectrumAnalysis, top: int = 3) -> dict:
    """What ``spectrum classify`` reports per file (and ``batch`` per row): the call, its
    probability, the ``top`` classes, total counts and live time."""
    order = np.argsort(analysis.probabilities)[::-1][:max(1, top)]
    return {"file": str(analysis.source) if analysis.source else analysis.name,
            "predicted": analysis.predicted, "probability": analysis.confidence,
            "top": [{"class": analysis.classes[i], "probability": float(analysis.probabilities[i])}
                    for i in order],
            "total_counts": analysis.total_counts, "live_time_s": analysis.live_time_s}


def prediction_table(analyses: Sequence[SpectrumAnalysis]) -> tuple[list[str], list[list]]:
    """Header and rows for a predictions CSV.

    Columns: file, mode, total_counts, live_time_s, predicted, confidence and one
    ``p_<class>`` column per class.

    Raises
    ------
    InputError
        No analyses, or analyses of models with different classes.
    """
    if not analyses:
        raise InputError("there are no predictions to export yet; analyze a spectrum first")
    classes = analyses[0].classes
    if any(a.classes != classes for a in analyses):
        raise InputError("the predictions come from models with different classes")
    header = ["file", "mode", "total_counts", "live_time_s", "predicted", "confidence"]
    header += [f"p_{name}" for name in classes]
    rows = []
    for a in analyses:
        live = "" if a.live_time_s is None else f"{a.live_time_s:.4f}"
        rows.append([str(a.source) if a.source else a.name, a.mode, f"{a.total_counts:.0f}",
                     live, a.predicted, f"{a.confidence:.6f}",
                     *(f"{p:.6f}" for p in a.probabilities)])
    return header, rows
