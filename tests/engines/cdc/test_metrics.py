"""Purity-retention figures at cell and hit level, per-event figures and the JSON contract."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.cdc.events import Event
from engines.cdc.geometry import N_CELLS
from engines.cdc.metrics import (
    CurveSummary,
    EvaluationResult,
    ScorerResult,
    cell_level,
    downsample_curve,
    hit_cell_truth,
    hit_level,
    hit_scores_to_cells,
    per_event,
)
from engines.core.metrics import pr_curve


def _event(cells, signal):
    n = len(cells)
    return Event(0, np.array(cells), np.zeros(n), np.full(n, 100.0), np.array(signal, bool),
                 has_truth=True, trigger_counter=0)


@pytest.fixture
def two_events():
    # event 0: cells 1 (signal), 2 (bg), 3 (bg, two hits); event 1: cells 5 (signal), 6 (bg)
    return [_event([1, 2, 3, 3], [True, False, False, False]), _event([5, 6], [True, False])]


def test_cell_truth_and_max_pooling(two_events):
    hit, signal = hit_cell_truth(two_events)
    assert hit.shape == (2, N_CELLS) and hit[0, [1, 2, 3]].all() and hit.sum() == 5
    assert signal[0, 1] and signal[1, 5] and signal.sum() == 2
    cells = hit_scores_to_cells(two_events, [np.array([0.9, 0.2, 0.1, 0.7]),
                                             np.array([0.3, 0.4])])
    assert cells[0, 3] == pytest.approx(0.7) and cells[1, 6] == pytest.approx(0.4)


def test_cell_level_counts_hit_cells_only(two_events):
    scores = np.zeros((2, N_CELLS))
    scores[0, [1, 2, 3]] = [0.9, 0.2, 0.1]
    scores[1, [5, 6]] = [0.3, 0.4]
    summary = cell_level(two_events, scores)
    assert (summary.n_positive, summary.n_total) == (2, 5)
    # ranking 0.9 S, 0.4 B, 0.3 S, 0.2 B, 0.1 B -> AP = 0.5*1 + 0.5*(2/3)
    assert summary.auc == pytest.approx(0.5 + 1 / 3)
    assert summary.purity_at_retention == pytest.approx(2 / 3)
    assert summary.retention_at_purity == pytest.approx(0.5)
    assert summary.threshold_at_retention == pytest.approx(0.3)


def test_hit_level_and_perfect_scorer(two_events):
    labels = [e.is_signal.astype(float) for e in two_events]
    summary = hit_level(two_events, labels)
    assert summary.auc == pytest.approx(1.0) and summary.purity_at_retention == 1.0
    assert summary.n_total == 6


def test_per_event_purity_and_retention():
    labels = [np.array([True, False, True]), np.array([False, False])]
    scores = [np.array([0.9, 0.8, 0.1]), np.array([0.2, 0.1])]
    purity, retention = per_event(labels, scores, 0.5)
    np.testing.assert_allclose(purity, [0.5, np.nan])
    np.testing.assert_allclose(retention, [0.5, np.nan])


def test_downsampled_curve_is_monotone_in_retention():
    rng = np.random.default_rng(0)
    labels = rng.random(5000) < 0.1
    scores = labels + rng.normal(0, 0.6, 5000)
    curve = pr_curve(labels, scores)
    points = downsample_curve(curve, 50)
    assert 10 < len(points) <= 50
    retention = [p["retention"] for p in points]
    assert retention == sorted(retention) and retention[-1] == 1.0
    assert set(points[0]) == {"threshold", "purity", "retention"}


def test_summary_without_signal_is_nan():
    summary = CurveSummary.from_scores(np.zeros(4, bool), np.arange(4.0))
    assert np.isnan(summary.auc) and summary.curve == []


def test_json_contract(two_events):
    cells = np.zeros((2, N_CELLS))
    cells[0, [1, 2, 3]] = [0.9, 0.2, 0.1]
    cells[1, [5, 6]] = [0.8, 0.4]
    hits = [np.array([0.9, 0.2, 0.1, 0.1]), np.array([0.8, 0.4])]
    model = ScorerResult.measure("unet", two_events, cells, hits, threshold=0.5)
    peer = ScorerResult.measure("gbdt", two_events, cells * 0.5, [h * 0.5 for h in hits])
    out = EvaluationResult(model, peer, 2, 0.001).to_json()
    for block in (out, out["peer"]):
        for key in ("auc", "purity_at_retention_0.9", "retention_at_purity_0.9", "curve",
                    "hit_level", "per_event"):
            assert key in block
    assert out["auc"] == pytest.approx(1.0) and out["per_event"]["threshold"] == 0.5
    assert out["per_event"]["purity"]["mean"] == pytest.approx(1.0)
    assert out["peer"]["per_event"]["threshold"] == pytest.approx(0.4)  # its 90 % cut
    json.dumps(out)  # plain JSON types only


def test_per_event_purity_and_retention_are_not_swapped():
    """Event 0: 3 signal cells of 4, 2 kept of which 1 is signal -> purity 1/2, retention 1/3.
    Event 1: nothing kept -> purity undefined (NaN), retention 0. Event 2: no signal."""
    labels = [np.array([True, True, True, False]), np.array([True, False]),
              np.array([False, False])]
    scores = [np.array([0.9, 0.1, 0.2, 0.8]), np.array([0.1, 0.2]), np.array([0.7, 0.1])]
    purity, retention = per_event(labels, scores, threshold=0.5)
    np.testing.assert_allclose(purity, [0.5, np.nan, 0.0])
    np.testing.assert_allclose(retention, [1 / 3, 0.0, np.nan])
