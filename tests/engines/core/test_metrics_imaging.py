"""Imaging metrics: the FCN IoU family, object scores, boxes/NMS and detection counts."""

import numpy as np
import pytest

from engines.core.box_metrics import (
    DetectionCounts,
    batched_nms,
    box_iou,
    count_detections,
    match_boxes,
    nms,
)
from engines.core.metrics import (
    ConfusionAccumulator,
    object_scores,
    segmentation_scores,
)


def test_segmentation_scores_by_hand_with_an_absent_class():
    # class 2 is in neither truth nor prediction: excluded from every mean
    scores = segmentation_scores(np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]]))
    assert scores.pixel_accuracy == pytest.approx(5 / 6)
    assert scores.mean_accuracy == pytest.approx((3 / 4 + 1) / 2)
    np.testing.assert_allclose(scores.class_iu[:2], [3 / 4, 2 / 3])
    assert np.isnan(scores.class_iu[2]) and np.isnan(scores.class_accuracy[2])
    assert scores.mean_iu == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert scores.frequency_weighted_iu == pytest.approx((4 * 3 / 4 + 2 * 2 / 3) / 6)


def test_a_class_predicted_but_absent_from_truth_counts_in_mean_iu_only():
    scores = segmentation_scores(np.array([[2, 1], [0, 0]]))
    np.testing.assert_allclose(scores.class_iu, [2 / 3, 0.0])
    assert scores.mean_iu == pytest.approx(1 / 3)
    assert np.isnan(scores.class_accuracy[1]) and scores.mean_accuracy == pytest.approx(2 / 3)
    assert scores.frequency_weighted_iu == pytest.approx(2 / 3)


def test_segmentation_scores_match_the_fcn_reference_formulas():
    rng = np.random.default_rng(3)
    hist = rng.integers(0, 50, size=(5, 5)).astype(float)
    hist[4, :] = 0  # a class missing from the truth
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.diag(hist) / hist.sum(1)
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
    freq = hist.sum(1) / hist.sum()
    scores = segmentation_scores(hist)
    assert scores.pixel_accuracy == pytest.approx(np.diag(hist).sum() / hist.sum())
    assert scores.mean_accuracy == pytest.approx(np.nanmean(acc))
    assert scores.mean_iu == pytest.approx(np.nanmean(iu))
    assert scores.frequency_weighted_iu == pytest.approx((freq[freq > 0] * iu[freq > 0]).sum())


def test_empty_matrix_gives_nan_scores():
    scores = segmentation_scores(np.zeros((3, 3)))
    assert np.isnan(scores.pixel_accuracy) and np.isnan(scores.mean_iu)


def test_accumulator_tile_by_tile_equals_whole_image():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, size=(60, 70))
    pred = np.where(rng.random((60, 70)) < 0.7, true, rng.integers(0, 4, size=(60, 70)))
    whole = ConfusionAccumulator(4)
    whole.update(true, pred)
    tiled = ConfusionAccumulator(4)
    for y in range(0, 60, 25):
        for x in range(0, 70, 32):
            tiled.update(true[y:y + 25, x:x + 32], pred[y:y + 25, x:x + 32])
    np.testing.assert_array_equal(whole.matrix, tiled.matrix)
    assert whole.matrix.sum() == true.size
    assert tiled.scores().mean_iu == pytest.approx(whole.scores().mean_iu)


def test_accumulator_ignores_the_ignore_index_and_refuses_other_values():
    acc = ConfusionAccumulator(2, ignore_index=255)
    acc.update(np.array([0, 1, 255]), np.array([0, 0, 1]))
    assert acc.matrix.tolist() == [[1, 0], [1, 0]]
    with pytest.raises(ValueError, match="truth"):
        acc.update(np.array([2]), np.array([0]))
    with pytest.raises(ValueError, match="prediction"):
        acc.update(np.array([0]), np.array([-1]))
    with pytest.raises(ValueError, match="shape"):
        acc.update(np.zeros(3), np.zeros(4))


