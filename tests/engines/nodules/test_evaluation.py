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
    assert figures["slice_by_size"] is None
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


def _truth(rows):
    """SliceBoxes from (z, box, counted, circle diameter mm) rows (nodule = row order)."""
    from engines.nodules.boxes import SliceBoxes

    return SliceBoxes(np.array([r[0] for r in rows], np.int64),
                      np.array([r[1] for r in rows], np.float64).reshape(-1, 4),
                      np.arange(len(rows), dtype=np.int64), np.array([r[2] for r in rows]),
                      np.array([r[3] for r in rows], np.float64))


def test_countable_drops_only_unmatched_boxes_on_ignored_circles():
    from engines.nodules.evaluation import countable

    truth = _truth([(3, [10, 10, 20, 20], True, 10), (3, [40, 40, 50, 50], False, 10),
                    (7, [0, 0, 10, 10], False, 10), (9, [5, 5, 15, 15], True, 10),
                    (5, [30, 30, 42, 42], True, 12), (5, [32, 32, 44, 44], False, 12),
                    (1, [60, 60, 70, 70], False, 10),  # an ignored slice without boxes
                    (11, [0, 0, 10, 10], True, 10), (11, [0, 0, 10, 10], False, 10)])
    z = np.array([3, 3, 3, 7, 7, 9, 5, 2, 3, 11, 9])
    boxes = np.array([[10, 10, 20, 20],  # matches the counted box
                      [41, 41, 49, 49],  # on the ignored circle: dropped
                      [70, 70, 80, 80], [1, 1, 9, 9], [60, 60, 70, 70], [40, 40, 50, 50],
                      [31, 33, 43, 45],  # on an ignored circle, IoU 0.52 with a counted box
                      [1, 1, 9, 9],
                      [12, 12, 15, 15],  # inside a counted circle only: kept
                      [0, 0, 10, 5],  # IoU exactly 0.5 with a counted box on an ignored one
                      [5, 5, 15, 12]], np.float64)  # IoU 0.7, no ignored circle there
    keep = countable(z, boxes, truth)
    assert keep.tolist() == [True, False, True, False, True, True, True, True, True, True, True]
    strict = countable(z, boxes, truth, iou_threshold=0.9)
    assert strict.tolist() == [True, False, True, False, True, True, False, True, True, False,
                               True]
    counts = slice_counts(z, boxes, np.linspace(0.9, 0.2, len(z)), truth)
    assert (counts.tp, counts.fp, counts.fn) == (4, 5, 0)
    again = slice_counts(z, boxes, np.linspace(0.9, 0.2, len(z)), truth, group=3)
    assert again == counts
    loose = slice_counts(z, boxes, np.ones(len(z)), truth, iou_threshold=0.3)
    assert (loose.tp, loose.fp, loose.fn) == (4, 5, 0)
    tight = slice_counts(z, boxes, np.ones(len(z)), truth, iou_threshold=0.9)
    assert (tight.tp, tight.fp, tight.fn) == (1, 6, 3)


def test_nodule_hits_are_strictly_inside_and_on_the_same_scan():
    from engines.nodules.evaluation import nodule_hits

    nodules = Findings(np.array(["a", "a", "b"], dtype=object),
                       [[0, 0, 0], [100, 0, 0], [0, 0, 0]], [10.0, 8.0, 6.0])
    candidates = Findings(np.array(["a", "b", "c"], dtype=object),
                          [[0, 4.9, 0], [100, 0, 0], [0, 0, 0]], [5.0] * 3, [0.5] * 3)
    assert nodule_hits(nodules, candidates).tolist() == [True, False, False]
    on_edge = Findings(np.array(["a", "b"], dtype=object), [[104, 0, 0], [0, 0, 2.99]],
                       [5.0] * 2, [0.5] * 2)  # exactly on a's second sphere: not inside
    hits = nodule_hits(nodules, on_edge)
    assert hits.tolist() == [False, False, True] and hits.dtype == bool


