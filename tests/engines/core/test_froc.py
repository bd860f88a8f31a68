"""The LUNA16 FROC/CPM against hand-computed cases and the script's sklearn-based curve."""

import warnings

import numpy as np
import pytest

from engines.core.froc import (
    OPERATING_POINTS,
    Findings,
    _bounds,
    cpm_bootstrap,
    froc,
    froc_curve,
    froc_entries,
)


def _case():
    nodules = Findings(["a", "a", "b"], [[0, 0, 0], [100, 0, 0], [0, 0, 0]],
                       diameter_mm=[10, 4, -1])  # -1: unknown, 10 mm
    excluded = Findings(["b"], [[50, 0, 0]], diameter_mm=[-1])
    candidates = Findings(
        ["a", "a", "a", "a", "a", "b", "b"],
        [[1, 0, 0],      # hits nodule 1
         [0, 2, 0],      # hits nodule 1 again: an ignored duplicate
         [100, 1.9, 0],  # hits nodule 2 (1.9² < 2²)
         [30, 0, 0],     # false positive
         [100, 2, 0],    # exactly on the radius: not a hit (strict <), false positive
         [50, 1, 0],     # on the excluded finding: ignored
         [200, 0, 0]],   # false positive; nodule 3 has no hit
        probability=[0.9, 0.5, 0.3, 0.8, 0.6, 0.95, 0.7])
    return nodules, excluded, candidates


