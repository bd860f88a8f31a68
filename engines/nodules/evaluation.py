"""Evaluation against ground truth, every figure by its definition.

**Per slice** (the paper's level): on every slice looked at, a 2-D box at or above the slice
threshold is a true positive when its IoU with a free true box (the sphere's circle on that
slice, :mod:`engines.nodules.boxes`) is ≥ 0.5, highest scores matched first; unmatched boxes
are false positives, unmatched true boxes false negatives. A box that matches nothing but
lies on an *ignored* circle (a grazing cut, an excluded finding) is not counted. Then
precision = TP / (TP + FP), recall = sensitivity = TP / (TP + FN), F1 their harmonic mean
(:class:`engines.core.box_metrics.DetectionCounts`). :data:`PAPER_NOTE` says how the paper's
Table 3 swaps the first two.

**Per scan** (LUNA16's level): the 3-D candidates' world centres and probabilities against
annotations.csv (and annotations_excluded.csv): the FROC, sensitivity at 1/8 … 8 false
positives per scan, the CPM and its bootstrap interval (:mod:`engines.core.froc`); and the
sensitivity by nodule size at the candidate threshold (a nodule is found when a candidate's
centre lies inside its sphere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.core.box_metrics import DetectionCounts, box_iou, count_detections
from engines.core.froc import (
    OPERATING_POINTS,
    CPMInterval,
    Findings,
    FROCCurve,
    cpm_bootstrap,
    froc_curve,
    froc_entries,
)
from engines.nodules.boxes import SliceBoxes, TruthConfig, box_centres, centres_inside, slice_truth
from engines.nodules.luna16 import concat, empty_findings

PAPER_COUNTS = DetectionCounts(270, 436, 7)
PAPER_NOTE = (f"The paper's Table 3 swaps precision and recall: TP {PAPER_COUNTS.tp}, "
              f"FP {PAPER_COUNTS.fp}, FN {PAPER_COUNTS.fn} give precision TP/(TP+FP) = "
              f"{PAPER_COUNTS.precision:.2f} and recall = sensitivity TP/(TP+FN) = "
              f"{PAPER_COUNTS.recall:.3f}, where it prints precision 0.97 and recall 0.38.")
SIZE_BINS = ((3.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, np.inf))
#: bins (mm) of the slice circles' diameters for the per-slice recall by size
CUT_BINS = ((2.0, 3.0), (3.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, np.inf))
SLICE_GROUP = 100_000  # group key = scan index × SLICE_GROUP + slice


def scan_truth(volume, nodules: Findings, excluded: Findings | None,
               config: TruthConfig | None = None) -> SliceBoxes:
    """The slice truth of one scan from its annotation rows (and excluded rows)."""
    return slice_truth(volume, nodules.xyz_mm, nodules.diameter_mm, config,
                       None if excluded is None else excluded.xyz_mm,
                       None if excluded is None else excluded.diameter_mm)


def countable(z: np.ndarray, boxes: np.ndarray, truth: SliceBoxes,
              iou_threshold: float = 0.5) -> np.ndarray:
    """(n,) bool: boxes that count (not lying on an ignored circle without matching a counted
    true box on their slice)."""
    keep = np.ones(len(z), bool)
    ignored = ~truth.counted
    for slice_index in np.unique(truth.z[ignored]):
        rows = np.flatnonzero(z == slice_index)
        if not rows.size:
            continue
        on_ignored = centres_inside(box_centres(boxes[rows]),
                                    truth.on_slice(int(slice_index), counted=False))
        counted = truth.on_slice(int(slice_index), counted=True)
        matches = (box_iou(boxes[rows], counted).max(axis=1) >= iou_threshold
                   if len(counted) else np.zeros(len(rows), bool))
        keep[rows] = ~on_ignored | matches
    return keep


def slice_counts(z: np.ndarray, boxes: np.ndarray, scores: np.ndarray, truth: SliceBoxes,
                 group: int = 0, iou_threshold: float = 0.5) -> DetectionCounts:
    """TP/FP/FN of one scan's slice boxes (already thresholded) against its truth."""
    keep = countable(z, boxes, truth, iou_threshold)
    counted = truth.counted
    return count_detections(boxes[keep], scores[keep], z[keep] + group * SLICE_GROUP,
                            truth.boxes[counted], truth.z[counted] + group * SLICE_GROUP,
                            iou_threshold)


