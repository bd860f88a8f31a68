"""Outcome of every cell at a score threshold, and one event's purity and retention.

Cell level, as in the paper and :mod:`engines.cdc.metrics`: a hit cell is signal when it holds
a signal hit and is kept when its score is at or above the threshold. Cells without a hit have
no outcome. Purity = TP / (TP + FP), retention = TP / (TP + FN).

Outcome codes (:data:`OUTCOME_NAMES`):

====  =====================  ===========================================
code  name                   meaning
====  =====================  ===========================================
0     true positive          signal cell kept
1     false positive         background cell kept
2     missed                 signal cell rejected
3     background             background cell rejected
4     kept                   kept, no truth in the file
5     rejected               rejected, no truth in the file
6     signal (truth)         signal cell, no scores yet
7     background (truth)     background cell, no scores yet
8     hit                    no truth and no scores
====  =====================  ===========================================
-1 marks cells without a hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.cdc.display import CellView

TRUE_POSITIVE, FALSE_POSITIVE, MISSED, BACKGROUND = 0, 1, 2, 3
KEPT, REJECTED, SIGNAL_TRUTH, BACKGROUND_TRUTH, HIT = 4, 5, 6, 7, 8
NO_HIT = -1
OUTCOME_NAMES = ("true positive", "false positive", "missed", "background", "kept", "rejected",
                 "signal (truth)", "background (truth)", "hit")


def outcome_codes(has_truth: bool, has_scores: bool) -> tuple[int, ...]:
    """The outcome codes that can occur (the legend's entries), in legend order."""
    if has_scores:
        return (TRUE_POSITIVE, FALSE_POSITIVE, MISSED, BACKGROUND) if has_truth else (KEPT,
                                                                                     REJECTED)
    return (SIGNAL_TRUTH, BACKGROUND_TRUTH) if has_truth else (HIT,)


def outcome_classes(view: CellView, threshold: float, has_truth: bool) -> np.ndarray:
    """Outcome code of every cell, (4986,) int8; -1 for cells without a hit.

    Without scores (``view.has_scores`` False) the truth classes 6/7 (or 8) are returned.
    """
    codes = np.full(view.hit.shape, NO_HIT, dtype=np.int8)
    hit = view.hit
    if view.has_scores:
        kept = np.nan_to_num(view.score, nan=-1.0) >= threshold
        if has_truth:
            signal = view.signal
            codes[hit & signal & kept] = TRUE_POSITIVE
            codes[hit & ~signal & kept] = FALSE_POSITIVE
            codes[hit & signal & ~kept] = MISSED
            codes[hit & ~signal & ~kept] = BACKGROUND
        else:
            codes[hit & kept] = KEPT
            codes[hit & ~kept] = REJECTED
    elif has_truth:
        codes[hit & view.signal] = SIGNAL_TRUTH
        codes[hit & ~view.signal] = BACKGROUND_TRUTH
    else:
        codes[hit] = HIT
    return codes


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is 0."""
    return float(numerator) / float(denominator) if denominator else float("nan")


@dataclass(frozen=True)
class EventFigures:
    """Cell-level counts of one event at ``threshold``.

    ``purity`` and ``retention`` are NaN when undefined (nothing kept, no signal cell, no
    truth or no scores).
    """

    threshold: float
    true_positive: int
    false_positive: int
    missed: int
    background: int
    kept: int
    hit_cells: int
    signal_cells: int
    purity: float
    retention: float
    has_truth: bool
    has_scores: bool


def event_figures(view: CellView, threshold: float, has_truth: bool) -> EventFigures:
    """Counts, purity and retention of one event at ``threshold`` (all hit cells count,
    whatever the display window shows)."""
    codes = outcome_classes(view, threshold, has_truth)
    counts = np.bincount(codes[codes >= 0], minlength=len(OUTCOME_NAMES))
    tp, fp, missed, background = (int(counts[c]) for c in (TRUE_POSITIVE, FALSE_POSITIVE,
                                                             MISSED, BACKGROUND))
    scored = view.has_scores
    kept = tp + fp + int(counts[KEPT])
    signal_cells = int(np.count_nonzero(view.hit & view.signal)) if has_truth else 0
    truth_and_scores = has_truth and scored
    return EventFigures(
        float(threshold), tp, fp, missed, background, kept if scored else 0,
        int(np.count_nonzero(view.hit)), signal_cells,
        ratio(tp, tp + fp) if truth_and_scores else float("nan"),
        ratio(tp, tp + missed) if truth_and_scores else float("nan"), has_truth, scored)
