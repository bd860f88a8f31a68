import numpy as np
import pytest

from engines.core.metrics import (
    accuracy,
    binary_counts,
    confusion_matrix,
    pr_curve,
    precision_recall_f1,
    row_normalise,
)


def test_confusion_matrix_counts_and_rows():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    norm = row_normalise(cm)
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    np.testing.assert_allclose(norm[2], [1 / 3, 0, 2 / 3])


def test_row_normalise_keeps_empty_rows_zero():
    assert row_normalise(np.array([[0, 0], [1, 3]])).tolist() == [[0, 0], [0.25, 0.75]]


def test_precision_recall_f1_by_hand():
    pr = precision_recall_f1(np.array([[8, 2], [4, 6]]))
    np.testing.assert_allclose(pr.precision, [8 / 12, 6 / 8])
    np.testing.assert_allclose(pr.recall, [0.8, 0.6])
    assert pr.f1[0] == pytest.approx(2 * (8 / 12) * 0.8 / (8 / 12 + 0.8))


def test_precision_recall_f1_of_a_class_never_predicted_or_absent():
    # class 1 is never predicted (precision undefined -> 0), class 2 never occurs (recall -> 0)
    pr = precision_recall_f1(np.array([[3, 0, 1], [2, 0, 0], [0, 0, 0]]))
    np.testing.assert_allclose(pr.precision, [0.6, 0.0, 0.0])
    np.testing.assert_allclose(pr.recall, [0.75, 0.0, 0.0])
    np.testing.assert_allclose(pr.f1, [2 * 0.6 * 0.75 / 1.35, 0.0, 0.0])
    assert pr.macro_f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35 / 3)


def test_precision_recall_f1_of_a_single_prediction_and_a_weak_class():
    pr = precision_recall_f1(np.array([[3, 0, 2], [0, 1, 0], [3, 0, 1]]))
    np.testing.assert_allclose(pr.precision, [0.5, 1.0, 1 / 3])  # class 1: predicted once
    np.testing.assert_allclose(pr.recall, [0.6, 1.0, 0.25])
    np.testing.assert_allclose(pr.f1, [6 / 11, 1.0, 2 / 7])  # class 2: p + r < 1


def test_accuracy_of_nothing_is_nan_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(accuracy([], []))


def test_accuracy():
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75


def test_pr_curve_perfect_and_random_scores():
    labels = np.array([1, 1, 0, 0, 0])
    perfect = pr_curve(labels, np.array([0.9, 0.8, 0.3, 0.2, 0.1]))
    assert perfect.auc == pytest.approx(1.0)
    assert perfect.precision_at_recall(1.0) == 1.0
    assert perfect.threshold_at_recall(1.0) == pytest.approx(0.8)
    inverted = pr_curve(labels, np.array([0.1, 0.2, 0.3, 0.8, 0.9]))
    assert inverted.auc == pytest.approx(0.5 * (1 / 4) + 0.5 * (2 / 5))
    assert inverted.recall_at_precision(0.9) == 0.0


def test_pr_curve_ties_form_one_point():
    curve = pr_curve(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.5, 0.5]))
    assert curve.precision.tolist() == [0.5]
    assert curve.recall.tolist() == [1.0]


def test_binary_counts():
    assert binary_counts([1, 1, 0, 0], [1, 0, 1, 0]) == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    # asymmetric: every count differs, so no two of them can be swapped unnoticed
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    predicted = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    assert binary_counts(labels, predicted) == {"tp": 3, "fp": 2, "fn": 1, "tn": 4}
    # any non-zero label or decision counts as True (class ids, not only 0/1)
    assert binary_counts([3, 0, 5, 2], [1, 1, 0, 2]) == {"tp": 2, "fp": 1, "fn": 1, "tn": 0}