def test_object_scores_accuracy_confusion_recall_precision():
    scores = object_scores([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], 3)
    assert scores.accuracy == pytest.approx(4 / 6)
    assert scores.confusion.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    np.testing.assert_allclose(scores.per_class.recall, [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(scores.per_class.precision, [1 / 2, 2 / 3, 1])
    assert scores.support.tolist() == [2, 3, 1]


def test_box_iou_by_hand_and_empty_inputs():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou, [[50 / 150, 0.0]])
    assert box_iou(np.zeros((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)
    with pytest.raises(ValueError, match="x1 < x0"):
        box_iou(np.array([[5, 0, 1, 1]]), np.array([[0, 0, 1, 1]]))


def test_nms_and_batched_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    # in another group box 0 survives next to box 3
    kept = batched_nms(boxes, scores, np.array([0, 0, 0, 1]), 0.5)
    assert kept.tolist() == [3, 0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


def test_greedy_matching_takes_the_highest_score_first():
    truth = np.array([[0, 0, 10, 10]])
    preds = np.array([[0, 0, 10, 10], [0, 0, 10, 9]])
    assert match_boxes(preds, np.array([0.2, 0.9]), truth).tolist() == [-1, 0]
    assert match_boxes(preds, np.array([0.9, 0.2]), truth).tolist() == [0, -1]
    assert match_boxes(preds, np.array([0.9, 0.2]), truth, iou_threshold=1.01).tolist() == [-1, -1]


def test_count_detections_matches_within_slices_only():
    truth = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]])
    truth_slice = np.array([3, 4, 4])
    preds = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [80, 80, 90, 90]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    pred_slice = np.array([3, 3, 5, 4])  # the third one is on a slice without that nodule
    counts = count_detections(preds, scores, pred_slice, truth, truth_slice)
    assert (counts.tp, counts.fp, counts.fn) == (1, 3, 2)
    assert count_detections(np.zeros((0, 4)), [], [], np.zeros((0, 4)), []) == \
        DetectionCounts(0, 0, 0)


def test_precision_and_recall_by_their_definitions():
    # the lung-nodule paper's Table 3 swaps them: TP 270, FP 436, FN 7
    counts = DetectionCounts(tp=270, fp=436, fn=7)
    assert counts.precision == pytest.approx(0.382, abs=5e-4)
    assert counts.recall == pytest.approx(0.975, abs=5e-4)
    assert counts.sensitivity == counts.recall
    assert counts.f1 == pytest.approx(2 * counts.precision * counts.recall
                                      / (counts.precision + counts.recall))
    assert np.isnan(DetectionCounts(0, 0, 0).precision)


# --- survivors of `python -m tests.mutation engines/core/box_metrics.py` (this round)

BOX = np.array([[0, 0, 4, 4]])
WIDE = np.zeros((2, 5))


@pytest.mark.parametrize(("call", "message"), [
    (lambda: box_iou(WIDE, BOX), "^boxes1: expected shape .n, 4."),
    (lambda: box_iou(BOX, WIDE), "^boxes2: expected shape"),
    (lambda: box_iou(np.array([[7.0]]), BOX), "^boxes1: expected shape"),
    (lambda: match_boxes(WIDE, [1, 1], BOX), "^pred_boxes: expected shape"),
    (lambda: match_boxes(BOX, [1], WIDE), "^true_boxes: expected shape"),
    (lambda: count_detections(WIDE, [1, 1], [0, 0], BOX, [0]), "^pred_boxes: expected"),
    (lambda: count_detections(BOX, [1], [0], WIDE, [0, 0]), "^true_boxes: expected"),
    (lambda: nms(BOX, [1, 2], 0.5), "^boxes and scores differ in length$"),
    (lambda: batched_nms(BOX, [1], [0, 1], 0.5), "^boxes, scores and groups differ in length$"),
    (lambda: match_boxes(BOX, [1, 2], BOX), "^pred_boxes and pred_scores differ in length$"),
    (lambda: count_detections(BOX, [1], [0, 1], BOX, [0]),
     "^pred_boxes, pred_scores and pred_groups differ in length$"),
    (lambda: count_detections(BOX, [1], [0], BOX, [0, 1]),
     "^true_boxes and true_groups differ in length$"),
    (lambda: box_iou(np.array([[5, 0, 4, 10]]), BOX), "x1 < x0"),  # y1 is not below x0
    (lambda: box_iou(np.array([[0, 5, 3, 4]]), BOX), "y1 < y0"),
])
def test_box_inputs_are_checked_and_the_argument_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_zero_area_boxes_are_valid_and_overlap_nothing():
    flat = np.array([[1, 1, 1, 3], [2, 2, 5, 2]])  # zero width, zero height
    np.testing.assert_array_equal(box_iou(flat, flat), np.zeros((2, 2)))  # 0/0 is no overlap


def test_empty_results_are_integer_indices():
    boxes = np.zeros((0, 4))
    for kept in (nms(boxes, [], 0.5), batched_nms(boxes, [], [], 0.5)):
        assert kept.dtype == np.int64 and kept.shape == (0,)
        assert boxes[kept].shape == (0, 4)  # usable as an index
    assert match_boxes(boxes, [], BOX).dtype == np.int64


def test_unsigned_scores_rank_as_numbers():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10]])
    scores = np.array([0, 200], dtype=np.uint8)  # -scores would wrap: 0 before 56
    assert nms(boxes, scores, 0.5).tolist() == [1]
    assert batched_nms(boxes, scores, [0, 0], 0.5).tolist() == [1]
    assert match_boxes(boxes, scores, np.array([[0, 0, 10, 10]])).tolist() == [-1, 0]


def test_matching_at_exactly_the_threshold_and_to_the_second_truth():
    truth = np.array([[50, 50, 60, 60], [0, 0, 2, 1]])
    preds = np.array([[0, 0, 1, 1]])  # IoU with the second truth: 1 / 2 exactly
    assert match_boxes(preds, [0.5], truth, iou_threshold=0.5).tolist() == [1]
    assert match_boxes(preds, [0.5], truth, iou_threshold=0.51).tolist() == [-1]


def test_count_detections_over_groups_with_gaps_and_its_threshold():
    # predictions in slices 0, 2, 2, 7; truth in slices 2 and 5 only
    preds = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [30, 30, 40, 40], [30, 30, 40, 40]])
    truth = np.array([[0, 0, 10, 10], [0, 0, 10, 10]])
    counts = count_detections(preds, [0.9, 0.8, 0.7, 0.6], [0, 2, 2, 7], truth, [2, 5])
    assert (counts.tp, counts.fp, counts.fn) == (1, 3, 1)
    loose = np.array([[0, 0, 10, 10]])
    shifted = np.array([[0, 0, 10, 4]])  # IoU 0.4
    assert count_detections(shifted, [1], [3], loose, [3]).tp == 0
    assert count_detections(shifted, [1], [3], loose, [3], iou_threshold=0.4).tp == 1
