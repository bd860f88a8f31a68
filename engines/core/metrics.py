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
