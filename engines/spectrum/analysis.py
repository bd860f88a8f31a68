"""Classifying opened spectra, as recorded or as a short measurement (what Analyze does).

A spectrum is rebinned onto the model's energy grid; optionally a short measurement of ``k``
counts is drawn from it (RSM-3, paper Sec. III-A) to see what the model would say after a few
seconds. The result carries the class probabilities, who made the call (the network, or the ML
peer below the hybrid's count level), the open-set verdict ("not in the library (closest: X)"
when the spectrum fits no class), the evidence over energy (the class activation map of a
network call; for an ML call the per-channel log-likelihood ratio of the call against the
runner-up, whose sum is the ML decision) and everything needed to draw and to export it.
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
MIN_COVERAGE = 0.9  # a spectrum covering less of the model's kept energy range is not a library one


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
    method
        ``"cnn"`` (the network called) or ``"ml"`` (the hybrid's ML peer called).
    open_set
        The open-set scores (:meth:`OpenSetScores.row`), None without an open-set calibration.
    evidence_label
        What ``cam`` shows.
    coverage
        Fraction of the model's kept energy range the spectrum covers (0-1).
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
    method: str = "cnn"
    open_set: dict | None = None
    evidence_label: str = ""
    coverage: float = 1.0

    @property
    def in_library(self) -> bool | None:
        """The open-set verdict; None when the model cannot tell."""
        return None if self.open_set is None else bool(self.open_set["in_library"])

    @property
    def verdict(self) -> str:
        """``"X"`` or ``"not in the library (closest: X)"``."""
        if self.in_library is False:
            return f"not in the library (closest: {self.predicted})"
        return self.predicted

    @property
    def called_by(self) -> str:
        return "ML peer (hybrid)" if self.method == "ml" else "CNN"

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
                    short_counts: int | None = None, seed: int = 0, alpha: float | None = None
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
    alpha
        Significance of the open-set test (default: the model's).

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
        assessment = classifier.assess(counts, alpha=alpha)
        probabilities = assessment.probabilities[0]
        method = str(assessment.method[0])
        if method == "ml":
            evidence, label = ml_evidence(classifier, counts, probabilities)
        else:
            evidence = classifier.cam(counts, class_index=int(np.argmax(probabilities))).maps[0]
            label = f"CAM of {classifier.classes[int(np.argmax(probabilities))]}"
        scores = None if assessment.open_set is None else assessment.open_set.row(0)
        coverage = kept_coverage(classifier, spectrum)
        if scores is not None:
            scores["reason"] = open_set_reason(scores, coverage)
            scores["in_library"] = scores["in_library"] and coverage >= MIN_COVERAGE
        out.append(SpectrumAnalysis(name, spectrum.source, list(classifier.classes),
                                    probabilities, edges, counts, evidence, live, short_counts,
                                    seed + index, method, scores, label, coverage))
    yield Progress(1.0, f"classified {len(out)} spectra")
    return out


def open_set_reason(scores: dict, coverage: float) -> str:
    """Why a spectrum is (not) in the library, in words."""
    if coverage < MIN_COVERAGE:
        return (f"the spectrum covers only {coverage:.0%} of the model's energy range, so it "
                "was not measured like the library")
    if not scores["in_library"]:
        fit, net = scores["p_fit"], scores.get("p_network")
        if net is None or fit <= net:
            return "no class template fits the counts"
        return "the network's features are unlike every class"
    return "fits a class of the library"


def ml_evidence(classifier: SpectrumClassifier, counts: np.ndarray, probabilities: np.ndarray
                ) -> tuple[np.ndarray, str]:
    """Per-channel evidence of an ML call: ``n_i ln(p_top,i / p_second,i)`` on the full grid
    (NaN where discarded), whose sum is the log-likelihood ratio of the call over the
    runner-up, and its label."""
    from engines.spectrum.cam import to_full_grid
    from engines.spectrum.peers import DEFAULT_FLOOR

    top, second = np.argsort(probabilities)[::-1][:2]
    logs = np.log(np.maximum(classifier.templates[[top, second]], DEFAULT_FLOOR))
    kept = np.asarray(counts, dtype=np.float64)[classifier.keep_mask]
    evidence = kept * (logs[0] - logs[1])
    label = (f"ML evidence: {classifier.classes[top]} vs {classifier.classes[second]} "
             "(log-likelihood ratio per channel)")
    return to_full_grid(evidence[None, :].astype(np.float32), classifier.keep_mask)[0], label


def kept_coverage(classifier: SpectrumClassifier, spectrum: Spectrum) -> float:
    """Fraction (0-1) of the energy span of the model's kept channels that the spectrum's own
    energy range covers (a NaI spectrum cut off at 3 MeV covers half of a 0.1-5.6 MeV model)."""
    kept = classifier.keep_mask
    energies = classifier.grid.edges
    low, high = energies[:-1][kept].min(), energies[1:][kept].max()
    edges = spectrum.edges
    covered = max(0.0, min(high, edges[-1]) - max(low, edges[0]))
    return float(covered / (high - low))


def classification_record(analysis: SpectrumAnalysis, top: int = 3) -> dict:
    """What ``spectrum classify`` reports per file (and ``batch`` per row): the verdict, the
    call and its probability, who called it, the open-set scores (``in_library``, ``p_fit``,
    ``p_network``, ``log_likelihood``, ``feature_distance``, ``reason``; None without a
    calibration), the
    ``top`` classes, total counts, live time and the covered share of the model's range."""
    order = np.argsort(analysis.probabilities)[::-1][:max(1, top)]
    scores = analysis.open_set or {"in_library": None, "p_fit": None, "p_network": None,
                                   "log_likelihood": None, "feature_distance": None,
                                   "reason": None}
    return {"file": str(analysis.source) if analysis.source else analysis.name,
            "verdict": analysis.verdict, "predicted": analysis.predicted,
            "probability": analysis.confidence, "called_by": analysis.method, **scores,
            "top": [{"class": analysis.classes[i], "probability": float(analysis.probabilities[i])}
                    for i in order],
            "total_counts": analysis.total_counts, "live_time_s": analysis.live_time_s,
            "energy_coverage": analysis.coverage}


def prediction_table(analyses: Sequence[SpectrumAnalysis]) -> tuple[list[str], list[list]]:
    """Header and rows for a predictions CSV.

    Columns: file, mode, total_counts, live_time_s, predicted, confidence, called_by,
    in_library, p_fit, p_network and one ``p_<class>`` column per class.

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
    header = ["file", "mode", "total_counts", "live_time_s", "predicted", "confidence",
              "called_by", "in_library", "p_fit", "p_network"]
    header += [f"p_{name}" for name in classes]
    rows = []
    for a in analyses:
        live = "" if a.live_time_s is None else f"{a.live_time_s:.4f}"
        scores = a.open_set or {}
        fit, net = scores.get("p_fit"), scores.get("p_network")
        rows.append([str(a.source) if a.source else a.name, a.mode, f"{a.total_counts:.0f}",
                     live, a.predicted, f"{a.confidence:.6f}", a.method,
                     "" if a.in_library is None else str(a.in_library).lower(),
                     "" if fit is None else f"{fit:.4g}", "" if net is None else f"{net:.4g}",
                     *(f"{p:.6f}" for p in a.probabilities)])
    return header, rows