def test_hand_computed_froc_with_duplicates_exclusions_and_a_miss():
    nodules, excluded, candidates = _case()
    entries = froc_entries(["a", "b"], nodules, candidates, excluded)
    assert (entries.ignored_excluded, entries.ignored_duplicates) == (1, 1)
    curve = froc_curve(entries)
    assert (curve.n_nodules, curve.n_detected, curve.n_false_positives) == (3, 2, 3)
    # kept scores 0.9 T, 0.8 F, 0.7 F, 0.6 F, 0.3 T over 2 scans -> points (0,0) (0,1/3)
    # (1.5,1/3) (1.5,2/3) after sklearn's drop_intermediate
    np.testing.assert_allclose(curve.fps_per_scan, [0, 0, 1.5, 1.5])
    np.testing.assert_allclose(curve.sensitivity, [0, 1 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(curve.sensitivities, [1 / 3] * 4 + [2 / 3] * 3)
    assert curve.cpm == pytest.approx(10 / 21)


def test_a_candidate_on_two_nodules_is_a_hit_for_both():
    nodules = Findings(["s", "s"], [[0, 0, 0], [6, 0, 0]], diameter_mm=[10, 10])
    candidates = Findings(["s", "s"], [[3, 0, 0], [50, 0, 0]], probability=[0.5, 0.9])
    curve = froc(["s"], nodules, candidates)
    assert curve.n_detected == 2 and curve.n_false_positives == 1
    # 0.9 F then 0.5 T,T: (0,0) (1,0) (1,1); at exactly 1 FP/scan the curve is at its top
    np.testing.assert_allclose(curve.sensitivities, [0, 0, 0, 1, 1, 1, 1])
    assert curve.cpm == pytest.approx(4 / 7)


def test_an_included_nodule_wins_over_an_excluded_finding():
    nodules = Findings(["s"], [[0, 0, 0]], diameter_mm=[10])
    excluded = Findings(["s"], [[2, 0, 0]], diameter_mm=[10])
    candidates = Findings(["s"], [[1, 0, 0]], probability=[0.4])
    entries = froc_entries(["s"], nodules, candidates, excluded)
    assert entries.ignored_excluded == 0 and froc_curve(entries).n_detected == 1


def test_only_the_most_suspicious_marks_per_scan_are_kept():
    # the script keeps marks strictly above the (max + 1)-th probability: the tie at 0.8 goes
    nodules = Findings(["s"], [[0, 0, 0]], diameter_mm=[4])
    candidates = Findings(["s"] * 4, [[10, 0, 0], [20, 0, 0], [0, 0, 0], [30, 0, 0]],
                          probability=[0.9, 0.8, 0.8, 0.1])
    curve = froc(["s"], nodules, candidates, max_marks_per_scan=2)
    assert curve.n_false_positives == 1 and curve.n_detected == 0
    assert froc(["s"], nodules, candidates, max_marks_per_scan=0).n_detected == 1


def test_scans_without_marks_still_divide_the_false_positives():
    nodules, excluded, candidates = _case()
    two = froc(["a", "b"], nodules, candidates, excluded)
    four = froc(["a", "b", "c", "d"], nodules, candidates, excluded)
    np.testing.assert_allclose(four.fps_per_scan, two.fps_per_scan / 2)


def test_no_hit_gives_zero_and_no_nodule_gives_nan():
    nodules = Findings(["s"], [[0, 0, 0]], diameter_mm=[4])
    far = Findings(["s"], [[40, 0, 0]], probability=[0.5])
    assert froc(["s"], nodules, far).cpm == 0.0
    assert np.isnan(froc(["s"], Findings([], np.zeros((0, 3)), diameter_mm=[]), far).cpm)


def test_curve_matches_the_script_built_on_sklearn_roc_curve():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    n_scans, scans = 12, [f"scan{i}" for i in range(12)]
    nod_scan = rng.integers(0, n_scans, 20)
    nod_xyz = rng.uniform(-100, 100, (20, 3))
    nodules = Findings([scans[i] for i in nod_scan], nod_xyz, diameter_mm=rng.uniform(3, 20, 20))
    # candidates: jittered copies of most nodules plus random marks; rounded scores make ties
    near = rng.random(20) < 0.8
    cand_xyz = np.r_[nod_xyz[near] + rng.normal(0, 1.0, (near.sum(), 3)),
                     rng.uniform(-100, 100, (150, 3))]
    cand_scan = np.r_[nod_scan[near], rng.integers(0, n_scans, 150)]
    scores = np.round(rng.random(len(cand_scan)), 1)
    candidates = Findings([scans[i] for i in cand_scan], cand_xyz, probability=scores)
    entries = froc_entries(scans, nodules, candidates)
    curve = froc_curve(entries)
    # the script's computeFROC
    keep = entries.detected | ~entries.is_nodule
    fpr, tpr, _ = metrics.roc_curve(entries.is_nodule[keep], entries.score[keep])
    n_detected = entries.detected.sum()
    fps = fpr * (keep.sum() - n_detected) / n_scans
    sens = tpr * n_detected / entries.is_nodule.sum()
    np.testing.assert_allclose(curve.fps_per_scan, fps)
    np.testing.assert_allclose(curve.sensitivity, sens)
    np.testing.assert_allclose(curve.sensitivities, np.interp(OPERATING_POINTS, fps, sens))


def test_bootstrap_is_seeded_and_brackets_the_cpm():
    rng = np.random.default_rng(2)
    scans = list(range(30))
    nod_scan = np.repeat(scans, 2)
    nod_xyz = rng.uniform(-100, 100, (60, 3))
    nodules = Findings(nod_scan, nod_xyz, diameter_mm=np.full(60, 8.0))
    hit = rng.random(60) < 0.7
    cand = Findings(np.r_[nod_scan[hit], rng.integers(0, 30, 90)],
                    np.r_[nod_xyz[hit], rng.uniform(-100, 100, (90, 3))],
                    probability=np.r_[rng.uniform(0.3, 1, hit.sum()), rng.uniform(0, 0.8, 90)])
    entries = froc_entries(scans, nodules, cand)
    point = froc_curve(entries).cpm
    first = cpm_bootstrap(entries, n_samples=200, seed=7)
    again = cpm_bootstrap(entries, n_samples=200, seed=7)
    other = cpm_bootstrap(entries, n_samples=200, seed=8)
    np.testing.assert_array_equal(first.samples, again.samples)
    assert not np.array_equal(first.samples, other.samples)
    assert first.lower < point < first.upper and first.lower < first.cpm < first.upper
    assert np.all(first.sensitivity_lower <= first.sensitivity_upper)
    assert len(first.samples) == 200
    # each sample is the FROC of the drawn scans' entries, as the script recomputes it
    rng = np.random.default_rng(7)
    for sample in first.samples[:20]:
        drawn = rng.integers(0, 30, size=30)
        assert froc_curve(entries.subset(drawn)).cpm == pytest.approx(sample)


def test_bootstrap_of_one_scan_has_no_spread():
    nodules = Findings(["s"], [[0, 0, 0]], diameter_mm=[10])
    candidates = Findings(["s", "s"], [[0, 0, 0], [50, 0, 0]], probability=[0.6, 0.9])
    interval = cpm_bootstrap(froc_entries(["s"], nodules, candidates), n_samples=20)
    point = froc(["s"], nodules, candidates).cpm
    assert interval.lower == interval.upper == pytest.approx(point)


def test_findings_are_float_arrays_and_lengths_are_checked():
    found = Findings([1, 1], [[1, 2, 3], [4, 5, 6]], diameter_mm=[4, 6], probability=[1, 0])
    assert found.xyz_mm.dtype == np.float64 and found.xyz_mm.shape == (2, 3)
    assert found.diameter_mm.dtype == np.float64 and found.probability.dtype == np.float64
    with pytest.raises(ValueError, match="^scan and xyz_mm differ in length$"):
        Findings(["s"], [[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="^diameter_mm and scan differ in length$"):
        Findings(["s"], [[0, 0, 0]], diameter_mm=[1, 2])
    with pytest.raises(ValueError, match="^probability and scan differ in length$"):
        Findings(["s"], [[0, 0, 0]], probability=[])
    marks = Findings(["s"], [[0, 0, 0]], probability=[0.5])
    with pytest.raises(ValueError, match="^nodule findings need diameter_mm$"):
        froc_entries(["s"], marks, marks)
    with pytest.raises(ValueError, match="^candidates need a probability$"):
        froc_entries(["s"], Findings(["s"], [[0, 0, 0]], diameter_mm=[4]),
                     Findings(["s"], [[0, 0, 0]]))


def test_the_hit_radius_is_half_the_diameter_and_only_negative_means_unknown():
    # nodules of 10, 0.5 and 0 mm, candidates at 4.9, 0.2 and 0.5 mm from them, one per scan
    nodules = Findings(["a", "b", "c", "d"], [[0, 0, 0]] * 4, diameter_mm=[10, 0.5, 0, -1])
    candidates = Findings(["a", "b", "b", "c", "d"],
                          [[0, 4.9, 0], [0.2, 0, 0], [0, 0, 0.3], [0.5, 0, 0], [0, 0, 4.9]],
                          probability=[0.9, 0.8, 0.7, 0.6, 0.5])
    entries = froc_entries(list("abcd"), nodules, candidates)
    # hits: 4.9 < 5 (10 mm), 0.2 < 0.25 (0.5 mm), 0.3 > 0.25 is a false positive, nothing
    # hits a 0 mm nodule, and -1 means 10 mm
    np.testing.assert_array_equal(entries.score, [0.9, 0.8, 0.7, -np.inf, 0.6, 0.5])
    np.testing.assert_array_equal(entries.is_nodule, [1, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(entries.scan, [0, 1, 1, 2, 2, 3])


def test_exclusions_add_up_over_scans_and_froc_applies_them():
    nodules = Findings(["a"], [[0, 0, 0]], diameter_mm=[4])
    excluded = Findings(["a", "b"], [[50, 0, 0], [50, 0, 0]], diameter_mm=[6, 6])
    candidates = Findings(["a", "b", "b"], [[51, 0, 0], [50, 1, 0], [90, 0, 0]],
                          probability=[0.9, 0.8, 0.7])
    entries = froc_entries(["a", "b"], nodules, candidates, excluded)
    assert entries.ignored_excluded == 2 and (~entries.is_nodule).sum() == 1
    assert froc(["a", "b"], nodules, candidates, excluded).n_false_positives == 1
    assert froc(["a", "b"], nodules, candidates).n_false_positives == 3


def test_rows_of_scans_not_evaluated_are_left_out():
    nodules = Findings(["a", "zz"], [[0, 0, 0], [0, 0, 0]], diameter_mm=[4, 4])
    candidates = Findings(["zz", "b", "zz"], [[0, 0, 0], [9, 9, 9], [1, 0, 0]],
                          probability=[0.9, 0.4, 0.8])
    entries = froc_entries(["a", "b"], nodules, candidates)
    np.testing.assert_array_equal(entries.scan, [0, 1])
    np.testing.assert_array_equal(entries.score, [-np.inf, 0.4])


def test_the_default_keeps_a_hundred_marks_per_scan():
    nodules = Findings(["s"], [[0, 0, 0]], diameter_mm=[4])
    far = np.c_[np.arange(101) * 10.0 + 100, np.zeros(101), np.zeros(101)]
    candidates = Findings(["s"] * 101, far, probability=np.linspace(0.99, 0.01, 101))
    assert (~froc_entries(["s"], nodules, candidates).is_nodule).sum() == 100
    assert froc(["s"], nodules, candidates).n_false_positives == 100
    # exactly the limit: all kept; a limit of 1 keeps the top mark; distinct scores keep the
    # top two of four
    assert froc(["s"], nodules, candidates, max_marks_per_scan=101).n_false_positives == 101
    assert froc(["s"], nodules, candidates, max_marks_per_scan=1).n_false_positives == 1
    four = Findings(["s"] * 4, far[:4], probability=[0.7, 0.9, 0.1, 0.8])
    kept = froc_entries(["s"], nodules, four, max_marks_per_scan=2)
    assert sorted(kept.score[~kept.is_nodule]) == [0.8, 0.9]


def test_curve_thresholds_and_points_on_a_vertical_run():
    nodules, excluded, candidates = _case()
    curve = froc(["a", "b"], nodules, candidates, excluded)
    np.testing.assert_array_equal(curve.thresholds, [np.inf, 0.9, 0.6, 0.3])
    # three nodules found at 0.9, 0.8 and 0.7 (one each): the middle point lies on the line and
    # goes; found one, one and two at a time, sklearn keeps all three (it compares the second
    # differences of FP and TP separately)
    n = Findings(["s"] * 4, [[0, 0, 0], [20, 0, 0], [40, 0, 0], [60, 0, 0]],
                 diameter_mm=[4] * 4)
    three = Findings(["s"] * 3, n.xyz_mm[:3], diameter_mm=[4] * 3)
    c = Findings(["s"] * 3, n.xyz_mm[:3], probability=[0.9, 0.8, 0.7])
    np.testing.assert_allclose(froc(["s"], three, c).sensitivity, [0, 1 / 3, 1])
    c = Findings(["s"] * 4, n.xyz_mm, probability=[0.9, 0.8, 0.7, 0.7])
    np.testing.assert_allclose(froc(["s"], n, c).sensitivity, [0, 0.25, 0.5, 1])
    np.testing.assert_array_equal(froc(["s"], n, c).thresholds, [np.inf, 0.9, 0.8, 0.7])


def test_no_findings_at_all_give_an_empty_nan_curve_without_warnings():
    empty = Findings([], np.zeros((0, 3)), diameter_mm=[], probability=[])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        entries = froc_entries(["s", "t"], empty, empty)
        assert entries.scan.dtype == np.int64 and entries.is_nodule.dtype == bool
        assert entries.score.dtype == np.float64 and len(entries.subset([1, 1]).scan) == 0
        curve = froc_curve(entries)
        nodules = Findings(["s"], [[0, 0, 0]], diameter_mm=[4])
        marks = Findings(["s"], [[50, 0, 0]], probability=[0.5])
        nan_curve = froc(["s"], empty, marks)
    assert curve.n_nodules == 0 and np.isnan(curve.cpm)
    assert np.isnan(nan_curve.sensitivity).all() and nan_curve.n_false_positives == 1
    assert froc(["s"], nodules, marks).cpm == 0.0


def test_subset_repeats_the_entries_of_each_drawn_scan():
    nodules, excluded, candidates = _case()
    entries = froc_entries(["a", "b"], nodules, candidates, excluded)
    drawn = entries.subset([1, 1])
    np.testing.assert_array_equal(drawn.scan, [1, 1, 1, 1])
    np.testing.assert_array_equal(drawn.score, [-np.inf, -np.inf, 0.7, 0.7])
    assert drawn.n_scans == 2


def test_bootstrap_bounds_follow_the_script_percentile_rule():
    values = np.array([[7, 0], [2, 1], [9, 2], [0, 3], [5, 4], [1, 5], [8, 6], [3, 7],
                       [6, 8], [4, 9]], dtype=float)
    low, high = _bounds(values, 0.5)  # tail 0.25: sorted values at floor(2.5) and floor(7.5)
    np.testing.assert_array_equal(low, [2, 2])
    np.testing.assert_array_equal(high, [7, 7])
    low, high = _bounds(values[:, 0], 0.95)  # floor(0.25) = 0, floor(9.75) = 9
    assert (low, high) == (0, 9)
    low, high = _bounds(values[:, 0], 0.6)  # floor(2.0) = 2 and floor(8.0) = 8 (0.2 * 10)
    assert (low, high) == (2, 8)


def test_bootstrap_defaults_checks_and_two_scan_samples():
    nodules = Findings(["a", "b"], [[0, 0, 0], [0, 0, 0]], diameter_mm=[4, 4])
    candidates = Findings(["a", "b"], [[0, 0, 0], [30, 0, 0]], probability=[0.9, 0.5])
    entries = froc_entries(["a", "b"], nodules, candidates)
    default = cpm_bootstrap(entries)
    assert len(default.samples) == 1000 and default.confidence == 0.95
    np.testing.assert_array_equal(default.samples, cpm_bootstrap(entries, 1000, seed=0).samples)
    interval = cpm_bootstrap(entries, n_samples=60, confidence=0.9, seed=3)
    assert interval.confidence == 0.9 and interval.sensitivity_lower.shape == (7,)
    rng = np.random.default_rng(3)
    for sample in interval.samples:  # every draw holds a nodule: none is left out
        assert sample == pytest.approx(froc_curve(entries.subset(
            rng.integers(0, 2, size=2))).cpm)
    assert set(np.round(interval.samples, 6)) == {0.5, 1.0, 0.0}
    assert len(cpm_bootstrap(entries, n_samples=1).samples) == 1
    for bad in ({"n_samples": 0}, {"confidence": 0.0}, {"confidence": 1.0},
                {"confidence": 1.5}, {"n_samples": 0, "confidence": 0.5}):
        with pytest.raises(ValueError, match=r"^need n_samples >= 1 and 0 < confidence < 1$"):
            cpm_bootstrap(entries, **bad)


def test_bootstrap_without_nodules_is_all_nan():
    marks = Findings(["s"], [[0, 0, 0]], probability=[0.5])
    empty = Findings([], np.zeros((0, 3)), diameter_mm=[])
    interval = cpm_bootstrap(froc_entries(["s"], empty, marks), n_samples=5, confidence=0.8)
    assert np.isnan([interval.cpm, interval.lower, interval.upper]).all()
    assert interval.sensitivity_lower.shape == interval.sensitivity_upper.shape == (7,)
    assert np.isnan(interval.sensitivity_lower).all() and np.isnan(interval.sensitivity_upper).all()
    assert interval.samples.shape == (0,) and interval.confidence == 0.8
