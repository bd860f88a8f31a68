"""The LUNA16 FROC analysis: sensitivity at 1/8 … 8 false positives per scan, and the CPM.

This follows the challenge's evaluation script, ``noduleCADEvaluationLUNA16.py`` (Setio,
Jacobs et al., "Validation, comparison, and combination of algorithms for automatic detection
of pulmonary nodules in CT images: the LUNA16 challenge", Med. Image Anal. 42, 2017; the script
ships with the challenge's evaluation code), definition by definition:

1. **Marks per scan.** With more than ``max_marks_per_scan`` (100 in the script's
   ``noduleCADEvaluation``) candidates in a scan, only those whose probability is strictly
   greater than the (max + 1)-th highest are kept.
2. **Hit.** A candidate hits a nodule when the squared world distance between them is below
   the squared radius, ``|c − n|² < (d/2)²`` in mm; a negative diameter means 10 mm.
3. **Included nodules** (annotations.csv) come first: every candidate hitting one is taken out
   of the false-positive pool; the nodule enters the FROC once, with the highest probability
   of its hits (the other hits are ignored duplicates). A candidate hitting two nodules is a
   hit for both. A nodule without a hit counts in the number of nodules but not in the curve.
4. **Excluded findings** (annotations_excluded.csv) come next: candidates hitting one that are
   still in the pool are dropped: neither true nor false positives.
5. **Curve.** The remaining candidates are false positives. Over the distinct probabilities,
   from the highest down (``sklearn.metrics.roc_curve`` with its default
   ``drop_intermediate=True``, starting at (0, 0)): false positives per scan = FP / number of
   scans, sensitivity = TP / number of included nodules.
6. **Operating points.** The curve is interpolated linearly (``np.interp``, as the script
   builds ``sens_itp``) at 1/8, 1/4, 1/2, 1, 2, 4 and 8 FP/scan; beyond its last point it stays
   at its final sensitivity. The CPM is the mean of the seven sensitivities.
7. **Bootstrap** (``computeFROC_bootstrap``): scans are drawn with replacement, the FROC is
   recomputed from the drawn scans' entries (the number of scans stays the same), and the
   interval bounds are the sorted values at ``floor(p·n)`` and ``floor((1 − p)·n)``,
   ``p = (1 − confidence) / 2``.

Degenerate cases the script leaves to NaN: with no nodule at all the sensitivities are NaN;
with nodules but no hit they are 0 (the script's ``tpr`` would be 0/0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

OPERATING_POINTS = np.array([0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0])
DEFAULT_DIAMETER_MM = 10.0  # the script's value for a negative diameter


@dataclass(frozen=True)
class Findings:
    """Points in world mm, one row per nodule or candidate.

    Attributes
    ----------
    scan : (n,) str or int
        Series (scan) identifier of each row.
    xyz_mm : (n, 3) float
        World coordinates x, y, z, mm.
    diameter_mm : (n,) float or None
        Nodule diameters (annotations); negative = unknown (10 mm is used).
    probability : (n,) float or None
        Candidate scores (CAD marks).
    """

    scan: np.ndarray
    xyz_mm: np.ndarray
    diameter_mm: np.ndarray | None = None
    probability: np.ndarray | None = None

    def __post_init__(self) -> None:
        scan = np.asarray(self.scan).ravel()
        xyz = np.asarray(self.xyz_mm, dtype=np.float64).reshape(-1, 3)
        if len(xyz) != len(scan):
            raise ValueError("scan and xyz_mm differ in length")
        object.__setattr__(self, "scan", scan)
        object.__setattr__(self, "xyz_mm", xyz)
        for name in ("diameter_mm", "probability"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float64).ravel()
                if len(value) != len(scan):
                    raise ValueError(f"{name} and scan differ in length")
                object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.scan)

    def radius_squared(self) -> np.ndarray:
        if self.diameter_mm is None:
            raise ValueError("nodule findings need diameter_mm")
        diameter = np.where(self.diameter_mm < 0, DEFAULT_DIAMETER_MM, self.diameter_mm)
        return (diameter / 2.0) ** 2


def _empty(like: Findings) -> Findings:
    return Findings(like.scan[:0], np.zeros((0, 3)), np.zeros(0))


@dataclass(frozen=True)
class FROCEntries:
    """What the curve is built from: one entry per included nodule and per false positive.

    Attributes
    ----------
    scan : (k,) int
        Index of the entry's scan in the evaluated scan list.
    is_nodule : (k,) bool
        A nodule (detected or not) rather than a false-positive candidate.
    score : (k,) float
        Probability of the nodule's best hit, or of the false positive; -inf for a missed nodule.
    n_scans : int
        Scans evaluated (the false-positive divisor).
    ignored_excluded, ignored_duplicates : int
        Candidates dropped on excluded findings, and extra hits on an already hit nodule.
    """

    scan: np.ndarray
    is_nodule: np.ndarray
    score: np.ndarray
    n_scans: int
    ignored_excluded: int = 0
    ignored_duplicates: int = 0

    @property
    def detected(self) -> np.ndarray:
        return self.is_nodule & np.isfinite(self.score)

    def subset(self, scans: np.ndarray) -> FROCEntries:
        """Entries of the given scan indices, each as often as its scan appears (a bootstrap
        draw); the order of the entries does not matter to the curve."""
        repeats = np.bincount(np.asarray(scans, dtype=np.int64), minlength=self.n_scans)
        rows = np.repeat(np.arange(len(self.scan)), repeats[self.scan])
        return FROCEntries(self.scan[rows], self.is_nodule[rows], self.score[rows], self.n_scans)


def froc_entries(scans: Sequence, nodules: Findings, candidates: Findings,
                 excluded: Findings | None = None, max_marks_per_scan: int = 100) -> FROCEntries:
    """Match candidates to nodules scan by scan (steps 1–4 of the module docstring).

    Rows of ``nodules``, ``candidates`` or ``excluded`` whose scan is not in ``scans`` are not
    evaluated (the script iterates over its series list).
    """
    if candidates.probability is None:
        raise ValueError("candidates need a probability")
    excluded = _empty(nodules) if excluded is None else excluded
    scan_list = list(scans)
    cand_rows, nod_rows, exc_rows = (_rows_by_scan(f.scan, scan_list)
                                     for f in (candidates, nodules, excluded))
    nod_r2, exc_r2 = nodules.radius_squared(), excluded.radius_squared()
    entry_scan, entry_nodule, entry_score = [], [], []
    ignored_excluded = ignored_duplicates = 0
    for index in range(len(scan_list)):
        cand = cand_rows[index]
        probability = candidates.probability[cand]
        if max_marks_per_scan > 0 and len(cand) > max_marks_per_scan:
            cut = np.sort(probability)[::-1][max_marks_per_scan]
            keep = probability > cut
            cand, probability = cand[keep], probability[keep]
        xyz = candidates.xyz_mm[cand]
        in_pool = np.ones(len(cand), dtype=bool)
        rows = nod_rows[index]
        for hit in _hits(nodules.xyz_mm[rows], nod_r2[rows], xyz):
            in_pool &= ~hit
            ignored_duplicates += max(int(hit.sum()) - 1, 0)
            entry_score.append(probability[hit].max() if hit.any() else -np.inf)
        rows = exc_rows[index]
        dropped = in_pool & _hits(excluded.xyz_mm[rows], exc_r2[rows], xyz).any(axis=0)
        ignored_excluded += int(dropped.sum())
        in_pool &= ~dropped
        entry_score += probability[in_pool].tolist()
        n_nodules, n_false = len(nod_rows[index]), int(in_pool.sum())
        entry_nodule += [True] * n_nodules + [False] * n_false
        entry_scan += [index] * (n_nodules + n_false)
    return FROCEntries(np.asarray(entry_scan, dtype=np.int64),
                       np.asarray(entry_nodule, dtype=bool),
                       np.asarray(entry_score, dtype=np.float64), len(scan_list),
                       ignored_excluded, ignored_duplicates)


def _rows_by_scan(row_scans: np.ndarray, scans: list) -> list[np.ndarray]:
    """For each scan of ``scans``, the rows of ``row_scans`` that belong to it."""
    position = {scan: i for i, scan in enumerate(scans)}
    index = np.fromiter((position.get(s, -1) for s in row_scans.tolist()), dtype=np.int64,
                        count=len(row_scans))
    order = np.argsort(index, kind="stable")
    cuts = np.searchsorted(index[order], np.arange(len(scans) + 1), side="left")
    return [order[cuts[i]:cuts[i + 1]] for i in range(len(scans))]


def _hits(centres: np.ndarray, radius_squared: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n_centres, n_points) bool: point strictly inside the sphere around each centre."""
    d2 = ((centres[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)
    return d2 < radius_squared[:, None]


@dataclass(frozen=True)
class FROCCurve:
    """A FROC curve and its seven LUNA16 operating points.

    Attributes
    ----------
    fps_per_scan, sensitivity, thresholds : (p,) float
        Curve points by decreasing threshold (the first is (0, 0) at threshold +inf).
    sensitivities : (7,) float
        Sensitivity at :data:`OPERATING_POINTS` false positives per scan.
    n_nodules, n_detected, n_false_positives : int
        Included nodules, nodules with a hit, false-positive candidates.
    """

    fps_per_scan: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray
    sensitivities: np.ndarray
    n_nodules: int
    n_detected: int
    n_false_positives: int

    @property
    def cpm(self) -> float:
        """Competition performance metric: mean sensitivity at the seven operating points."""
        return float(np.mean(self.sensitivities))


def _ranked(entries: FROCEntries) -> tuple[np.ndarray, np.ndarray]:
    """Entries on the curve (detected nodules and false positives) by decreasing score, and
    the position of the last entry of each run of equal scores (one curve point per run)."""
    keep = np.flatnonzero(entries.detected | ~entries.is_nodule)
    order = keep[np.argsort(-entries.score[keep], kind="stable")]
    scores = entries.score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1].astype(np.int64)
    return order, last_of_tie[:len(scores)]


def _cumulative(is_nodule: np.ndarray, weights: np.ndarray,
                last_of_tie: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positives, true positives) counted down to each curve point; ``weights`` are
    how often each entry counts (1, or its scan's multiplicity in a bootstrap draw)."""
    tps = np.cumsum(weights * is_nodule)[last_of_tie].astype(np.float64)
    fps = np.cumsum(weights * ~is_nodule)[last_of_tie].astype(np.float64)
    return fps, tps


def froc_curve(entries: FROCEntries) -> FROCCurve:
    """The FROC curve and operating points of matched entries (steps 5–6)."""
    n_nodules = int(entries.is_nodule.sum())
    order, last_of_tie = _ranked(entries)
    fps, tps = _cumulative(entries.is_nodule[order], np.ones(len(order)), last_of_tie)
    thresholds = entries.score[order][last_of_tie]
    if len(fps) > 2:  # sklearn's drop_intermediate: drop collinear points
        optimal = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)),
                                       True])
        fps, tps, thresholds = fps[optimal], tps[optimal], thresholds[optimal]
    fps, tps, thresholds = np.r_[0.0, fps], np.r_[0.0, tps], np.r_[np.inf, thresholds]
    fps_per_scan = fps / max(entries.n_scans, 1)
    sensitivity = tps / n_nodules if n_nodules else np.full(len(tps), np.nan)
    at_points = np.interp(OPERATING_POINTS, fps_per_scan, sensitivity)
    return FROCCurve(fps_per_scan, sensitivity, thresholds, at_points, n_nodules,
                     int(entries.detected.sum()), int((~entries.is_nodule).sum()))