def test_candidate_matching_takes_the_first_nodule_hit():
    from engines.nodules.evaluation import match_candidates

    nodules = Findings(np.array(["a", "a"], dtype=object), [[0, 0, 0], [6, 0, 0]], [10.0, 10.0])
    candidates = Findings(np.array(["a"] * 4, dtype=object),
                          [[3, 0, 0], [9, 0, 0], [30, 0, 0], [4, 0, 0]], [5.0] * 4, [0.5] * 4)
    excluded = Findings(np.array(["a"], dtype=object), [[30, 0, 0]], [-1.0])  # default size
    match = match_candidates(candidates, nodules, excluded)
    assert match.labels.tolist() == ["tp", "tp", "excluded", "tp"]
    assert match.nodule_of.tolist() == [0, 1, -1, 0] and match.missed.tolist() == [False, False]
    on_surface = Findings(np.array(["a"], dtype=object), [[0, 5, 0]], [5.0], [0.5])
    assert match_candidates(on_surface, nodules).labels.tolist() == ["fp"]  # not inside
    alone = match_candidates(candidates, nodules)
    assert alone.labels.tolist() == ["tp", "tp", "fp", "tp"]
    none = match_candidates(candidates, Findings(np.zeros(0, dtype=object), np.zeros((0, 3)),
                                                 np.zeros(0)))
    assert none.labels.tolist() == ["fp"] * 4 and none.nodule_of.tolist() == [-1] * 4
    assert none.missed.shape == (0,) and none.nodule_of.dtype == np.int64


def test_size_bins_include_their_lower_edge():
    nodules = Findings(np.array(["a"] * 6, dtype=object), np.arange(18.0).reshape(6, 3) * 100,
                       [2.9, 3.0, 5.0, 9.99, 20.0, 33.0])
    candidates = Findings(np.array(["a", "a"], dtype=object), [[300, 400, 500], [1200, 1300,
                                                                               1400]],
                          [5.0, 5.0], [0.9, 0.9])
    rows = size_sensitivity(nodules, candidates)
    assert [(r["min_mm"], r["max_mm"], r["nodules"], r["found"]) for r in rows] == [
        (3.0, 5.0, 1, 1), (5.0, 10.0, 2, 0), (10.0, 20.0, 0, 0), (20.0, None, 2, 1)]
    assert [r["sensitivity"] for r in rows][::3] == [1.0, 0.5]
    assert np.isnan(rows[2]["sensitivity"]) and rows[1]["sensitivity"] == 0.0


def _sliced(uid, truth_rows, z, boxes, scores, counts=None):
    truth = _truth(truth_rows)
    return ScanOutcome(uid, counts or DetectionCounts(0, 0, 0), Findings(np.array([uid], dtype=object), [[0, 0, 0]], [5.0],
                                             [0.9]),
                       Findings(np.array([uid], dtype=object), [[0, 0, 1]], [8.0]), None,
                       (np.array(z, np.int64), np.array(boxes, np.float64).reshape(-1, 4),
                        np.array(scores, np.float64)), truth)


