"""Purity–retention figures of CDC hit filtering (paper Sec. 6).

Purity = TP / (TP + FP) (precision), retention = TP / (TP + FN) (recall). Two levels:

cell (the paper's definition, headline)
    A hit cell is signal when it holds at least one signal hit; its score is the model's pixel
    score (for a per-hit scorer, the highest score of its hits). Cells without hits are not
    counted: nothing is to be filtered there.
hit
    Every hit with its own score (see :func:`engines.cdc.images.pixel_scores_to_hits`). A
    cell-level model cannot score background hits that share a cell with a signal hit
    perfectly, so hit-level purity is bounded by the hit-selection coverage (about 0.96 at
    40 % occupancy with the density selection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.geometry import N_CELLS
from engines.core.metrics import PRCurve, pr_curve

TARGET = 0.9
CURVE_POINTS = 200


def hit_cell_truth(events: Sequence[Event]) -> tuple[np.ndarray, np.ndarray]:
    """Which cells are hit and which hold signal, each (N, 4986) bool."""
    hit = np.zeros((len(events), N_CELLS), dtype=bool)
    signal = np.zeros_like(hit)
    for i, event in enumerate(events):
        hit[i, event.cell] = True
        signal[i, event.cell[event.is_signal]] = True
    return hit, signal


def hit_scores_to_cells(events: Sequence[Event], hit_scores: Sequence[np.ndarray]) -> np.ndarray:
    """Cell scores (N, 4986) float32 from per-hit scores: the highest score in each cell."""
    cells = np.zeros((len(events), N_CELLS), dtype=np.float32)
    for i, (event, score) in enumerate(zip(events, hit_scores, strict=True)):
        np.maximum.at(cells[i], event.cell, np.asarray(score, dtype=np.float32))
    return cells


def downsample_curve(curve: PRCurve, points: int = CURVE_POINTS) -> list[dict[str, float]]:
    """About ``points`` {"threshold", "purity", "retention"} dicts evenly spaced in retention."""
    if curve.recall.size == 0:
        return []
    targets = np.linspace(0.0, 1.0, points)
    index = np.unique(np.minimum(np.searchsorted(curve.recall, targets), curve.recall.size - 1))
    return [{"threshold": float(curve.thresholds[i]), "purity": float(curve.precision[i]),
             "retention": float(curve.recall[i])} for i in index]


@dataclass
class CurveSummary:
    """Figures of one purity–retention curve.

    Attributes
    ----------
    auc
        Area under the purity–retention curve (average precision).
    purity_at_retention, retention_at_purity
        Best purity with retention ≥ 0.9 and best retention with purity ≥ 0.9.
    threshold_at_retention
        Highest score cut that keeps retention ≥ 0.9.
    n_positive, n_total
        Signal and all items (cells or hits) counted.
    curve
        Down-sampled curve points.
    """

    auc: float
    purity_at_retention: float
    retention_at_purity: float
    threshold_at_retention: float
    n_positive: int
    n_total: int
    curve: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def from_scores(cls, labels: np.ndarray, scores: np.ndarray) -> CurveSummary:
        labels = np.asarray(labels, dtype=bool).ravel()
        curve = pr_curve(labels, scores)
        if curve.recall.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, nan, 0, int(labels.size))
        return cls(curve.auc, curve.precision_at_recall(TARGET), curve.recall_at_precision(TARGET),
                   curve.threshold_at_recall(TARGET), int(labels.sum()), int(labels.size),
                   downsample_curve(curve))

    def figures(self) -> dict[str, Any]:
        return {"auc": self.auc, f"purity_at_retention_{TARGET}": self.purity_at_retention,
                f"retention_at_purity_{TARGET}": self.retention_at_purity,
                f"threshold_at_retention_{TARGET}": self.threshold_at_retention,
                "positives": self.n_positive, "total": self.n_total}


def cell_level(events: Sequence[Event], cell_scores: np.ndarray) -> CurveSummary:
    """Cell-level curve over the hit cells of ``events``; cell_scores (N, 4986)."""
    hit, signal = hit_cell_truth(events)
    return CurveSummary.from_scores(signal[hit], np.asarray(cell_scores)[hit])


def hit_level(events: Sequence[Event], hit_scores: Sequence[np.ndarray]) -> CurveSummary:
    """Hit-level curve over every hit of ``events``."""
    labels = np.concatenate([e.is_signal for e in events]) if events else np.zeros(0, bool)
    scores = np.concatenate(list(hit_scores)) if events else np.zeros(0)
    return CurveSummary.from_scores(labels, scores)


def per_event(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray],
              threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Purity and retention of each event at ``threshold`` (score ≥ threshold is kept).

    Returns two (N,) float64 arrays; NaN where undefined (nothing kept / no signal).
    """
    purity = np.full(len(labels), np.nan)
    retention = np.full(len(labels), np.nan)
    for i, (truth, score) in enumerate(zip(labels, scores, strict=True)):
        kept = np.asarray(score) >= threshold
        tp = np.count_nonzero(kept & truth)
        if kept.any():
            purity[i] = tp / np.count_nonzero(kept)
        if truth.any():
            retention[i] = tp / np.count_nonzero(truth)
    return purity, retention


