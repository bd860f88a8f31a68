"""The LUNA16 FROC/CPM against hand-computed cases and the script's sklearn-based curve."""

import numpy as np
import pytest

from engines.core.froc import (
    OPERATING_POINTS,
    Findings,
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
