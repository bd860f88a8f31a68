"""Boxes: IoU, non-maximum suppression and detection counts (numpy in, numpy out).

Boxes are ``(x0, y0, x1, y1)`` rows in pixel units with ``x1 >= x0`` and ``y1 >= y0``, as in
``torchvision.ops`` (which does the work; torch is imported only when these run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _boxes(boxes: np.ndarray, name: str = "boxes") -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: expected shape (n, 4) as x0, y0, x1, y1, got {boxes.shape}")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"{name}: x1 < x0 or y1 < y0 in some box")
    return np.ascontiguousarray(boxes)


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union, shape (n1, n2) float64 (``torchvision.ops.box_iou``)."""
    import torch
    from torchvision.ops import box_iou as _box_iou

    a, b = _boxes(boxes1, "boxes1"), _boxes(boxes2, "boxes2")
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    iou = _box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    return np.nan_to_num(iou, nan=0.0)  # two empty boxes: 0/0


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by non-maximum suppression, by decreasing score (int64):
    a box is dropped when its IoU with a higher-scoring kept box exceeds ``iou_threshold``."""
    import torch
    from torchvision.ops import nms as _nms

    boxes = _boxes(boxes)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if len(scores) != len(boxes):
        raise ValueError("boxes and scores differ in length")
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    return _nms(torch.from_numpy(boxes), torch.from_numpy(scores), float(iou_threshold)).numpy()


def batched_nms(boxes: np.ndarray, scores: np.ndarray, groups: np.ndarray,
                iou_threshold: float) -> np.ndarray:
    """NMS within each group (class, slice, ...) independently; kept indices by decreasing
    score (``torchvision.ops.batched_nms``)."""
    import torch
    from torchvision.ops import batched_nms as _batched_nms

    boxes = _boxes(boxes)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    groups = np.asarray(groups, dtype=np.int64).ravel()
    if not (len(scores) == len(boxes) == len(groups)):
        raise ValueError("boxes, scores and groups differ in length")
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    return _batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores),
                        torch.from_numpy(groups), float(iou_threshold)).numpy()


def match_boxes(pred_boxes: np.ndarray, pred_scores: np.ndarray, true_boxes: np.ndarray,
                iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy matching by score: each prediction, highest score first, takes the unmatched true
    box it overlaps most if that IoU is ``>= iou_threshold``.

    Returns
    -------
    (n_pred,) int64
        Index of the matched true box, or -1 (a false positive).
    """
    pred_boxes, true_boxes = _boxes(pred_boxes, "pred_boxes"), _boxes(true_boxes, "true_boxes")
    pred_scores = np.asarray(pred_scores, dtype=np.float64).ravel()
    if len(pred_scores) != len(pred_boxes):
        raise ValueError("pred_boxes and pred_scores differ in length")
    matched = np.full(len(pred_boxes), -1, dtype=np.int64)
    if not len(pred_boxes) or not len(true_boxes):
        return matched
    iou = box_iou(pred_boxes, true_boxes)
    free = np.ones(len(true_boxes), dtype=bool)
    for p in np.argsort(-pred_scores, kind="stable"):
        candidates = np.where(free, iou[p], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold:
            matched[p] = best
            free[best] = False
    return matched


@dataclass(frozen=True)
class DetectionCounts:
    """True/false positives and false negatives of a detector, with the scores defined from
    them: precision = TP / (TP + FP), recall = sensitivity = TP / (TP + FN) (NaN when the
    denominator is 0), F1 their harmonic mean."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    sensitivity = recall

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else float("nan")

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def count_detections(pred_boxes: np.ndarray, pred_scores: np.ndarray, pred_groups: np.ndarray,
                     true_boxes: np.ndarray, true_groups: np.ndarray,
                     iou_threshold: float = 0.5) -> DetectionCounts:
    """TP/FP/FN over many images (e.g. axial slices), matching only within a group.

    Parameters
    ----------
    pred_boxes, true_boxes : (n, 4) and (m, 4)
        Predicted and true boxes, x0, y0, x1, y1.
    pred_scores : (n,)
        Prediction scores; higher scores are matched first (:func:`match_boxes`).
    pred_groups, true_groups : (n,) and (m,) int
        The image (slice index, or any integer key such as scan * 10000 + slice) of each box.
    iou_threshold
        A prediction is a true positive when its IoU with a free true box is at least this.
    """
    pred_boxes, true_boxes = _boxes(pred_boxes, "pred_boxes"), _boxes(true_boxes, "true_boxes")
    pred_scores = np.asarray(pred_scores, dtype=np.float64).ravel()
    pred_groups = np.asarray(pred_groups, dtype=np.int64).ravel()
    true_groups = np.asarray(true_groups, dtype=np.int64).ravel()
    if not (len(pred_boxes) == len(pred_scores) == len(pred_groups)):
        raise ValueError("pred_boxes, pred_scores and pred_groups differ in length")
    if len(true_boxes) != len(true_groups):
        raise ValueError("true_boxes and true_groups differ in length")
    pred_order = np.argsort(pred_groups, kind="stable")
    true_order = np.argsort(true_groups, kind="stable")
    groups = np.union1d(pred_groups, true_groups)
    pred_cuts = np.searchsorted(pred_groups[pred_order], groups, side="right")
    true_cuts = np.searchsorted(true_groups[true_order], groups, side="right")
    total = DetectionCounts(0, 0, 0)
    for p, t in zip(np.split(pred_order, pred_cuts[:-1]), np.split(true_order, true_cuts[:-1]),
                    strict=True):
        tp = int(np.sum(match_boxes(pred_boxes[p], pred_scores[p], true_boxes[t],
                                    iou_threshold) >= 0))
        total += DetectionCounts(tp, len(p) - tp, len(t) - tp)
    return total