def froc(scans: Sequence, nodules: Findings, candidates: Findings,
         excluded: Findings | None = None, max_marks_per_scan: int = 100) -> FROCCurve:
    """The LUNA16 FROC of ``candidates`` against ``nodules`` over ``scans`` (module docstring).

    Parameters
    ----------
    scans
        Every evaluated scan, also those without candidates or nodules.
    nodules
        Included nodules with ``diameter_mm`` (annotations.csv).
    candidates
        CAD marks with ``probability``.
    excluded
        Findings to ignore, with ``diameter_mm`` (annotations_excluded.csv).
    """
    return froc_curve(froc_entries(scans, nodules, candidates, excluded, max_marks_per_scan))


@dataclass(frozen=True)
class CPMInterval:
    """Bootstrap statistics of the CPM over scans.

    Attributes
    ----------
    cpm, lower, upper : float
        Mean CPM of the bootstrap samples and its confidence bounds.
    sensitivity_lower, sensitivity_upper : (7,) float
        Bounds of the sensitivity at each operating point.
    samples : (n_valid,) float
        CPM of each bootstrap sample that drew at least one nodule.
    confidence : float
    """

    cpm: float
    lower: float
    upper: float
    sensitivity_lower: np.ndarray
    sensitivity_upper: np.ndarray
    samples: np.ndarray
    confidence: float