def test_recount_keeps_scans_apart_and_thresholds():
    from engines.nodules.evaluation import recount

    box = [10, 10, 20, 20]
    first = _sliced("a", [(8, box, True, 4.0)], [4, 8], [box, box], [0.7, 0.4])
    second = _sliced("b", [(4, box, True, 12.0)], [], np.zeros((0, 4)), [])
    counts = recount([first, second], 0.5)  # a's box on slice 4 must not match b's slice 4
    assert (counts.tp, counts.fp, counts.fn) == (0, 1, 2)
    low = recount([first, second], 0.4)
    assert (low.tp, low.fp, low.fn) == (1, 1, 1)
    rows = slice_recall_by_size([first, second], 0.4)
    by_bin = {r["min_mm"]: (r["boxes"], r["found"]) for r in rows}
    assert by_bin == {2.0: (0, 0), 3.0: (1, 1), 5.0: (0, 0), 10.0: (1, 0), 20.0: (0, 0)}
    assert rows[-1]["max_mm"] is None and rows[0]["max_mm"] == 3.0
    assert np.isnan(rows[0]["recall"]) and rows[1]["recall"] == 1.0
    assert slice_recall_by_size([first, second], 0.41)[1]["found"] == 0
    bare = ScanOutcome("c", DetectionCounts(0, 0, 0), None, None)
    truth_only = ScanOutcome("d", DetectionCounts(0, 0, 0), None, None,
                             truth=_truth([(1, box, True, 4.0)]))
    assert [r["boxes"] for r in slice_recall_by_size([bare, truth_only, first], 0.4)] == \
        [0, 1, 0, 0, 0]


def test_scans_are_kept_apart_on_both_sides_and_cut_sizes_binned_at_their_edges():
    from engines.nodules.evaluation import recount

    box = [10, 10, 20, 20]
    first = _sliced("a", [(8, box, True, 3.0)], [4, 8], [box, box], [0.7, 0.4])
    second = _sliced("b", [(4, box, True, 10.0), (6, box, True, 5.0)], [6], [box], [0.8])
    counts = recount([first, second], 0.5)
    assert (counts.tp, counts.fp, counts.fn) == (1, 1, 2)
    rows = slice_recall_by_size([first, second], 0.5)
    assert [(r["boxes"], r["found"]) for r in rows] == [(0, 0), (1, 0), (1, 1), (1, 0), (0, 0)]
    rows = slice_recall_by_size([first, second], 0.4)
    assert [(r["boxes"], r["found"]) for r in rows] == [(0, 0), (1, 1), (1, 1), (1, 0), (0, 0)]
    third = _sliced("c", [(2, box, True, 4.5)], [9], [box], [0.9])  # a miss in the 3–5 bin
    rows = slice_recall_by_size([first, second, third], 0.4)
    assert [(r["boxes"], r["found"]) for r in rows] == [(0, 0), (2, 1), (1, 1), (1, 0), (0, 0)]
    grid = np.array([0.3, 0.45, 0.6])
    assert choose_slice_threshold([first, second], 0.5, grid) == 0.3
    assert choose_slice_threshold([first, second], 0.9, grid) == 0.3  # none reaches it
    assert choose_slice_threshold([first], 1.0, np.array([0.35, 0.4, 0.42])) == 0.4


