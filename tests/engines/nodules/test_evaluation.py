"""Per-slice counts by their definitions, the paper's swap, FROC/CPM and sizes."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.box_metrics import DetectionCounts
from engines.core.froc import Findings
from engines.imaging.volume import Volume
from engines.nodules.boxes import slice_truth
from engines.nodules.evaluation import (
    PAPER_COUNTS,
    PAPER_NOTE,
    ScanOutcome,
    choose_slice_threshold,
    choose_threshold,
    size_sensitivity,
    slice_counts,
    slice_recall_by_size,
    summarise,
)

VOLUME = Volume(np.zeros((40, 100, 100), np.int16), (1.0, 1.0, 2.0))


def test_paper_table_3_figures_by_definition():
    assert PAPER_COUNTS.precision == pytest.approx(270 / 706)
    assert PAPER_COUNTS.recall == pytest.approx(270 / 277)
    assert "precision TP/(TP+FP) = 0.38" in PAPER_NOTE and "0.975" in PAPER_NOTE


def test_slice_counts_with_ignored_cuts():
    truth = slice_truth(VOLUME, [VOLUME.voxel_to_world([20.2, 50.0, 50.0])], [10.0])
    counted = truth.counted
    z_true, boxes_true = truth.z[counted], truth.boxes[counted]
    # perfect boxes on the counted slices, one false box elsewhere, one box on a grazing cut
    grazing = truth.z[~counted][0]
    z = np.r_[z_true, 5, grazing]
    boxes = np.r_[boxes_true, [[10, 10, 15, 15]], [[49, 49, 52, 52]]]
    counts = slice_counts(z, boxes, np.ones(len(z)), truth)
    assert (counts.tp, counts.fp, counts.fn) == (len(z_true), 1, 0)
    missed = slice_counts(z[1:], boxes[1:], np.ones(len(z) - 1), truth)
    assert missed.fn == 1 and missed.recall == pytest.approx((len(z_true) - 1) / len(z_true))


def _outcome(uid, candidates, nodules):
    n = len(candidates)
    return ScanOutcome(uid, DetectionCounts(0, 0, 0),
                       Findings(np.full(n, uid, dtype=object),
                                np.array([c[0] for c in candidates]).reshape(-1, 3),
                                np.array([5.0] * n), np.array([c[1] for c in candidates])),
                       Findings(np.full(len(nodules), uid, dtype=object),
                                np.array([n_[0] for n_ in nodules]).reshape(-1, 3),
                                np.array([n_[1] for n_ in nodules])))


def test_froc_cpm_and_thresholds():
    outcomes = [_outcome("a", [((0, 0, 0), 0.9), ((50, 0, 0), 0.8), ((90, 0, 0), 0.3)],
                         [((0, 0, 1), 6.0), ((200, 0, 0), 25.0)]),
                _outcome("b", [((10, 10, 10), 0.95)], [((10, 10, 11), 4.0)])]
    result = summarise(outcomes, threshold=0.5, slice_threshold=None, bootstrap=50)
    figures = result.to_json()
    assert set(figures["froc"]) == {"0.125", "0.25", "0.5", "1", "2", "4", "8"}
    assert figures["scans"] == 2 and figures["nodules"] == 3 and figures["slice"] is None
    assert result.sensitivity == pytest.approx(2 / 3) and result.fp_per_scan == pytest.approx(0.5)
    assert figures["froc"]["8"] == pytest.approx(2 / 3)
    assert 0 <= result.cpm <= 2 / 3
    assert choose_threshold(outcomes, max_fp_per_scan=0.0) == pytest.approx(0.81)
    rows = size_sensitivity(result.outcomes[0].nodules, result.outcomes[0].candidates)
    assert [r["nodules"] for r in rows] == [0, 1, 0, 1] and rows[1]["sensitivity"] == 1.0


def test_slice_threshold_choice_reaches_the_recall():
    truth = slice_truth(VOLUME, [VOLUME.voxel_to_world([20.0, 50.0, 50.0])], [10.0])
    counted = truth.counted
    z, boxes = truth.z[counted], truth.boxes[counted]
    scores = np.linspace(0.3, 0.9, len(z))
    outcome = ScanOutcome("a", None, None, None, None, (z, boxes, scores), truth)
    threshold = choose_slice_threshold([outcome], target_recall=1.0)
    assert threshold == pytest.approx(0.3)
    assert choose_slice_threshold([outcome], target_recall=0.5) > 0.5


def test_slice_recall_by_circle_size():
    """Two nodules (4 and 24 mm): every cut of the large one found, none of the small one;
    the recall by circle diameter says where the misses are."""
    truth = slice_truth(VOLUME, [VOLUME.voxel_to_world([10.0, 30.0, 30.0]),
                                 VOLUME.voxel_to_world([25.0, 60.0, 60.0])], [4.0, 24.0])
    large = truth.counted & (truth.nodule == 1)
    z, boxes = truth.z[large], truth.boxes[large]
    outcome = ScanOutcome("a", None, None, None, None, (z, boxes, np.full(len(z), 0.9)),
                          truth)
    rows = slice_recall_by_size([outcome], 0.5)
    cut = truth.diameter_mm
    small = truth.counted & (truth.nodule == 0)
    by_bin = {r["min_mm"]: r for r in rows}
    assert sum(r["boxes"] for r in rows) == int(truth.counted.sum())
    assert by_bin[3.0]["boxes"] == int((small & (cut >= 3)).sum()) > 0
    assert by_bin[3.0]["found"] == 0 and by_bin[3.0]["recall"] == 0.0
    assert by_bin[20.0]["recall"] == 1.0
    assert slice_recall_by_size([outcome], 0.95)[-1]["found"] == 0  # below the threshold


def test_candidate_matching_for_review_colours():
    from engines.nodules.evaluation import match_candidates

    nodules = Findings(np.array(["a", "a"], dtype=object), [[0, 0, 0], [50, 0, 0]], [10.0, 6.0])
    excluded = Findings(np.array(["a"], dtype=object), [[100, 0, 0]], [4.0])
    candidates = Findings(np.array(["a"] * 3, dtype=object), [[1, 1, 1], [100, 1, 0], [0, 80, 0]],
                          [5.0] * 3, [0.9, 0.8, 0.7])
    match = match_candidates(candidates, nodules, excluded)
    assert list(match.labels) == ["tp", "excluded", "fp"]
    assert list(match.nodule_of) == [0, -1, -1] and list(match.missed) == [False, True]