def nodule_hits(nodules: Findings, candidates: Findings) -> np.ndarray:
    """(n_nodules,) bool: some candidate of the same scan lies strictly inside the sphere."""
    hit = np.zeros(len(nodules), bool)
    for i in range(len(nodules)):
        same = candidates.scan == nodules.scan[i]
        if same.any():
            d2 = ((candidates.xyz_mm[same] - nodules.xyz_mm[i]) ** 2).sum(axis=1)
            hit[i] = bool(np.any(d2 < nodules.radius_squared()[i]))
    return hit


@dataclass(frozen=True)
class CandidateMatch:
    """TP / FP / excluded per candidate and found / missed per nodule, by LUNA16's hit rule (a
    candidate's centre strictly inside the nodule's sphere), for review-mode colouring.

    Attributes
    ----------
    labels : (n_candidates,) str
        ``"tp"``, ``"fp"`` or ``"excluded"`` (on an excluded finding only).
    nodule_of : (n_candidates,) int
        Row of the nodule a true positive hits (-1 otherwise).
    missed : (n_nodules,) bool
        Nodules no candidate hits.
    """

    labels: np.ndarray
    nodule_of: np.ndarray
    missed: np.ndarray


def match_candidates(candidates: Findings, nodules: Findings,
                     excluded: Findings | None = None) -> CandidateMatch:
    """:class:`CandidateMatch` of one scan's candidates (world mm) against its nodules."""
    def hits(points: np.ndarray, spheres: Findings | None) -> np.ndarray:
        if spheres is None or not len(spheres):
            return np.zeros((len(points), 0), bool)
        d2 = ((points[:, None, :] - spheres.xyz_mm[None]) ** 2).sum(axis=-1)
        return d2 < spheres.radius_squared()[None]

    on_nodule = hits(candidates.xyz_mm, nodules)
    on_excluded = hits(candidates.xyz_mm, excluded).any(axis=1)
    tp = on_nodule.any(axis=1)
    labels = np.where(tp, "tp", np.where(on_excluded, "excluded", "fp"))
    nodule_of = np.where(tp, np.argmax(on_nodule, axis=1) if on_nodule.size else -1, -1)
    return CandidateMatch(labels, nodule_of.astype(np.int64), ~on_nodule.any(axis=0))


def size_sensitivity(nodules: Findings, candidates: Findings) -> list[dict[str, Any]]:
    """Per size bin (mm): nodules, found, sensitivity (NaN for an empty bin)."""
    hit = nodule_hits(nodules, candidates)
    rows = []
    for low, high in SIZE_BINS:
        inside = (nodules.diameter_mm >= low) & (nodules.diameter_mm < high)
        n = int(inside.sum())
        found = int(hit[inside].sum())
        rows.append({"min_mm": low, "max_mm": None if np.isinf(high) else high, "nodules": n,
                     "found": found, "sensitivity": found / n if n else float("nan")})
    return rows


@dataclass
class ScanOutcome:
    """One evaluated scan: its slice counts and candidates against its nodules."""

    seriesuid: str
    counts: DetectionCounts
    candidates: Findings
    nodules: Findings
    excluded: Findings | None = None
    slice_boxes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # z, boxes, scores
    truth: SliceBoxes | None = None


@dataclass
class Evaluation:
    """Figures of a detector (or the peer) over a set of scans.

    Attributes
    ----------
    counts : DetectionCounts
        Per-slice TP/FP/FN at ``slice_threshold`` (None for the peer, which has no slices).
    curve : FROCCurve
    interval : CPMInterval
    by_size : list of dict
        :func:`size_sensitivity` at ``threshold``.
    sensitivity, fp_per_scan : float
        At ``threshold``.
    """

    scans: list[str]
    counts: DetectionCounts | None
    curve: FROCCurve
    interval: CPMInterval
    by_size: list[dict[str, Any]]
    slice_threshold: float | None
    threshold: float
    sensitivity: float
    fp_per_scan: float
    outcomes: list[ScanOutcome] = field(default_factory=list, repr=False)

    @property
    def cpm(self) -> float:
        return self.curve.cpm

    def to_json(self) -> dict[str, Any]:
        """``{"slice": {...}, "froc": {"0.125": s, ..., "8": s}, "cpm": c, "scans": n, ...}``."""
        c = self.counts
        return {
            "slice": None if c is None else {"precision": c.precision, "recall": c.recall,
                                             "f1": c.f1, "tp": c.tp, "fp": c.fp, "fn": c.fn},
            "froc": {f"{p:g}": float(s) for p, s in zip(OPERATING_POINTS,
                                                         self.curve.sensitivities,
                                                         strict=True)},
            "cpm": self.cpm,
            "cpm_ci": [self.interval.lower, self.interval.upper],
            "scans": len(self.scans),
            "nodules": self.curve.n_nodules,
            "slice_threshold": self.slice_threshold, "threshold": self.threshold,
            "sensitivity": self.sensitivity, "fp_per_scan": self.fp_per_scan,
            "by_size": self.by_size,
            "slice_by_size": (None if c is None else
                              slice_recall_by_size(self.outcomes, self.slice_threshold)),
            "curve": {"fps_per_scan": self.curve.fps_per_scan.tolist(),
                      "sensitivity": self.curve.sensitivity.tolist()},
            "paper_note": PAPER_NOTE,
        }