def _stats(values: np.ndarray) -> dict[str, float]:
    ok = values[np.isfinite(values)]
    if ok.size == 0:
        return {"mean": float("nan"), "median": float("nan"), "p10": float("nan")}
    return {"mean": float(ok.mean()), "median": float(np.median(ok)),
            "p10": float(np.percentile(ok, 10))}


@dataclass
class ScorerResult:
    """Cell- and hit-level figures of one scorer on a set of events.

    ``threshold`` is the cut used for the per-event figures; ``event_purity`` and
    ``event_retention`` are (N,) cell-level values at that cut.
    """

    name: str
    cell: CurveSummary
    hit: CurveSummary
    threshold: float
    event_purity: np.ndarray
    event_retention: np.ndarray

    @classmethod
    def measure(cls, name: str, events: Sequence[Event], cell_scores: np.ndarray,
                hit_scores: Sequence[np.ndarray], threshold: float | None = None
                ) -> ScorerResult:
        """Figures for scores of ``events``; threshold None = the cut at 90 % cell retention."""
        cell = cell_level(events, cell_scores)
        hit = hit_level(events, hit_scores)
        cut = cell.threshold_at_retention if threshold is None else float(threshold)
        hit_mask, signal = hit_cell_truth(events)
        cell_scores = np.asarray(cell_scores)
        purity, retention = per_event([signal[i, hit_mask[i]] for i in range(len(events))],
                                      [cell_scores[i, hit_mask[i]] for i in range(len(events))],
                                      cut)
        return cls(name, cell, hit, cut, purity, retention)

    def to_json(self, with_curve: bool = True) -> dict[str, Any]:
        """Headline (cell-level) keys at the top, hit level under ``"hit_level"``."""
        out: dict[str, Any] = {"method": self.name, "level": "cell", **self.cell.figures()}
        out["hit_level"] = self.hit.figures()
        out["per_event"] = {"threshold": self.threshold,
                            "purity": _stats(self.event_purity),
                            "retention": _stats(self.event_retention)}
        if with_curve:
            out["curve"] = self.cell.curve
            out["hit_level"]["curve"] = self.hit.curve
        return out


@dataclass
class EvaluationResult:
    """Model, model + track fit and (optionally) peer on the same events; :meth:`to_json` is
    the CLI contract (the U-Net's figures at the top, the others under ``with_fit`` and
    ``peer``)."""

    model: ScorerResult
    peer: ScorerResult | None
    n_events: int
    occupancy_mean: float
    notes: dict[str, Any] = field(default_factory=dict)
    with_fit: ScorerResult | None = None

    def to_json(self) -> dict[str, Any]:
        out = self.model.to_json()
        out["events"] = self.n_events
        out["occupancy_mean"] = self.occupancy_mean
        out["with_fit"] = None if self.with_fit is None else self.with_fit.to_json()
        out["peer"] = None if self.peer is None else self.peer.to_json()
        out.update(self.notes)
        return out
