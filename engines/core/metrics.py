"""Metrics shared across workspaces (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of true class ``i`` predicted as ``j``; shape (n, n), int64."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred differ in length")
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def row_normalise(matrix: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (rows that sum to 0 stay 0)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true = np.asarray(y_true).ravel()
    return float(np.mean(y_true == np.asarray(y_pred).ravel())) if y_true.size else float("nan")


@dataclass(frozen=True)
class PrecisionRecall:
    """Per-class precision, recall and F1 (arrays of shape (n_classes,)) and their macro means."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray

    @property
    def macro_f1(self) -> float:
        return float(np.mean(self.f1))


def precision_recall_f1(confusion: np.ndarray) -> PrecisionRecall:
    """Per-class precision/recall/F1 from a count confusion matrix (0 where undefined)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return PrecisionRecall(precision, recall, f1)


@dataclass(frozen=True)
class PRCurve:
    """Precision-recall (purity-retention) curve of a binary scorer.

    ``thresholds[i]`` is the score cut giving ``precision[i]`` and ``recall[i]`` (score >= cut is
    positive); points are ordered by decreasing threshold, i.e. increasing recall.
    """

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray

    @property
    def auc(self) -> float:
        """Area under the curve by the step rule (average precision)."""
        recall = np.concatenate([[0.0], self.recall])
        return float(np.sum(np.diff(recall) * self.precision))

    def precision_at_recall(self, target: float) -> float:
        """Best precision among operating points with recall >= ``target`` (0 if none)."""
        ok = self.recall >= target
        return float(self.precision[ok].max()) if ok.any() else 0.0

    def recall_at_precision(self, target: float) -> float:
        """Best recall among operating points with precision >= ``target`` (0 if none)."""
        ok = self.precision >= target
        return float(self.recall[ok].max()) if ok.any() else 0.0

    def threshold_at_recall(self, target: float) -> float:
        """Highest threshold whose recall reaches ``target`` (the lowest score if none does)."""
        ok = np.flatnonzero(self.recall >= target)
        return float(self.thresholds[ok[0]] if ok.size else self.thresholds[-1])


def pr_curve(labels: np.ndarray, scores: np.ndarray) -> PRCurve:
    """Precision-recall curve over every distinct score.

    Parameters
    ----------
    labels
        Truth, shape (n,), bool or {0, 1}.
    scores
        Scores, shape (n,); higher means more likely positive.
    """
    labels = np.asarray(labels, dtype=bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError("labels and scores differ in length")
    n_pos = int(labels.sum())
    if scores.size == 0 or n_pos == 0:
        empty = np.zeros(0)
        return PRCurve(empty, empty, empty)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tp = np.cumsum(labels)[last_of_tie].astype(np.float64)
    selected = last_of_tie + 1.0
    return PRCurve(tp / selected, tp / n_pos, scores[last_of_tie])


def binary_counts(labels: np.ndarray, predicted: np.ndarray) -> dict[str, int]:
    """TP/FP/FN/TN counts of a binary decision."""
    labels = np.asarray(labels, dtype=bool).ravel()
    predicted = np.asarray(predicted, dtype=bool).ravel()
    return {
        "tp": int(np.sum(labels & predicted)),
        "fp": int(np.sum(~labels & predicted)),
        "fn": int(np.sum(labels & ~predicted)),
        "tn": int(np.sum(~labels & ~predicted)),
    }


# -- segmentation (Long et al., "Fully convolutional networks for semantic segmentation") -----

@dataclass(frozen=True)
class SegmentationScores:
    """The FCN paper's four scores from one confusion matrix, plus the per-class terms.

    With ``n_ij`` the pixels of true class ``i`` predicted as ``j`` and ``t_i = Σ_j n_ij``:

    - pixel accuracy ``Σ_i n_ii / Σ_i t_i``;
    - mean accuracy ``(1/n_cl) Σ_i n_ii / t_i``;
    - mean IU ``(1/n_cl) Σ_i n_ii / (t_i + Σ_j n_ji − n_ii)``;
    - frequency-weighted IU ``(Σ_k t_k)⁻¹ Σ_i t_i n_ii / (t_i + Σ_j n_ji − n_ii)``.

    Absent classes, as in the FCN reference code (``score.py``: ``np.nanmean`` of 0/0 terms):
    a class absent from the truth has no accuracy (NaN) and is left out of the mean accuracy;
    a class absent from both truth and prediction has no IU (NaN) and is left out of the mean
    IU (``n_cl`` counts the classes that remain). A class that is predicted but absent from the
    truth has IU 0 and counts. Every score is NaN when there are no pixels at all.

    Attributes
    ----------
    class_accuracy, class_iu : (n_classes,) float
        Per-class accuracy (recall) and intersection over union; NaN where undefined.
    """

    pixel_accuracy: float
    mean_accuracy: float
    mean_iu: float
    frequency_weighted_iu: float
    class_accuracy: np.ndarray
    class_iu: np.ndarray


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def segmentation_scores(confusion: np.ndarray) -> SegmentationScores:
    """Pixel accuracy, mean accuracy, mean IU and frequency-weighted IU of a count matrix
    ``confusion[true, predicted]`` of shape (n_classes, n_classes); see
    :class:`SegmentationScores` for the definitions."""
    n = np.asarray(confusion, dtype=np.float64)
    if n.ndim != 2 or n.shape[0] != n.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {n.shape}")
    diag = np.diag(n)
    truth = n.sum(axis=1)
    union = truth + n.sum(axis=0) - diag
    total = truth.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        class_accuracy = np.where(truth > 0, diag / truth, np.nan)
        class_iu = np.where(union > 0, diag / union, np.nan)
    if total == 0:
        nan = float("nan")
        return SegmentationScores(nan, nan, nan, nan, class_accuracy, class_iu)
    present = truth > 0  # a class in the truth has union > 0, so its IU is defined
    fw_iu = float(np.sum(truth[present] * class_iu[present]) / total)
    return SegmentationScores(float(diag.sum() / total), _nanmean(class_accuracy),
                              _nanmean(class_iu), fw_iu, class_accuracy, class_iu)


class ConfusionAccumulator:
    """A confusion matrix built up tile by tile (an 8000×7000 image never needs one array).

    Parameters
    ----------
    n_classes
        Classes ``0 … n_classes − 1``.
    ignore_index
        A truth value to skip (e.g. 255 for "unlabelled"); any other value outside the classes
        raises ``ValueError``.
    """

    def __init__(self, n_classes: int, ignore_index: int | None = None) -> None:
        if n_classes < 1:
            raise ValueError("n_classes must be at least 1")
        self.n_classes = int(n_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((n_classes, n_classes), dtype=np.int64)

    def update(self, true: np.ndarray, pred: np.ndarray) -> None:
        """Add the pixels of one tile; ``true`` and ``pred`` are integer arrays of one shape."""
        true = np.asarray(true)
        pred = np.asarray(pred)
        if true.shape != pred.shape:
            raise ValueError(f"truth {true.shape} and prediction {pred.shape} differ in shape")
        true = true.ravel().astype(np.int64, copy=False)
        pred = pred.ravel().astype(np.int64, copy=False)
        if self.ignore_index is not None:
            keep = true != self.ignore_index
            true, pred = true[keep], pred[keep]
        n = self.n_classes
        for name, values in (("truth", true), ("prediction", pred)):
            if values.size and (values.min() < 0 or values.max() >= n):
                raise ValueError(f"{name} has class values outside 0…{n - 1}")
        self.matrix += np.bincount(true * n + pred, minlength=n * n).reshape(n, n)

    def scores(self) -> SegmentationScores:
        return segmentation_scores(self.matrix)


# -- objects (e.g. connected components that each take one class) -----------------------------

@dataclass(frozen=True)
class ObjectScores:
    """Object-level classification: accuracy, confusion ``[true, predicted]`` and per-class
    precision/recall/F1 (0 where undefined, as :func:`precision_recall_f1`)."""

    accuracy: float
    confusion: np.ndarray
    per_class: PrecisionRecall

    @property
    def support(self) -> np.ndarray:
        """True objects per class, shape (n_classes,)."""
        return self.confusion.sum(axis=1)


def object_scores(true_class: np.ndarray, predicted_class: np.ndarray,
                  n_classes: int) -> ObjectScores:
    """Score per-object classes (one entry per object, shape (n_objects,) each)."""
    true_class = np.asarray(true_class, dtype=np.int64).ravel()
    predicted_class = np.asarray(predicted_class, dtype=np.int64).ravel()
    accumulator = ConfusionAccumulator(n_classes)
    accumulator.update(true_class, predicted_class)
    confusion = accumulator.matrix
    return ObjectScores(accuracy(true_class, predicted_class), confusion,
                        precision_recall_f1(confusion))