def summarise(outcomes: Sequence[ScanOutcome], threshold: float,
              slice_threshold: float | None, bootstrap: int = 1000, seed: int = 0
              ) -> Evaluation:
    """The figures of the module docstring over evaluated scans."""
    scans = [o.seriesuid for o in outcomes]
    nodules = concat([o.nodules for o in outcomes]) if outcomes else empty_findings()
    excluded_parts = [o.excluded for o in outcomes if o.excluded is not None]
    excluded = concat(excluded_parts) if excluded_parts else None
    candidates = concat([o.candidates for o in outcomes]) if outcomes \
        else empty_findings(with_probability=True)
    entries = froc_entries(scans, nodules, candidates, excluded)
    curve = froc_curve(entries)
    interval = cpm_bootstrap(entries, n_samples=bootstrap, seed=seed)
    chosen = _select(candidates, candidates.probability >= threshold)
    cut = froc_entries(scans, nodules, chosen, excluded)
    n_nodules = int(cut.is_nodule.sum())
    counts = None
    if slice_threshold is not None:
        # recounted at slice_threshold where the boxes were kept: an outcome's own counts are
        # at the threshold its detection ran with (in training, before one was chosen)
        counts = (recount(outcomes, slice_threshold)
                  if all(o.slice_boxes is not None and o.truth is not None for o in outcomes)
                  else sum((o.counts for o in outcomes), DetectionCounts(0, 0, 0)))
    return Evaluation(scans, counts, curve, interval, size_sensitivity(nodules, chosen),
                      slice_threshold, threshold,
                      int(cut.detected.sum()) / n_nodules if n_nodules else float("nan"),
                      int((~cut.is_nodule).sum()) / max(len(scans), 1), list(outcomes))


def _select(findings: Findings, keep: np.ndarray) -> Findings:
    from engines.nodules.luna16 import select

    return select(findings, keep)


def recount(outcomes: Sequence[ScanOutcome], slice_threshold: float) -> DetectionCounts:
    """Per-slice counts of outcomes that kept their slice boxes, at another threshold."""
    total = DetectionCounts(0, 0, 0)
    for group, o in enumerate(outcomes):
        z, boxes, scores = o.slice_boxes
        keep = scores >= slice_threshold
        total += slice_counts(z[keep], boxes[keep], scores[keep], o.truth, group)
    return total


def slice_recall_by_size(outcomes: Sequence[ScanOutcome], slice_threshold: float
                         ) -> list[dict[str, Any]]:
    """Per-slice recall of the counted true boxes by the diameter of their circle
    (:data:`CUT_BINS`, mm): each bin's boxes matched at IoU ≥ 0.5 against the slice boxes at
    ``slice_threshold`` (outcomes that kept their slice boxes)."""
    rows = []
    for low, high in CUT_BINS:
        total = DetectionCounts(0, 0, 0)
        for group, o in enumerate(outcomes):
            if o.slice_boxes is None or o.truth is None:
                continue
            z, boxes, scores = o.slice_boxes
            keep = scores >= slice_threshold
            cut = o.truth.diameter_mm
            inside = o.truth.counted & (cut >= low) & (cut < high)
            if not inside.any():
                continue
            total += count_detections(boxes[keep], scores[keep], z[keep] + group * SLICE_GROUP,
                                      o.truth.boxes[inside],
                                      o.truth.z[inside] + group * SLICE_GROUP)
        n = total.tp + total.fn
        rows.append({"min_mm": low, "max_mm": None if np.isinf(high) else high, "boxes": n,
                     "found": total.tp, "recall": total.tp / n if n else float("nan")})
    return rows


def choose_slice_threshold(outcomes: Sequence[ScanOutcome], target_recall: float,
                           grid: np.ndarray | None = None) -> float:
    """The highest slice threshold whose per-slice recall is at least ``target_recall``
    (the lowest of the grid when none reaches it)."""
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2) if grid is None else grid
    for t in sorted(grid, reverse=True):
        if recount(outcomes, float(t)).recall >= target_recall:
            return float(t)
    return float(min(grid))


