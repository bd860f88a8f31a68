"""Objects and the max-vote (Azimi et al., §4.2): every object takes the class most of its
pixels were given.

Objects are the 8-connected components of the binary object mask, or, without a mask, of the
non-matrix pixels (class ≠ 0) of a label image. Votes are counted with one ``bincount`` per
band of rows (``object_id · n_classes + class``), so the count streams with the stitched
bands, never needs more than a band of temporaries, and has no Python loop over objects.

Matrix pixels inside an object vote too: an object most of whose pixels were called matrix
wins class 0, "not segmented" (the paper's 48 objects left out of its Table 4), and counts as
wrong in the object accuracy. Unlabelled pixels (:data:`engines.sem.labels.IGNORE`) do not
vote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.errors import InputError

ROWS_PER_BLOCK = 512
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def label_objects(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """``(objects, n)``: (H, W) int32 ids 1…n of the 8-connected components of ``mask``
    (raster order of their first pixel), 0 elsewhere."""
    from scipy.ndimage import label

    objects = np.empty(mask.shape, dtype=np.int32)
    n = label(np.asarray(mask, dtype=bool), structure=EIGHT_CONNECTED, output=objects)
    return objects, int(n)


def objects_of_labels(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Objects of a label image without a mask: components of its non-matrix pixels
    (unlabelled pixels are not objects)."""
    from engines.sem.labels import IGNORE

    return label_objects((labels != 0) & (labels != IGNORE))


class VoteCounter:
    """Per-object class votes, counted band by band.

    Parameters
    ----------
    n_objects, n_classes
        Object ids are 1…n_objects (0 = no object); classes 0…n_classes − 1.
    """

    def __init__(self, n_objects: int, n_classes: int) -> None:
        self.n_objects, self.n_classes = int(n_objects), int(n_classes)
        self.counts = np.zeros((self.n_objects + 1, self.n_classes), dtype=np.int64)

    def add(self, objects: np.ndarray, labels: np.ndarray) -> None:
        """Count the votes of a band: ``objects`` and ``labels`` of one shape (rows, W)."""
        if objects.shape != labels.shape:
            raise ValueError(f"objects {objects.shape} and labels {labels.shape} differ")
        n, c = self.n_objects + 1, self.n_classes
        for r0 in range(0, objects.shape[0], ROWS_PER_BLOCK):
            ids = objects[r0:r0 + ROWS_PER_BLOCK].ravel()
            cls = labels[r0:r0 + ROWS_PER_BLOCK].ravel()
            keep = (ids > 0) & (cls < c)
            codes = ids[keep].astype(np.int64) * c + cls[keep]
            self.counts += np.bincount(codes, minlength=n * c).reshape(n, c)

    def result(self) -> ObjectVotes:
        return ObjectVotes.from_counts(self.counts[1:])


@dataclass(frozen=True)
class ObjectVotes:
    """The max-vote of n objects (row ``i`` is object id ``i + 1``).

    Attributes
    ----------
    votes : (n, n_classes) int64
        Pixels of each object given each class.
    area : (n,) int64
        Voting pixels per object.
    winner : (n,) int64
        Class with the most votes (ties go to the lower index); 0 = not segmented.
    share : (n,) float64
        The winner's share of the votes (0 for an object without votes).
    runner_up : (n,) int64
        Class with the second most votes, −1 when no other class has a vote.
    runner_up_share : (n,) float64
    """

    votes: np.ndarray
    area: np.ndarray
    winner: np.ndarray
    share: np.ndarray
    runner_up: np.ndarray
    runner_up_share: np.ndarray

    @classmethod
    def from_counts(cls, votes: np.ndarray) -> ObjectVotes:
        votes = np.asarray(votes, dtype=np.int64)
        area = votes.sum(axis=1)
        winner = votes.argmax(axis=1) if votes.size else np.zeros(len(votes), np.int64)
        rows = np.arange(len(votes))
        masked = votes.copy()
        masked[rows, winner] = -1
        runner_up = masked.argmax(axis=1) if votes.size else np.zeros(len(votes), np.int64)
        second = masked[rows, runner_up] if votes.size else np.zeros(0, np.int64)
        runner_up = np.where(second > 0, runner_up, -1)
        total = np.maximum(area, 1).astype(np.float64)
        return cls(votes, area, winner.astype(np.int64),
                   votes[rows, winner] / total if votes.size else np.zeros(0),
                   runner_up.astype(np.int64), np.maximum(second, 0) / total)

    def __len__(self) -> int:
        return len(self.area)

    @property
    def n_classes(self) -> int:
        return int(self.votes.shape[1])

    def class_per_id(self) -> np.ndarray:
        """(n + 1,) uint8 class of each object id, entry 0 (no object) = 0."""
        return np.concatenate([[0], self.winner]).astype(np.uint8)


