"""Live acquisition: counts arrive as a Poisson stream and the class probabilities update.

A detector looking at a sample of spectrum ``p`` (channel probabilities) at ``rate`` counts per
live second records, in every interval ``dt``, independent ``Poisson(rate * dt * p_i)`` counts
per channel. :func:`acquire` accumulates them tick by tick, classifies the running spectrum and
reports the *time to decision*: the first live time at which the top class probability reaches
the confidence threshold *and* the spectrum is in the library by the model's open-set test
(resolution: one update interval). A decision made while the counts were too few to tell a
foreign sample is withdrawn as soon as the open-set test rejects the spectrum, so an
out-of-library sample ends undecided. In real-time mode
the live time is the wall-clock time since the start: an update that takes longer than the
interval simply collects the counts of the time it took, so the acquisition never falls behind
the clock. :func:`time_to_decision_stats`
simulates many such acquisitions at once (no sleeping) for the "instant analyzer" figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from engines.core.config import param, validate
from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator, drive
from engines.spectrum.evaluation import (
    KeptSampler,
    full_grid,
    match_classes,
    pick_references,
    references_on_grid,
)
from engines.spectrum.rebin import rebin
from engines.spectrum.references import ReferenceSet
from engines.spectrum.rsm import PAPER_COUNT_RATE, to_probabilities
from engines.spectrum.spectrum import Spectrum

if TYPE_CHECKING:
    from engines.spectrum.classifier import SpectrumClassifier

MAX_TICKS = 1_000_000
MAX_RUN_ELEMENTS = 50_000_000  # runs x kept channels simulated at once (200 MB of float32)


@dataclass
class LiveConfig:
    """Live-acquisition settings."""

    rate_cps: float = param(PAPER_COUNT_RATE, label="Count rate", unit="counts/s",
                            range=(0.0, 1e8), low_open=True, flag="rate", step=1000,
                            decimals=0,
                            help="over the whole grid (paper: 19650 counts / 2.479 s)")
    update_interval_s: float = param(0.1, label="Update every", unit="s", range=(1e-3, 60.0),
                                     step=0.05, decimals=3, flag="interval",
                                     help="live time between updates; also the resolution of "
                                          "the decision time")
    max_live_time_s: float = param(30.0, label="Longest acquisition", unit="s",
                                   range=(0.0, 1e9), low_open=True, flag="max-time")
    threshold: float = param(0.95, label="Decision confidence", range=(0.5, 1.0), step=0.01,
                             help="the top class must reach it")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1), help="seeds the Poisson stream")
    realtime: bool = param(False, label="Real time",
                           help="live time follows the wall clock (for the GUI); off = as "
                                "fast as possible")
    stop_at_decision: bool = param(False, label="Stop at the decision", cli=False)

    def __post_init__(self) -> None:
        validate(self)
        if self.n_ticks > MAX_TICKS:
            raise InputError(f"{self.n_ticks} updates are too many (at most {MAX_TICKS}); raise "
                             "the update interval or shorten the acquisition")

    @property
    def n_ticks(self) -> int:
        """Number of updates to reach ``max_live_time_s``."""
        return max(1, math.ceil(self.max_live_time_s / self.update_interval_s - 1e-9))

    def tick_times(self) -> np.ndarray:
        """Live time after each update, shape (n_ticks,), s; the last equals the maximum."""
        return np.minimum(np.arange(1, self.n_ticks + 1) * self.update_interval_s,
                          self.max_live_time_s)


@dataclass
class LiveResult:
    """One acquisition.

    Attributes
    ----------
    classes
        The model's classes.
    times_s, total_counts
        Live time (s) and accumulated counts after each update, shape (T,).
    probabilities
        (T, n_classes) class probabilities after each update.
    decision_time_s, decided_class
        First live time with a top probability >= ``threshold`` and that class index (None if
        never reached).
    final_counts
        (n_channels,) accumulated spectrum at the end.
    in_library
        (T,) open-set verdict after each update (True throughout without an open-set test).
    withdrawn_s
        Live times at which a decision was withdrawn because the spectrum stopped fitting the
        library (the decision above is the one standing at the end).
    """

    classes: list[str]
    times_s: np.ndarray
    total_counts: np.ndarray
    probabilities: np.ndarray
    decision_time_s: float | None
    decided_class: int | None
    final_counts: np.ndarray
    threshold: float
    rate_cps: float
    in_library: np.ndarray | None = None
    withdrawn_s: list[float] = field(default_factory=list)

    @property
    def decided_name(self) -> str | None:
        return None if self.decided_class is None else self.classes[self.decided_class]


def _reference_probabilities(classifier: SpectrumClassifier, reference: Any) -> np.ndarray:
    if isinstance(reference, Spectrum):
        if not reference.metadata.get("calibrated", True):
            raise InputError(f"{reference.source.name if reference.source else reference.name}: "
                             "has no energy calibration, so it cannot be placed on the model's "
                             "energy grid")
        reference = rebin(reference, classifier.grid)
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (classifier.grid.n_channels,):
        raise InputError(f"reference spectrum has shape {reference.shape}; the model expects "
                         f"({classifier.grid.n_channels},) channels (rebin it first)")
    probabilities = to_probabilities(reference)
    if probabilities[classifier.keep_mask].sum() <= 0:
        raise InputError("the reference spectrum has no counts in the channels the model keeps")
    return probabilities


def acquire(classifier: SpectrumClassifier, reference_counts: np.ndarray | Spectrum,
            config: LiveConfig | None = None, *, clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep) -> TaskGenerator[LiveResult]:
    """Simulate a live measurement of a sample whose long spectrum is ``reference_counts``.

    Parameters
    ----------
    reference_counts
        (n_channels,) counts on the model's grid, or a :class:`Spectrum` (rebinned here).
    clock, sleep
        Wall clock (s) and sleep of the real-time mode (tests pass fakes).

    Yields
    ------
    Progress per update with ``live_time_s``, ``total_counts``, ``probabilities`` (n_classes,),
    ``spectrum`` (n_channels,) float64 copy of the accumulated counts, ``decided`` (class name
    or None), ``decision_time_s``, ``in_library`` (None without an open-set test), ``p_fit``
    and ``p_network``.
    """
    config = config or LiveConfig()
    probabilities = _reference_probabilities(classifier, reference_counts)
    rng = np.random.default_rng(config.seed)
    counts = np.zeros(classifier.grid.n_channels)
    history, totals, times, verdicts = [], [], [], []
    decision_time, decided, previous = None, None, 0.0
    withdrawn: list[float] = []
    started = clock()
    for tick in config.tick_times():
        t = float(tick)
        if config.realtime:
            sleep(max(0.0, started + t - clock()))
            t = min(max(t, clock() - started), config.max_live_time_s)  # the clock rules
            if t <= previous:
                continue
        counts += rng.poisson(config.rate_cps * (t - previous) * probabilities)
        previous = t
        assessment = classifier.assess(counts)
        proba = assessment.probabilities[0]
        scores = assessment.open_set.row(0) if assessment.open_set is not None else None
        in_library = True if scores is None else scores["in_library"]
        history.append(proba)
        totals.append(counts.sum())
        times.append(t)
        verdicts.append(in_library)
        top = int(np.argmax(proba))
        if decision_time is None and proba[top] >= config.threshold and in_library:
            decision_time, decided = t, top
        elif decided is not None and not in_library:  # more counts showed it is foreign
            decision_time, decided = None, None
            withdrawn.append(t)
        state = (f"decided {classifier.classes[decided]} at {decision_time:.2f} s"
                 if decided is not None else
                 f"decision withdrawn at {withdrawn[-1]:.2f} s" if withdrawn else "undecided")
        call = (classifier.classes[top] if in_library
                else f"not in the library (closest: {classifier.classes[top]})")
        yield Progress(t / config.max_live_time_s,
                       f"{t:.2f} s, {int(totals[-1])} counts: {call} {proba[top]:.3f} ({state})",
                       live_time_s=t, total_counts=float(totals[-1]), probabilities=proba,
                       spectrum=counts.copy(), decision_time_s=decision_time,
                       decided=None if decided is None else classifier.classes[decided],
                       in_library=None if scores is None else in_library,
                       p_fit=None if scores is None else scores["p_fit"],
                       p_network=None if scores is None else scores["p_network"])
        if (config.stop_at_decision and decided is not None) or t >= config.max_live_time_s:
            break
    return LiveResult(list(classifier.classes), np.array(times), np.array(totals),
                      np.array(history), decision_time, decided, counts, config.threshold,
                      config.rate_cps, np.array(verdicts, dtype=bool), withdrawn)


@dataclass
class DecisionStats:
    """Time to decision over many simulated acquisitions.

    Attributes
    ----------
    classes
        The model's classes; ``labels`` and ``decided`` index into it.
    labels
        (R,) true class of each run.
    decision_times_s
        (R,) live time of the decision, ``inf`` when the run never decided.
    decided
        (R,) decided class, -1 when undecided.
    counts_at_decision
        (R,) counts accumulated at the decision (NaN when undecided).
    """

    classes: list[str]
    labels: np.ndarray
    decision_times_s: np.ndarray
    decided: np.ndarray
    counts_at_decision: np.ndarray
    threshold: float
    rate_cps: float
    max_live_time_s: float

    def summary(self, rows: np.ndarray | None = None) -> dict[str, Any]:
        """Runs, decided fraction, decision-time median/p10/p90 (undecided = infinite; None when
        the percentile lies beyond the acquisition) and the accuracy of the decisions."""
        rows = np.ones(self.labels.size, bool) if rows is None else rows
        times, made = self.decision_times_s[rows], self.decided[rows] >= 0
        correct = self.decided[rows] == self.labels[rows]
        out: dict[str, Any] = {"runs": int(rows.sum()),
                               "decided_fraction": float(made.mean()) if made.size else None}
        for name, q in (("median_s", 50), ("p10_s", 10), ("p90_s", 90)):
            value = (float(np.percentile(times, q, method="inverted_cdf")) if times.size
                     else math.inf)  # an observed time, never an interpolation with inf
            out[name] = value if math.isfinite(value) else None
        out["median_counts"] = (float(np.median(self.counts_at_decision[rows][made]))
                                if made.any() else None)
        out["decision_accuracy"] = float(correct[made].mean()) if made.any() else None
        return out

    def per_class(self) -> list[dict[str, Any]]:
        """:meth:`summary` for every class that has runs, with its name under ``"class"``."""
        return [{"class": self.classes[c], **self.summary(self.labels == c)}
                for c in np.unique(self.labels)]

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "rate_cps": self.rate_cps,
                "max_live_time_s": self.max_live_time_s, "overall": self.summary(),
                "per_class": self.per_class()}


def iter_time_to_decision_stats(classifier: SpectrumClassifier, references: ReferenceSet | Any,
                                config: LiveConfig | None = None, runs_per_class: int = 20,
                                batch_size: int = 256) -> TaskGenerator[DecisionStats]:
    """Simulate ``runs_per_class`` acquisitions per class of ``references`` in parallel.

    Each run draws from one reference of its class (chosen at random); only undecided runs
    are extended and classified at every update, so the cost falls as runs decide. A run
    decides when its top probability reaches the threshold and the open-set test accepts it.
    Always non-realtime; ``config.stop_at_decision`` is implied. Yields Progress per update.
    """
    config = config or LiveConfig()
    if isinstance(runs_per_class, bool) or not 1 <= int(runs_per_class) <= 10_000:
        raise InputError(f"runs per class must be 1-10000, got {runs_per_class!r}")
    refs = references_on_grid(references, classifier.grid)
    true_of_label = match_classes(classifier.classes, refs.classes)
    keep = classifier.keep_mask
    sampler = KeptSampler(refs.probabilities(), keep)
    rng = np.random.default_rng([config.seed, 1])
    draw_labels = np.repeat(np.arange(refs.n_classes), int(runs_per_class))
    rows = pick_references(refs.labels, draw_labels, rng)
    n_runs = rows.size
    if n_runs * int(keep.sum()) > MAX_RUN_ELEMENTS:
        raise InputError(f"{n_runs} runs of {int(keep.sum())} channels are too many at once; "
                         "use fewer runs per class")
    rate_kept = config.rate_cps * sampler.mass[rows]
    rate_out = config.rate_cps * (1.0 - sampler.mass[rows])
    kept = np.zeros((n_runs, int(keep.sum())), dtype=np.float32)
    outside = np.zeros(n_runs)
    times = np.full(n_runs, np.inf)
    decided = np.full(n_runs, -1, dtype=np.int64)
    at_decision = np.full(n_runs, np.nan)
    previous = 0.0
    for tick, t in enumerate(config.tick_times()):
        active = np.flatnonzero(decided < 0)
        if active.size == 0:
            break
        dt = t - previous
        previous = t
        expected = (rate_kept[active] * dt)[:, None] * sampler.kept_probabilities[rows[active]]
        kept[active] += rng.poisson(expected).astype(np.float32)
        outside[active] += rng.poisson(rate_out[active] * dt)
        for start in range(0, active.size, batch_size):
            chunk = active[start:start + batch_size]
            assessment = classifier.assess(full_grid(kept[chunk], keep), batch_size)
            proba = assessment.probabilities
            top = proba.argmax(axis=1)
            sure = proba[np.arange(chunk.size), top] >= config.threshold
            if assessment.open_set is not None:
                sure &= assessment.open_set.in_library
            decided[chunk[sure]] = top[sure]
            times[chunk[sure]] = t
            at_decision[chunk[sure]] = kept[chunk[sure]].sum(axis=1) + outside[chunk[sure]]
        yield Progress((tick + 1) / config.n_ticks, f"{t:.2f} s: {int((decided >= 0).sum())}/"
                       f"{n_runs} runs decided", live_time_s=float(t))
    return DecisionStats(list(classifier.classes), true_of_label[draw_labels], times, decided,
                         at_decision, config.threshold, config.rate_cps, config.max_live_time_s)


def time_to_decision_stats(classifier: SpectrumClassifier, references: ReferenceSet | Any,
                           config: LiveConfig | None = None, runs_per_class: int = 20
                           ) -> DecisionStats:
    """Blocking :func:`iter_time_to_decision_stats`."""
    return drive(iter_time_to_decision_stats(classifier, references, config, runs_per_class))
