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


# --- edge cases that surviving mutants showed untested (mutmut on engines/core/metrics.py)

def test_confusion_matrix_takes_float_labels_and_checks_lengths():
    cm = confusion_matrix(np.array([0.0, 1.0, 1.0]), np.array([1.0, 1.0, 0.0]), 2)
    assert cm.dtype == np.int64 and cm.tolist() == [[0, 1], [1, 1]]
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], 2)


def test_pr_curve_edge_cases():
    one = pr_curve([1], [0.3])  # a single positive sample is a curve of one point
    assert one.precision.tolist() == [1.0] and one.recall.tolist() == [1.0]
    assert one.thresholds.tolist() == [0.3]
    for empty in (pr_curve([], []), pr_curve([0, 0], [0.1, 0.9])):
        assert empty.precision.size == empty.recall.size == empty.thresholds.size == 0
    counts = pr_curve([2, 0, 1], [0.9, 0.5, 0.1])  # any non-zero label is a positive
    assert counts.recall.tolist() == [0.5, 0.5, 1.0]
    assert counts.precision.tolist() == pytest.approx([1.0, 0.5, 2 / 3])
    with pytest.raises(ValueError, match="^labels and scores differ in length$"):
        pr_curve([1, 0], [0.5])


def test_segmentation_scores_edge_cases():
    import warnings

    from engines.core.metrics import segmentation_scores

    with pytest.raises(ValueError, match="expected a square confusion matrix, got shape"):
        segmentation_scores(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="expected a square"):
        segmentation_scores(np.zeros(4))
    single = segmentation_scores(np.array([[1, 0], [0, 0]]))  # one pixel, class 1 absent
    assert single.pixel_accuracy == 1.0 and single.class_accuracy[0] == 1.0
    assert single.class_iu[0] == 1.0 and np.isnan(single.class_iu[1])
    assert np.isnan(single.class_accuracy[1]) and single.mean_iu == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # absent classes give NaN terms without a warning
        empty = segmentation_scores(np.zeros((3, 3), np.int64))
    assert all(np.isnan(v) for v in (empty.pixel_accuracy, empty.mean_accuracy,
                                     empty.mean_iu, empty.frequency_weighted_iu))
    assert np.isnan(empty.class_accuracy).all() and np.isnan(empty.class_iu).all()


# --- survivors of `python -m tests.mutation engines/core/metrics.py` (this round)

def test_confusion_matrix_of_a_class_nobody_has_keeps_its_row_and_column():
    cm = confusion_matrix([0, 1, 1], [1, 1, 0], 4)  # classes 2 and 3 never occur
    assert cm.shape == (4, 4) and cm.tolist()[:2] == [[0, 1, 0, 0], [1, 1, 0, 0]]
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix([0, 1], [0], 2)


def test_pr_curve_operating_points_on_an_imperfect_scorer():
    # positives at scores 0.9, 0.7, 0.2; negatives at 0.8, 0.4 -> recall 1/3, 2/3, 1 at
    # precisions 1, 2/3 (after 0.8 and 0.7), 3/5
    curve = pr_curve([1, 0, 1, 0, 1], [0.9, 0.8, 0.7, 0.4, 0.2])
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 1])
    assert curve.precision_at_recall(0.5) == pytest.approx(2 / 3)
    assert curve.precision_at_recall(1.01) == 0.0  # no operating point reaches it
    assert curve.recall_at_precision(2 / 3) == pytest.approx(2 / 3)  # exactly 2/3 counts
    assert curve.recall_at_precision(0.6) == pytest.approx(1.0)
    assert curve.recall_at_precision(1.01) == 0.0
    assert curve.threshold_at_recall(0.5) == pytest.approx(0.7)
    assert curve.threshold_at_recall(1.5) == pytest.approx(0.2)  # none reaches: lowest score


def test_pr_curve_of_unsigned_scores_orders_them_as_numbers():
    # -scores of uint8 would wrap: 200 must still rank above 3
    curve = pr_curve([0, 1, 1], np.array([3, 200, 100], dtype=np.uint8))
    np.testing.assert_allclose(curve.precision, [1, 1, 2 / 3])
    np.testing.assert_allclose(curve.thresholds, [200, 100, 3])


def test_segmentation_scores_count_a_class_of_one_pixel_and_nan_without_warnings():
    import warnings

    from engines.core.metrics import segmentation_scores

    confusion = np.array([[5, 1], [0, 1]])  # class 1: one pixel, found
    scores = segmentation_scores(confusion)
    assert scores.frequency_weighted_iu == pytest.approx((6 * 5 / 6 + 1 * 1 / 2) / 7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = segmentation_scores(np.zeros((3, 3)))
        assert np.isnan(empty.mean_iu) and np.isnan(empty.pixel_accuracy)


def test_confusion_accumulator_checks_its_classes_exactly():
    from engines.core.metrics import ConfusionAccumulator

    single = ConfusionAccumulator(1)  # one class is allowed
    single.update(np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8))
    assert single.matrix.tolist() == [[4]] and single.matrix.dtype == np.int64
    with pytest.raises(ValueError, match="n_classes must be at least 1"):
        ConfusionAccumulator(0)
    acc = ConfusionAccumulator(3)
    with pytest.raises(ValueError, match=r"^truth has class values outside 0…2$"):
        acc.update(np.array([0, 3]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"^prediction has class values outside 0…2$"):
        acc.update(np.array([0, 1]), np.array([-1, 1]))