def max_vote(objects: np.ndarray, labels: np.ndarray, n_objects: int, n_classes: int
             ) -> ObjectVotes:
    """The max-vote of whole images: ``objects`` (H, W) ids, ``labels`` (H, W) classes."""
    counter = VoteCounter(n_objects, n_classes)
    counter.add(objects, labels)
    return counter.result()


def truth_object_classes(labels: np.ndarray, objects: np.ndarray, n: int, n_classes: int
                         ) -> np.ndarray:
    """(n,) truth class of objects 1…n: the majority of their labelled non-matrix pixels
    (the matrix only where an object has no other label)."""
    counter = VoteCounter(n, n_classes)
    counter.add(objects, labels)
    votes = counter.counts[1:].copy()
    if n_classes > 1:
        votes[:, 0] = np.where(votes[:, 1:].sum(axis=1) > 0, 0, votes[:, 0])
    return votes.argmax(axis=1) if n else np.zeros(0, np.int64)


@dataclass(frozen=True)
class ObjectGeometry:
    """Bounding boxes ``(n, 4)`` as ``y0, x0, y1, x1`` (px, end exclusive) and centroids
    ``(n, 2)`` as ``y, x`` (px) of objects 1…n."""

    boxes: np.ndarray
    centroids: np.ndarray


def object_geometry(objects: np.ndarray, n_objects: int) -> ObjectGeometry:
    """Boxes (scipy's ``find_objects``) and centroids (coordinate sums by ``bincount``)."""
    from scipy.ndimage import find_objects

    boxes = np.zeros((n_objects, 4), dtype=np.int64)
    found = find_objects(objects, max_label=n_objects)
    present = np.array([s is not None for s in found], dtype=bool)
    if present.any():
        spans = np.array([(s[0].start, s[1].start, s[0].stop, s[1].stop)
                          for s in found if s is not None], dtype=np.int64)
        boxes[present] = spans
    sums = np.zeros((3, n_objects + 1))
    width = objects.shape[1]
    for r0 in range(0, objects.shape[0], ROWS_PER_BLOCK):
        ids = objects[r0:r0 + ROWS_PER_BLOCK].ravel()
        flat = np.flatnonzero(ids)
        ids = ids[flat]
        sums[0] += np.bincount(ids, minlength=n_objects + 1)
        sums[1] += np.bincount(ids, weights=flat // width + r0, minlength=n_objects + 1)
        sums[2] += np.bincount(ids, weights=flat % width, minlength=n_objects + 1)
    count = np.maximum(sums[0, 1:], 1)
    return ObjectGeometry(boxes, np.stack([sums[1, 1:] / count, sums[2, 1:] / count], axis=1))


def object_class_image(objects: np.ndarray, class_per_id: np.ndarray) -> np.ndarray:
    """(H, W) uint8 max-voted class map: each object's pixels take its class, 0 elsewhere."""
    if objects.size and int(objects.max()) >= len(class_per_id):
        raise InputError(f"object id {int(objects.max())} has no class "
                         f"({len(class_per_id) - 1} objects)")
    out = np.empty(objects.shape, dtype=np.uint8)
    for r0 in range(0, objects.shape[0], ROWS_PER_BLOCK):
        out[r0:r0 + ROWS_PER_BLOCK] = class_per_id[objects[r0:r0 + ROWS_PER_BLOCK]]
    return out