def test_summarise_adds_slice_counts_and_reports_them():
    box = [10, 10, 20, 20]
    first = _sliced("a", [(8, box, True, 4.0)], [8], [box], [0.7], DetectionCounts(3, 1, 2))
    second = _sliced("b", [(4, box, True, 12.0)], [4], [box], [0.2], DetectionCounts(1, 5, 0))
    second.candidates = Findings(np.array(["b", "b"], dtype=object), [[0, 0, 0], [50, 0, 0]],
                                 [5.0, 5.0], [0.3, 0.8])
    second.excluded = Findings(np.array(["b"], dtype=object), [[50, 0, 1]], [6.0])
    first.candidates = Findings(np.array(["a", "a"], dtype=object), [[0, 0, 0], [200, 0, 0]],
                                [5.0, 5.0], [0.9, 0.95])  # the false one ranked first
    result = summarise([first, second], threshold=0.5, slice_threshold=0.6, bootstrap=20,
                       seed=1)
    # recounted at 0.6 from the kept boxes, not the stored counts of another threshold
    assert result.counts == DetectionCounts(1, 0, 1)
    assert summarise([first, second], 0.5, 0.1, bootstrap=2).counts == DetectionCounts(2, 0, 0)
    kept_none = ScanOutcome("c", DetectionCounts(3, 1, 2), first.candidates, first.nodules)
    assert summarise([kept_none], 0.5, 0.6, bootstrap=2).counts == DetectionCounts(3, 1, 2)
    assert result.sensitivity == 0.5 and result.fp_per_scan == 0.5  # b's 0.8 is excluded
    figures = result.to_json()
    assert figures["slice"] == {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "tp": 1,
                                "fp": 0, "fn": 1}
    assert [r["boxes"] for r in figures["slice_by_size"]] == [0, 1, 0, 1, 0]
    assert [r["found"] for r in figures["slice_by_size"]] == [0, 1, 0, 0, 0]
    assert figures["slice_threshold"] == 0.6 and figures["threshold"] == 0.5
    assert figures["sensitivity"] == 0.5 and figures["fp_per_scan"] == 0.5
    assert figures["cpm"] == result.cpm == result.curve.cpm
    assert figures["cpm_ci"] == [result.interval.lower, result.interval.upper]
    assert figures["curve"]["sensitivity"] == result.curve.sensitivity.tolist()
    assert figures["curve"]["fps_per_scan"] == result.curve.fps_per_scan.tolist()
    assert figures["froc"]["0.125"] == 0.0 and figures["froc"]["1"] == 1.0
    assert figures["nodules"] == 2
    assert [r["found"] for r in figures["by_size"]] == [0, 1, 0, 0]
    assert figures["paper_note"] == PAPER_NOTE and result.scans == ["a", "b"]
    assert result.outcomes == [first, second]
    other = summarise([first, second], threshold=0.5, slice_threshold=0.6, bootstrap=20,
                      seed=2)
    assert other.interval.samples.tolist() != result.interval.samples.tolist()
    assert len(summarise([first], 0.5, None, bootstrap=7).interval.samples) == 7
    assert result.curve.n_false_positives == 1  # b's 0.8 on its excluded finding is none
    default = summarise([first, second], threshold=0.5, slice_threshold=0.6)
    assert len(default.interval.samples) == 1000
    seeded = summarise([first, second], threshold=0.5, slice_threshold=0.6, seed=0)
    assert default.interval.samples.tolist() == seeded.interval.samples.tolist()
    again = summarise([first, second], threshold=0.5, slice_threshold=0.6, bootstrap=20,
                      seed=1)
    assert again.interval.samples.tolist() == result.interval.samples.tolist()
    alone = summarise([first], threshold=0.9, slice_threshold=None, bootstrap=3)
    assert alone.fp_per_scan == 1.0 and alone.sensitivity == 1.0  # 0.9 is at the threshold
    empty = summarise([], threshold=0.5, slice_threshold=None, bootstrap=5)
    assert empty.scans == [] and empty.curve.n_nodules == 0 and np.isnan(empty.sensitivity)
    assert empty.fp_per_scan == 0.0 and empty.counts is None


def test_choose_threshold_searches_its_range():
    outcomes = [_outcome("a", [((0, 0, 0), 0.9), ((50, 0, 0), 0.44), ((90, 0, 0), 0.3)],
                         [((0, 0, 1), 6.0)])]
    assert choose_threshold(outcomes, max_fp_per_scan=1.0) == 0.31
    assert choose_threshold(outcomes, max_fp_per_scan=1.0, low=0.1) == 0.31
    assert choose_threshold(outcomes, max_fp_per_scan=2.0, low=0.1) == 0.1
    assert choose_threshold(outcomes, max_fp_per_scan=0.0, high=0.4) == 0.4  # none: high
    assert choose_threshold(outcomes, max_fp_per_scan=-1.0) == 0.95
    two = outcomes + [_outcome("b", [((9, 9, 9), 0.2)], [((0, 0, 0), 5.0)])]
    assert choose_threshold(two, max_fp_per_scan=0.5, low=0.1) == 0.31  # 1 FP over 2 scans
    assert choose_threshold(outcomes, max_fp_per_scan=0.0, low=0.44, high=0.46) == 0.45
    outcomes[0].excluded = Findings(np.array(["a"], dtype=object), [[90, 0, 1]], [4.0])
    assert choose_threshold(outcomes, max_fp_per_scan=1.0, low=0.1) == 0.1


