"""Open-set behaviour on spectra of materials outside the library, measured per count level.

A user's first test of the open-set decision is a real spectrum of something the model was never
trained on: every call must come out "not in the library", whatever the confidence of the
closest class. :func:`foreign_rejection` takes such spectra (any calibration), classifies each
whole file and ``draws`` RSM-3 short measurements of it at each count level, and reports how
often the verdict is "not in the library", split by what said so: the goodness of fit, the
feature distance, or the energy coverage (a spectrum covering under
:data:`~engines.spectrum.analysis.MIN_COVERAGE` of the model's range is never "in the library").
Files without an energy calibration cannot be placed on the model's grid; they are listed as
refused, with the reason, never classified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress, TaskGenerator
from engines.spectrum.analysis import (
    MIN_COVERAGE,
    kept_coverage,
    model_counts,
    short_measurement,
)
from engines.spectrum.classifier import SpectrumClassifier
from engines.spectrum.spectrum import Spectrum

#: Count levels of the measurement (the README's).
FOREIGN_LEVELS: tuple[int, ...] = (100, 1000, 5000, 19650, 100_000)


@dataclass
class ForeignRow:
    """One file at one count level (``counts`` None: the whole file).

    Attributes
    ----------
    n
        Measurements classified (1 for the whole file, ``draws`` otherwise).
    rejected
        Share called "not in the library" (any reason).
    by_tests
        Share the two statistical tests reject on their own (coverage aside).
    by_fit, by_network
        Share whose goodness-of-fit / feature-distance p-value is below alpha.
    confidence
        Median probability of the closest class (what the call would have claimed).
    closest
        Most frequent closest class.
    """

    file: str
    counts: int | None
    n: int
    rejected: float
    by_tests: float
    by_fit: float
    by_network: float
    coverage: float
    confidence: float
    closest: str


@dataclass
class ForeignResult:
    """Rows per (file, level), files refused (name -> reason), the test's alpha."""

    rows: list[ForeignRow]
    refused: dict[str, str]
    alpha: float
    levels: tuple[int, ...]
    draws: int
    per_level: dict[str, float] = field(default_factory=dict)

    def rejection_rate(self, counts: int | None, tests_only: bool = False) -> float:
        """Share of all measurements at ``counts`` (None: whole files) called foreign (by the
        statistical tests alone with ``tests_only``)."""
        rows = [r for r in self.rows if r.counts == counts]
        n = sum(r.n for r in rows)
        share = [r.by_tests if tests_only else r.rejected for r in rows]
        return float(sum(v * r.n for v, r in zip(share, rows, strict=True)) / n) if n \
            else float("nan")

    def to_json(self) -> dict[str, Any]:
        keys = (None, *self.levels)
        return {"alpha": self.alpha, "draws": self.draws, "refused": self.refused,
                "rejection": {"file" if k is None else str(k): self.rejection_rate(k)
                              for k in keys},
                "rejection_by_tests": {"file" if k is None else str(k):
                                       self.rejection_rate(k, True) for k in keys},
                "rows": [vars(r) for r in self.rows]}


def foreign_rejection(classifier: SpectrumClassifier, spectra: Sequence[Spectrum],
                      levels: Sequence[int] = FOREIGN_LEVELS, draws: int = 20, seed: int = 0,
                      alpha: float | None = None) -> TaskGenerator[ForeignResult]:
    """How often spectra of foreign materials are called "not in the library"; a generator.

    Parameters
    ----------
    spectra
        Spectra of materials the model does not know (any calibration and channel count).
    levels
        Count levels of the short measurements (each at most the file's counts in the model's
        range; larger levels are skipped for that file).
    draws
        RSM-3 short measurements per file and level.

    Raises
    ------
    ModelError
        The model has no open-set calibration.
    """
    if classifier.open_set is None:
        raise ModelError("the model has no open-set calibration; run `spectrum calibrate`")
    alpha = classifier.open_set.alpha if alpha is None else float(alpha)
    rows, refused = [], {}
    for index, spectrum in enumerate(spectra):
        name = spectrum.source.name if spectrum.source else (spectrum.name or f"spectrum {index}")
        yield Progress(index / max(len(spectra), 1), f"testing {name}")
        try:
            counts = model_counts(classifier, spectrum)
        except InputError as error:
            refused[name] = str(error).removeprefix(f"{name}: ")
            continue
        coverage = kept_coverage(classifier, spectrum)
        kept = counts[classifier.keep_mask].sum()
        batches: list[tuple[int | None, np.ndarray]] = [(None, counts[None])]
        for k in levels:
            if k <= kept:
                batches.append((int(k), np.stack([
                    short_measurement(counts, int(k), None, seed + 1000 * index + j)[0]
                    for j in range(draws)])))
        for k, batch in batches:
            assessment = classifier.assess(batch, alpha=alpha)
            scores = assessment.open_set
            foreign = ~scores.in_library | (coverage < MIN_COVERAGE)
            top = assessment.probabilities.argmax(axis=1)
            rows.append(ForeignRow(
                name, k, len(batch), float(foreign.mean()), float(np.mean(~scores.in_library)),
                float(np.mean(scores.p_fit < alpha)),
                float(np.mean(scores.p_network < alpha)), coverage,
                float(np.median(assessment.probabilities.max(axis=1))),
                classifier.classes[int(np.bincount(top).argmax())]))
    yield Progress(1.0, f"tested {len(spectra) - len(refused)} of {len(spectra)} spectra")
    return ForeignResult(rows, refused, alpha, tuple(int(k) for k in levels), draws)


def format_foreign(result: ForeignResult) -> str:
    """Plain-text table of :func:`foreign_rejection`, one line per file and level."""
    lines = [f"{'file':<36} {'counts':>8} {'n':>4} {'foreign':>8} {'tests':>6} {'fit':>5} "
             f"{'net':>5} {'cover':>6} {'conf':>6}  closest"]
    for r in result.rows:
        level = "file" if r.counts is None else f"{r.counts:,}"
        lines.append(f"{r.file[:36]:<36} {level:>8} {r.n:>4} {r.rejected:>8.2f} "
                     f"{r.by_tests:>6.2f} {r.by_fit:>5.2f} {r.by_network:>5.2f} "
                     f"{r.coverage:>6.2f} {r.confidence:>6.3f}  {r.closest}")
    for name, reason in result.refused.items():
        lines.append(f"{name[:40]:<40} refused: {reason}")
    rates = ", ".join(f"{'file' if k is None else f'{k:,}'}: {result.rejection_rate(k):.2f}"
                      for k in (None, *result.levels))
    tests = ", ".join(f"{'file' if k is None else f'{k:,}'}: "
                      f"{result.rejection_rate(k, True):.2f}" for k in (None, *result.levels))
    lines.append(f"called 'not in the library' (alpha {result.alpha:g}): {rates}")
    lines.append(f"rejected by the two tests alone (coverage aside): {tests}")
    return "\n".join(lines)
