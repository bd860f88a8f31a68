"""Objects and the max-vote against a plain per-object loop."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.sem.labels import IGNORE
from engines.sem.maxvote import (
    ObjectVotes,
    VoteCounter,
    label_objects,
    max_vote,
    object_class_image,
    object_geometry,
    objects_of_labels,
    truth_object_classes,
)


def _scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    mask = np.zeros((120, 150), bool)
    for _ in range(12):
        y, x = rng.integers(0, 110), rng.integers(0, 140)
        mask[y:y + rng.integers(3, 12), x:x + rng.integers(3, 12)] = True
    labels = rng.integers(0, 4, mask.shape).astype(np.uint8)
    return mask, labels


def test_votes_match_a_loop_over_objects():
    mask, labels = _scene()
    objects, n = label_objects(mask)
    votes = max_vote(objects, labels, n, 4)
    for i in range(n):
        counts = np.bincount(labels[objects == i + 1], minlength=4)
        np.testing.assert_array_equal(votes.votes[i], counts)
        assert votes.winner[i] == counts.argmax()
        assert votes.share[i] == pytest.approx(counts.max() / counts.sum())
        second = np.sort(counts)[-2]
        assert votes.runner_up_share[i] == pytest.approx(second / counts.sum())
    banded = VoteCounter(n, 4)
    for y0 in range(0, 120, 37):
        banded.add(objects[y0:y0 + 37], labels[y0:y0 + 37])
    np.testing.assert_array_equal(banded.result().votes, votes.votes)


def test_eight_connectivity_and_objects_of_labels():
    mask = np.zeros((5, 5), bool)
    mask[1, 1] = mask[2, 2] = mask[4, 4] = True
    objects, n = label_objects(mask)
    assert n == 2 and objects[1, 1] == objects[2, 2] == 1
    labels = np.array([[0, 2, 2], [IGNORE, 0, 0], [3, 0, 1]], np.uint8)
    objects, n = objects_of_labels(labels)
    assert n == 3 and objects[1, 0] == 0


def test_runner_up_ties_unlabelled_and_unsegmented():
    votes = ObjectVotes.from_counts(np.array([[0, 5, 0], [3, 3, 0], [7, 0, 0], [0, 0, 0]]))
    assert votes.winner.tolist() == [1, 0, 0, 0]
    assert votes.runner_up.tolist() == [-1, 1, -1, -1]
    assert votes.share.tolist() == [1.0, 0.5, 1.0, 0.0]
    objects = np.array([[1, 1, 1]], np.int32)
    labels = np.array([[IGNORE, 2, 2]], np.uint8)
    assert max_vote(objects, labels, 1, 3).area.tolist() == [2]


def test_truth_classes_prefer_second_phase_pixels():
    objects = np.array([[1, 1, 1, 2, 2]], np.int32)
    labels = np.array([[0, 0, 3, 0, 0]], np.uint8)
    assert truth_object_classes(labels, objects, 2, 4).tolist() == [3, 0]


def test_geometry_and_object_image():
    mask, labels = _scene(3)
    objects, n = label_objects(mask)
    geometry = object_geometry(objects, n)
    for i in range(n):
        ys, xs = np.nonzero(objects == i + 1)
        assert geometry.boxes[i].tolist() == [ys.min(), xs.min(), ys.max() + 1, xs.max() + 1]
        np.testing.assert_allclose(geometry.centroids[i], [ys.mean(), xs.mean()])
    winners = max_vote(objects, labels, n, 4).class_per_id()
    image = object_class_image(objects, winners)
    assert (image[~mask] == 0).all()
    np.testing.assert_array_equal(image[mask], winners[objects[mask]])


def test_small_blocks_give_the_same_votes_geometry_and_image(monkeypatch):
    import engines.sem.maxvote as maxvote

    mask, labels = _scene(5)
    labels[::7, ::3] = IGNORE
    objects, n = label_objects(mask)
    whole = max_vote(objects, labels, n, 4)
    geometry = object_geometry(objects, n)
    image = object_class_image(objects, whole.class_per_id())
    truth = truth_object_classes(labels, objects, n, 4)
    monkeypatch.setattr(maxvote, "ROWS_PER_BLOCK", 7)
    blocked = max_vote(objects, labels, n, 4)
    np.testing.assert_array_equal(blocked.votes, whole.votes)
    np.testing.assert_array_equal(blocked.area, whole.area)
    small = object_geometry(objects, n)
    np.testing.assert_array_equal(small.boxes, geometry.boxes)
    np.testing.assert_allclose(small.centroids, geometry.centroids)
    np.testing.assert_array_equal(object_class_image(objects, whole.class_per_id()), image)
    np.testing.assert_array_equal(truth_object_classes(labels, objects, n, 4), truth)
    for i in range(n):
        inside = labels[objects == i + 1]
        assert whole.area[i] == int((inside != IGNORE).sum())
        ys, xs = np.nonzero(objects == i + 1)
        np.testing.assert_allclose(small.centroids[i], [ys.mean(), xs.mean()])
    tall = np.ascontiguousarray(objects.T[:, :40])  # taller than wide, in blocks of 7 rows
    n_tall = int(tall.max())
    geometry = object_geometry(tall, n_tall)
    tall_labels = np.ascontiguousarray(labels.T[:, :40])
    votes = max_vote(tall, tall_labels, n_tall, 4)
    image = object_class_image(tall, votes.class_per_id())
    np.testing.assert_array_equal(image, votes.class_per_id()[tall])
    for i in range(n_tall):
        inside = tall_labels[tall == i + 1]
        np.testing.assert_array_equal(votes.votes[i], np.bincount(inside[inside < 4],
                                                                  minlength=4))
    for i in range(n_tall):
        ys, xs = np.nonzero(tall == i + 1)
        if ys.size:
            np.testing.assert_allclose(geometry.centroids[i], [ys.mean(), xs.mean()])


def test_votes_of_a_hand_made_image():
    objects = np.array([[1, 1, 0, 2],
                        [1, 0, 0, 2],
                        [3, 3, 3, 2]], np.int32)
    labels = np.array([[2, 2, 1, 0],
                       [1, 1, 1, 1],
                       [IGNORE, 4, 3, 1]], np.uint8)  # 4: beyond the classes
    votes = max_vote(objects, labels, 3, 4)
    assert votes.votes.tolist() == [[0, 1, 2, 0], [1, 2, 0, 0], [0, 0, 0, 1]]
    assert votes.area.tolist() == [3, 3, 1] and len(votes) == 3 and votes.n_classes == 4
    assert votes.winner.tolist() == [2, 1, 3] and votes.runner_up.tolist() == [1, 0, -1]
    np.testing.assert_allclose(votes.share, [2 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(votes.runner_up_share, [1 / 3, 1 / 3, 0.0])
    assert votes.winner.dtype == np.int64 and votes.runner_up.dtype == np.int64
    per_id = votes.class_per_id()
    assert per_id.tolist() == [0, 2, 1, 3] and per_id.dtype == np.uint8
    image = object_class_image(objects, per_id)
    assert image.tolist() == [[2, 2, 0, 1], [2, 0, 0, 1], [3, 3, 3, 1]]
    assert image.dtype == np.uint8
    assert truth_object_classes(labels, objects, 3, 4).tolist() == [2, 1, 3]
    with pytest.raises(ValueError, match=r"objects \(3, 4\) and labels \(3, 3\) differ"):
        VoteCounter(3, 4).add(objects, labels[:, :3])
    with pytest.raises(InputError, match=r"^object id 3 has no class \(2 objects\)$"):
        object_class_image(objects, per_id[:3])
    objects[1, 1] = 4  # a one-pixel object, and id 5 is absent
    geometry = object_geometry(objects, 5)
    assert geometry.boxes.tolist() == [[0, 0, 2, 2], [0, 3, 3, 4], [2, 0, 3, 3], [1, 1, 2, 2],
                                       [0, 0, 0, 0]]
    np.testing.assert_allclose(geometry.centroids, [[1 / 3, 1 / 3], [1, 3], [2, 1], [1, 1],
                                                    [0, 0]])


def test_empty_inputs_and_a_single_class():
    none = ObjectVotes.from_counts(np.zeros((0, 3), np.int64))
    assert len(none) == 0 and none.share.shape == (0,) and none.runner_up.shape == (0,)
    assert none.class_per_id().tolist() == [0]
    objects = np.zeros((3, 3), np.int32)
    assert truth_object_classes(np.zeros((3, 3), np.uint8), objects, 0, 3).shape == (0,)
    assert object_geometry(objects, 0).boxes.shape == (0, 4)
    one = np.array([[1, 1]], np.int32)
    assert truth_object_classes(np.zeros((1, 2), np.uint8), one, 1, 1).tolist() == [0]
    assert truth_object_classes(np.array([[0, 0]], np.uint8), one, 1, 3).tolist() == [0]
    assert truth_object_classes(np.zeros((3, 3), np.uint8), objects, 0, 3).dtype == np.int64
    assert object_geometry(objects, 2).boxes.dtype == np.int64


def test_truth_classes_any_second_phase_pixel_outvotes_the_matrix():
    objects = np.array([[1, 1, 1, 1, 2, 2, 2]], np.int32)
    for n_classes, label in ((2, 1), (4, 1), (4, 3)):
        labels = np.array([[0, 0, 0, label, 0, 0, 0]], np.uint8)  # object 2: matrix only
        assert truth_object_classes(labels, objects, 2, n_classes).tolist() == [label, 0]
    assert object_class_image(np.zeros((0, 4), np.int32), np.array([0], np.uint8)).shape == \
        (0, 4)