def _detecting(monkeypatch, seen):
    """A stand-in detector: scan s1 gets its nodule's counted cuts (0.6) and a false cut (0.3)
    on slice 5, and a candidate on the nodule; s2 one false cut (0.9) and one false
    candidate. Records the (path, series_uid) opened and the config passed."""
    from types import SimpleNamespace

    import engines.nodules.detect as detect
    import engines.nodules.peer as peer
    import engines.nodules.scan as scan_module
    from engines.core.progress import Progress
    from engines.nodules.detect import SliceDetections

    truth = slice_truth(VOLUME, [VOLUME.voxel_to_world([20.0, 50.0, 50.0])], [10.0])
    cuts = truth.counted

    def open_scan(path, series_uid=None):
        seen.append((path.name, series_uid))
        return SimpleNamespace(seriesuid=path.stem, volume=VOLUME)

    def iter_detect(model, scan, config=None):
        assert model is not None and model.slice_threshold == 0.45  # the model is passed on
        seen.append(config)
        yield Progress(0.5, "half")
        if scan.seriesuid == "s1":
            slices = SliceDetections(np.r_[truth.z[cuts], 5], np.r_[truth.boxes[cuts],
                                                                   [[10, 10, 14, 14]]],
                                     np.r_[np.full(int(cuts.sum()), 0.6), 0.3])
            xyz, p = VOLUME.voxel_to_world([20.0, 50.0, 50.0]), 0.8
        else:
            slices = SliceDetections(np.array([9]), np.array([[1.0, 1, 6, 6]]), np.array([0.9]))
            xyz, p = VOLUME.voxel_to_world([9.0, 3.5, 3.5]), 0.6  # on the false cut
        found = Findings(np.array([scan.seriesuid], dtype=object), [xyz], [9.0], [p])
        return SimpleNamespace(seriesuid=scan.seriesuid, scan=scan, slices=slices,
                               slice_threshold=0.5, findings=lambda: found)

    def iter_evaluate_peer(dataset, bootstrap=1000):
        yield Progress(0.5, "peer half")
        return ("peer", len(dataset.scans), bootstrap)

    monkeypatch.setattr(scan_module, "open_scan", open_scan)
    monkeypatch.setattr(detect, "iter_detect", iter_detect)
    monkeypatch.setattr(peer, "iter_evaluate_peer", iter_evaluate_peer)
    return int(cuts.sum())


def _dataset(tmp_path, excluded):
    from engines.nodules.luna16 import LunaDataset, ScanEntry

    centre = VOLUME.voxel_to_world([20.0, 50.0, 50.0])
    return LunaDataset(tmp_path, [ScanEntry("s1", tmp_path / "s1.mhd"),
                                  ScanEntry("s2", tmp_path / "s2", "9.8.7")],
                       Findings(np.array(["s1"], dtype=object), [centre], [10.0]),
                       excluded)