def choose_threshold(outcomes: Sequence[ScanOutcome], max_fp_per_scan: float,
                     low: float = 0.2, high: float = 0.95) -> float:
    """The lowest candidate threshold in [low, high] giving at most ``max_fp_per_scan``
    false positives per scan."""
    scans = [o.seriesuid for o in outcomes]
    nodules = concat([o.nodules for o in outcomes])
    excluded_parts = [o.excluded for o in outcomes if o.excluded is not None]
    excluded = concat(excluded_parts) if excluded_parts else None
    candidates = concat([o.candidates for o in outcomes])
    for t in np.round(np.arange(low, high + 1e-9, 0.01), 2):
        chosen = _select(candidates, candidates.probability >= t)
        entries = froc_entries(scans, nodules, chosen, excluded)
        if (~entries.is_nodule).sum() / max(len(scans), 1) <= max_fp_per_scan:
            return float(t)
    return float(high)


# -- running a detector over a dataset --------------------------------------------------------


def scan_outcome(detections, nodules: Findings, excluded: Findings | None,
                 truth_config: TruthConfig | None = None, group: int = 0) -> ScanOutcome:
    """Score one scan's :class:`~engines.nodules.detect.ScanDetections` against its rows of
    annotations.csv (and annotations_excluded.csv); keeps the slice boxes for re-counting."""
    truth = scan_truth(detections.scan.volume, nodules, excluded, truth_config)
    slices = detections.slices
    shown = slices.above(detections.slice_threshold)
    counts = slice_counts(shown.z, shown.boxes, shown.scores, truth, group)
    return ScanOutcome(detections.seriesuid, counts, detections.findings(), nodules, excluded,
                       (slices.z, slices.boxes, slices.scores), truth)


def iter_outcomes(model, dataset, entries=None, config=None,
                  truth_config: TruthConfig | None = None):
    """Detect on every scan of ``dataset`` (or ``entries``), yielding Progress; returns the
    list of :class:`ScanOutcome`."""
    from engines.core.progress import Progress, forward
    from engines.nodules.detect import iter_detect
    from engines.nodules.scan import open_scan

    entries = list(dataset.scans if entries is None else entries)
    outcomes = []
    for i, entry in enumerate(entries):
        scan = open_scan(entry.path, entry.series_uid)
        detections = yield from forward(iter_detect(model, scan, config), i / len(entries),
                                        1 / len(entries), f"scan {i + 1}/{len(entries)}: ")
        outcomes.append(scan_outcome(detections, dataset.nodules_of(scan.seriesuid),
                                     dataset.nodules_of(scan.seriesuid, excluded=True)
                                     if dataset.excluded is not None else None,
                                     truth_config, group=i))
        yield Progress((i + 1) / len(entries), f"scan {i + 1}/{len(entries)} done")
    return outcomes


def iter_evaluate(model, dataset, config=None, truth_config: TruthConfig | None = None,
                  bootstrap: int = 1000):
    """The model's :class:`Evaluation` on a dataset, at its thresholds (or those of
    ``config``); yields Progress."""
    from engines.nodules.detect import detect_config_for

    config = config or detect_config_for(model)
    outcomes = yield from iter_outcomes(model, dataset, None, config, truth_config)
    threshold = model.threshold if config.threshold is None else config.threshold
    slice_threshold = (model.slice_threshold if config.slice_threshold is None
                       else config.slice_threshold)
    return summarise(outcomes, threshold, slice_threshold, bootstrap)


def iter_compare(model, dataset, config=None, bootstrap: int = 1000, with_peer: bool = True):
    """The model's :class:`Evaluation` on a dataset and, when ``with_peer``, the classical
    peer's on the same scans (:func:`engines.nodules.peer.iter_evaluate_peer`); yields
    Progress, returns ``(model_evaluation, peer_evaluation or None)``."""
    from engines.core.progress import forward
    from engines.nodules.peer import iter_evaluate_peer

    span = 0.8 if with_peer else 1.0
    ours = yield from forward(iter_evaluate(model, dataset, config, bootstrap=bootstrap), 0.0,
                              span, "model: ")
    peer = None
    if with_peer:
        peer = yield from forward(iter_evaluate_peer(dataset, bootstrap=bootstrap), span,
                                  1.0 - span, "peer: ")
    return ours, peer
