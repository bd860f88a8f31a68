"""Outcome classes of cells at a threshold and one event's purity and retention."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engines.cdc.analysis import ScoredCells
from engines.cdc.display import HitWindow, cell_view
from engines.cdc.events import Event
from engines.cdc.outcomes import (
    BACKGROUND,
    BACKGROUND_TRUTH,
    FALSE_POSITIVE,
    HIT,
    KEPT,
    MISSED,
    NO_HIT,
    REJECTED,
    SIGNAL_TRUTH,
    TRUE_POSITIVE,
    event_figures,
    outcome_classes,
    outcome_codes,
)

CELLS = np.array([10, 10, 20, 30, 40])
SIGNAL = np.array([True, False, False, True, False])
SCORED_CELLS = np.array([10, 20, 30, 40])
SCORES = np.array([0.75, 0.8, 0.1, 0.2], dtype=np.float32)


def _event(has_truth: bool = True) -> Event:
    n = len(CELLS)
    return Event(1, CELLS, np.linspace(0, 100, n), np.full(n, 100.0),
                 SIGNAL if has_truth else None, has_truth=has_truth)


def test_four_outcomes_and_figures():
    event = _event()
    view = cell_view(event, SCORED_CELLS, SCORES)
    codes = outcome_classes(view, 0.5, True)
    assert codes[SCORED_CELLS].tolist() == [TRUE_POSITIVE, FALSE_POSITIVE, MISSED, BACKGROUND]
    assert (codes == NO_HIT).sum() == 4986 - 4
    figures = event_figures(view, 0.5, True)
    assert (figures.true_positive, figures.false_positive, figures.missed,
            figures.background, figures.kept) == (1, 1, 1, 1, 2)
    assert figures.purity == 0.5 and figures.retention == 0.5 and figures.signal_cells == 2
    # the same figures as the whole-file table of the analysis
    scored = ScoredCells.from_cell_scores([event], _dense(SCORED_CELLS, SCORES))
    for threshold in (0.0, 0.15, 0.5, 0.78, 1.0):
        f = event_figures(view, threshold, True)
        purity, retention = scored.per_event(threshold)
        assert (math.isnan(f.purity) and math.isnan(purity[0])) or f.purity == purity[0]
        assert f.retention == retention[0]
    # the display window does not change the figures
    narrow = cell_view(event, SCORED_CELLS, SCORES, HitWindow(time_ns=(0.0, 10.0)))
    assert event_figures(narrow, 0.5, True) == figures


def _dense(cells, scores):
    out = np.zeros((1, 4986), np.float32)
    out[0, cells] = scores
    return out


def test_without_truth_or_scores():
    view = cell_view(_event(has_truth=False), SCORED_CELLS, SCORES)
    assert outcome_classes(view, 0.5, False)[SCORED_CELLS].tolist() == [KEPT, KEPT, REJECTED,
                                                                         REJECTED]
    figures = event_figures(view, 0.5, False)
    assert figures.kept == 2 and math.isnan(figures.purity) and math.isnan(figures.retention)
    unscored = cell_view(_event())
    assert outcome_classes(unscored, 0.5, True)[SCORED_CELLS].tolist() == [
        SIGNAL_TRUTH, BACKGROUND_TRUTH, SIGNAL_TRUTH, BACKGROUND_TRUTH]
    assert not event_figures(unscored, 0.5, True).has_scores
    assert set(outcome_classes(cell_view(_event(False)), 0.5, False)[SCORED_CELLS]) == {HIT}
    assert outcome_codes(True, True) == (TRUE_POSITIVE, FALSE_POSITIVE, MISSED, BACKGROUND)
    assert outcome_codes(False, True) == (KEPT, REJECTED)
    assert outcome_codes(True, False) == (SIGNAL_TRUTH, BACKGROUND_TRUTH)
    assert outcome_codes(False, False) == (HIT,)


@pytest.mark.parametrize("threshold, kept", [(0.75, True), (0.7501, False)])
def test_threshold_is_inclusive(threshold, kept):
    view = cell_view(_event(), SCORED_CELLS, SCORES)
    assert (outcome_classes(view, threshold, True)[10] == TRUE_POSITIVE) == kept