def test_iter_evaluate_runs_each_scan_and_takes_the_models_thresholds(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from engines.core.progress import Progress
    from engines.nodules.detect import DetectConfig
    from engines.nodules.evaluation import iter_compare, iter_evaluate, iter_outcomes

    seen = []
    n_cuts = _detecting(monkeypatch, seen)
    model = SimpleNamespace(threshold=0.7, slice_threshold=0.45, detect_settings=None)
    dataset = _dataset(tmp_path, None)
    task = iter_outcomes(model, dataset)
    reports = []
    try:
        while True:
            reports.append(next(task))
    except StopIteration as stop:
        outcomes = stop.value
    assert [(r.fraction, r.message) for r in reports] == [
        (0.25, "scan 1/2: half"), (0.5, "scan 1/2 done"), (0.75, "scan 2/2: half"),
        (1.0, "scan 2/2 done")]
    assert all(isinstance(r, Progress) for r in reports)
    assert seen == [("s1.mhd", None), None, ("s2", "9.8.7"), None]
    first, second = outcomes
    assert (first.seriesuid, second.seriesuid) == ("s1", "s2")
    assert first.counts == DetectionCounts(n_cuts, 0, 0)  # the 0.3 cut is below 0.5
    assert second.counts == DetectionCounts(0, 1, 0) and len(second.nodules) == 0
    assert first.excluded is None and len(first.slice_boxes[0]) == n_cuts + 1
    assert int(first.truth.counted.sum()) == n_cuts and len(second.truth) == 0
    assert list(first.candidates.probability) == [0.8]
    result = drive_value(iter_evaluate(model, dataset, bootstrap=9))
    assert (result.threshold, result.slice_threshold) == (0.7, 0.45)
    assert result.sensitivity == 1.0 and result.fp_per_scan == 0.0
    assert result.counts == DetectionCounts(n_cuts, 1, 0)
    assert len(result.interval.samples) <= 9 and result.scans == ["s1", "s2"]
    config = DetectConfig(threshold=0.5, slice_threshold=0.35)
    result = drive_value(iter_evaluate(model, dataset, config, bootstrap=9))
    assert (result.threshold, result.slice_threshold) == (0.5, 0.35)
    assert result.fp_per_scan == 0.5 and seen[-1] is config
    from engines.nodules.boxes import TruthConfig

    strict = TruthConfig(min_fraction=0.95)  # fewer counted cuts: the rest are ignored
    result = drive_value(iter_evaluate(model, dataset, truth_config=strict, bootstrap=3))
    assert 0 < result.counts.tp < n_cuts and result.counts.fn == 0
    ours, peer = drive_value(iter_compare(model, dataset, config, bootstrap=7))
    assert ours.threshold == 0.5 and peer == ("peer", 2, 7)
    assert len(ours.interval.samples) <= 7  # the bootstrap is passed on
    task, fractions = iter_compare(model, dataset, with_peer=False, bootstrap=5), []
    ours, peer = drive_value(task, fractions)
    assert peer is None and ours.threshold == 0.7
    assert fractions == [0.25, 0.5, 0.75, 1.0]
    one = drive_value(iter_outcomes(model, dataset, entries=[dataset.scans[1]]))
    assert [o.seriesuid for o in one] == ["s2"]


def test_iter_compare_shares_the_bar_and_passes_the_excluded_rows(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from engines.nodules.evaluation import iter_compare

    seen = []
    _detecting(monkeypatch, seen)
    model = SimpleNamespace(threshold=0.5, slice_threshold=0.45, detect_settings=None)
    excluded = Findings(np.array(["s2"], dtype=object), [VOLUME.voxel_to_world([9.0, 3.5, 3.5])],
                        [10.0])  # s2's false cut and candidate lie on it
    reports, messages = [], []
    ours, peer = drive_value(iter_compare(model, _dataset(tmp_path, excluded), bootstrap=3),
                             reports, messages)
    assert reports == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.9])
    assert messages == ["model: scan 1/2: half", "model: scan 1/2 done",
                        "model: scan 2/2: half", "model: scan 2/2 done", "peer: peer half"]
    assert ours.fp_per_scan == 0.0  # s2's false candidate lies on its excluded finding
    assert len(ours.outcomes[0].excluded) == 0 and len(ours.outcomes[1].excluded) == 1
    assert ours.outcomes[1].counts == DetectionCounts(0, 0, 0)  # its cut is ignored
    assert peer == ("peer", 2, 3)


def drive_value(task, fractions=None, messages=None):
    """Run a task to its value, recording the fractions and messages it reports."""
    try:
        while True:
            report = next(task)
            if fractions is not None:
                fractions.append(report.fraction)
            if messages is not None:
                messages.append(report.message)
    except StopIteration as stop:
        return stop.value