def _bounds(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The script's ``compute_mean_ci`` percentile rule along axis 0."""
    values = np.sort(values, axis=0)
    n = len(values)
    tail = (1.0 - confidence) / 2.0
    low = min(int(np.floor(tail * n)), n - 1)
    high = min(int(np.floor((1.0 - tail) * n)), n - 1)
    return values[low], values[high]


def cpm_bootstrap(entries: FROCEntries, n_samples: int = 1000, confidence: float = 0.95,
                  seed: int = 0) -> CPMInterval:
    """Confidence interval of the CPM by resampling scans with replacement (step 7), seeded.

    Samples without any nodule have no sensitivity and are left out (``len(samples)`` says
    how many remain); all bounds are NaN when none remains.
    """
    if n_samples < 1 or not 0 < confidence < 1:
        raise ValueError("need n_samples >= 1 and 0 < confidence < 1")
    rng = np.random.default_rng(seed)
    # A draw only changes how often each entry counts, not the order of the entries, so
    # every sample reuses one ranking (the same curve points as entries.subset(drawn)).
    order, last_of_tie = _ranked(entries)
    labels, scan_of = entries.is_nodule[order], entries.scan[order]
    per_point = []
    for _ in range(n_samples):
        drawn = rng.integers(0, entries.n_scans, size=entries.n_scans)
        repeats = np.bincount(drawn, minlength=entries.n_scans)
        n_nodules = int(np.sum(repeats[entries.scan] * entries.is_nodule))
        if n_nodules:
            fps, tps = _cumulative(labels, repeats[scan_of], last_of_tie)
            per_point.append(np.interp(OPERATING_POINTS, np.r_[0.0, fps] / entries.n_scans,
                                       np.r_[0.0, tps] / n_nodules))
    if not per_point:
        nan = np.full(len(OPERATING_POINTS), np.nan)
        return CPMInterval(np.nan, np.nan, np.nan, nan, nan, np.zeros(0), confidence)
    sens = np.asarray(per_point)
    cpms = sens.mean(axis=1)
    low, high = _bounds(cpms, confidence)
    sens_low, sens_high = _bounds(sens, confidence)
    return CPMInterval(float(cpms.mean()), float(low), float(high), sens_low, sens_high, cpms,
                       confidence)
