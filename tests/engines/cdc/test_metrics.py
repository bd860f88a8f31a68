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
    assert cells.dtype == np.float32


def test_hit_scores_to_cells_keeps_the_highest_score_and_needs_one_array_per_event(two_events):
    event = _event([4, 4, 9], [True, False, False])
    cells = hit_scores_to_cells([event], [np.array([0.2, 0.8, 0.5], np.float64)])
    assert cells.dtype == np.float32 and cells[0, 4] == pytest.approx(0.8)
    assert cells[0].sum() == pytest.approx(1.3)
    with pytest.raises(ValueError):  # scores for fewer events than given: a caller's bug
        hit_scores_to_cells(two_events, [np.array([0.9, 0.2, 0.1, 0.7])])


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


def test_event_statistics_ignore_nan_and_name_their_figures():
    from engines.cdc.metrics import _stats

    stats = _stats(np.array([0.5, np.nan, 1.0, 0.0, np.inf]))
    assert stats == pytest.approx({"mean": 0.5, "median": 0.5, "p10": 0.1})
    assert _stats(np.array([0.25])) == {"mean": 0.25, "median": 0.25, "p10": 0.25}
    empty = _stats(np.array([np.nan]))
    assert set(empty) == {"mean", "median", "p10"} and all(np.isnan(v) for v in empty.values())


# --- survivors of `python -m tests.mutation engines/cdc/metrics.py` (this round)

def test_curve_summary_without_positives_is_nan_but_counts_the_total():
    empty = CurveSummary.from_scores(np.zeros(7, bool), np.linspace(0, 1, 7))
    assert all(np.isnan(v) for v in (empty.auc, empty.purity_at_retention,
                                     empty.retention_at_purity, empty.threshold_at_retention))
    assert (empty.n_positive, empty.n_total, empty.curve) == (0, 7, [])
    nothing = hit_level([], [])
    assert (nothing.n_positive, nothing.n_total) == (0, 0) and np.isnan(nothing.auc)


def test_downsampled_curve_points_exactly():
    curve = pr_curve([1, 0, 1, 1, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])  # recall 1/4 … 1
    points = downsample_curve(curve, points=3)  # targets 0, 0.5, 1
    assert [p["retention"] for p in points] == [0.25, 0.5, 1.0]
    assert [p["threshold"] for p in points] == [0.9, 0.7, 0.4]
    assert points[1]["purity"] == pytest.approx(2 / 3)
    one = pr_curve([1], [0.3])
    assert downsample_curve(one) == [{"threshold": 0.3, "purity": 1.0, "retention": 1.0}]
    summary = CurveSummary.from_scores([1, 0, 1, 1, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert summary.curve == downsample_curve(curve)
    assert summary.figures()["positives"] == 4 and summary.figures()["total"] == 6


def test_per_event_keeps_a_score_equal_to_the_threshold():
    purity, retention = per_event([np.array([True, False])], [np.array([0.5, 0.2])], 0.5)
    assert purity.tolist() == [1.0] and retention.tolist() == [1.0]


def test_result_json_keys_and_values(two_events):
    scores = np.zeros((2, N_CELLS))
    scores[0, [1, 2]] = [0.9, 0.3]
    scores[1, [5, 6]] = [0.8, 0.1]
    hits = [np.array([0.9, 0.3, 0.2, 0.2]), np.array([0.8, 0.1])]
    result = ScorerResult.measure("unet", two_events, scores, hits, threshold=0.5)
    data = result.to_json()
    assert data["method"] == "unet" and data["level"] == "cell"
    assert data["total"] == 5 and data["positives"] == 2  # hit cells: 1, 2, 3 and 5, 6
    assert data["hit_level"]["total"] == 6 and data["hit_level"]["positives"] == 2
    assert data["hit_level"]["curve"] == result.hit.curve and data["curve"] == result.cell.curve
    assert data["per_event"]["retention"]["mean"] == 1.0
    assert data["per_event"]["purity"]["median"] == 1.0
    assert "curve" not in result.to_json(with_curve=False)
    fit = ScorerResult.measure("fit", two_events, scores, hits, threshold=0.95)
    whole = EvaluationResult(result, None, 2, 0.25, {"note": 1}, with_fit=fit).to_json()
    assert (whole["events"], whole["occupancy_mean"], whole["note"]) == (2, 0.25, 1)
    assert whole["with_fit"]["method"] == "fit" and whole["peer"] is None
    assert np.isnan(whole["with_fit"]["per_event"]["purity"]["mean"])  # nothing kept at 0.95
    with_peer = EvaluationResult(result, fit, 2, 0.25).to_json()
    assert with_peer["peer"]["method"] == "fit" and with_peer["with_fit"] is None
