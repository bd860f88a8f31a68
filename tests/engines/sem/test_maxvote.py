"""Objects and the max-vote against a plain per-object loop."""

from __future__ import annotations

import numpy as np
import pytest

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
