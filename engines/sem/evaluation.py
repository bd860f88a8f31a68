"""Scores of a segmenter (and its crop-and-classify peer) against truth, as in the paper's
Tables 1 and 4–6.

Pixels: the four FCN scores (pixel accuracy, mean accuracy, mean IU, frequency-weighted IU)
and per-class IU and accuracy from one confusion matrix accumulated band by band
(:class:`engines.core.metrics.ConfusionAccumulator`), unlabelled pixels ignored.

Objects: the truth objects are the components of the mask (or of the label's non-matrix
pixels); an object's truth class is its class-table entry, else the majority of its labelled
non-matrix pixels. Its predicted class is the max-vote of the stitched prediction over it; an
object voted matrix is "not segmented" and wrong. Object accuracy, the object confusion matrix
``[true, predicted]`` with recall and precision per class, and the accuracy without the
not-segmented objects (the paper's 95.23 % beside 93.94 %) are reported, and the same for the
peer on the same objects when the model carries one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.metrics import (
    ConfusionAccumulator,
    ObjectScores,
    SegmentationScores,
    object_scores,
)
from engines.core.progress import Progress, forward
from engines.imaging.blend import SlidingWindowConfig
from engines.sem.analysis import AnalysisJob
from engines.sem.dataset import Dataset, LabelledImage, load_sample, truth_objects
from engines.sem.labels import IGNORE, ClassTable


@dataclass
class EvaluationResult:
    """What :func:`iter_evaluate` returns; :meth:`to_json` is the ``sem evaluate`` output."""

    classes: ClassTable
    pixel_confusion: np.ndarray
    pixel: SegmentationScores
    objects: ObjectScores
    peer: ObjectScores | None
    images: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def object_accuracy_segmented(self) -> float:
        """Object accuracy without the objects voted matrix (not segmented)."""
        confusion = self.objects.confusion
        segmented = confusion[:, 1:].sum()
        return float(np.trace(confusion) - confusion[0, 0]) / segmented if segmented else \
            float("nan")

    def to_json(self) -> dict[str, Any]:
        pr = self.objects.per_class
        per_class = {}
        for i, name in enumerate(self.classes.names):
            per_class[name] = {"iu": self.pixel.class_iu[i], "accuracy":
                               self.pixel.class_accuracy[i],
                               "pixels": int(self.pixel_confusion[i].sum()),
                               "objects": int(self.objects.support[i]),
                               "object_recall": float(pr.recall[i]),
                               "object_precision": float(pr.precision[i])}
        out = {"pixel_accuracy": self.pixel.pixel_accuracy,
               "mean_accuracy": self.pixel.mean_accuracy, "mean_iu": self.pixel.mean_iu,
               "fw_iu": self.pixel.frequency_weighted_iu,
               "object_accuracy": self.objects.accuracy,
               "object_accuracy_segmented": self.object_accuracy_segmented,
               "unsegmented_objects": int(self.objects.confusion[:, 0].sum()),
               "objects": int(self.objects.confusion.sum()), "per_class": per_class,
               "object_confusion": self.objects.confusion.tolist(),
               "pixel_confusion": self.pixel_confusion.tolist(),
               "classes": list(self.classes.names), "images": self.images,
               "notes": self.notes, "peer": None}
        if self.peer is not None:
            out["peer"] = {"object_accuracy": self.peer.accuracy,
                           "object_confusion": self.peer.confusion.tolist(),
                           "object_recall": self.peer.per_class.recall.tolist(),
                           "object_precision": self.peer.per_class.precision.tolist()}
        return out


def iter_evaluate_samples(segmenter, samples: Sequence[Callable[[], LabelledImage]],
                          window: SlidingWindowConfig | None = None, with_peer: bool = True
                          ) -> Generator[Progress, None, EvaluationResult]:
    """Evaluate on labelled images, each given by a function that reads it (so only one is
    in memory at a time); yields Progress, returns an :class:`EvaluationResult`."""
    if not samples:
        raise InputError("no labelled images to evaluate")
    n = segmenter.n_classes
    confusion = ConfusionAccumulator(n, ignore_index=IGNORE)
    truth_all, predicted_all, peer_all, images, notes = [], [], [], [], []
    peer = segmenter.peer if with_peer else None
    for i, read in enumerate(samples):
        sample = read()
        objects, n_objects, truth = truth_objects(sample, n)
        consumers = []
        if sample.labels is not None:
            labels = sample.labels
            consumers.append(lambda y0, y1, rows, labels=labels: confusion.update(
                labels[y0:y1], rows))
        job = AnalysisJob(segmenter, sample.micrograph, objects=(objects, n_objects),
                          window=window, consumers=consumers)
        result = yield from forward(job.run(), i / len(samples), 1 / len(samples),
                                    f"{sample.stem}: ")
        keep = truth >= 1
        if (~keep).any():
            notes.append(f"{sample.stem}: {int((~keep).sum())} objects without a second-phase "
                         "truth class left out")
        truth_all.append(truth[keep])
        predicted_all.append(result.votes.winner[keep])
        if peer is not None:
            peer_all.append(peer.classify(sample.image, objects, n_objects)[keep])
        scores = object_scores(truth[keep], result.votes.winner[keep], n)
        images.append({"image": sample.stem, "objects": int(keep.sum()),
                       "object_accuracy": scores.accuracy, "seconds": round(result.seconds, 2),
                       "warnings": list(sample.warnings)})
    truth = np.concatenate(truth_all)
    objects_result = object_scores(truth, np.concatenate(predicted_all), n)
    peer_result = object_scores(truth, np.concatenate(peer_all), n) if peer is not None else None
    if with_peer and peer is None:
        notes.append("the model carries no crop-and-classify peer (train with --peer)")
    return EvaluationResult(segmenter.classes, confusion.matrix.copy(), confusion.scores(),
                            objects_result, peer_result, images, notes)


def iter_evaluate(segmenter, dataset: Dataset, split: str = "test", crop_bottom: int = 0,
                  window: SlidingWindowConfig | None = None, with_peer: bool = True
                  ) -> Generator[Progress, None, EvaluationResult]:
    """Evaluate on a data set's ``split`` (see :func:`iter_evaluate_samples`)."""
    if list(dataset.classes.names) != list(segmenter.classes.names):
        if len(dataset.classes) != segmenter.n_classes:
            raise InputError(f"{dataset.root.name}: {len(dataset.classes)} classes, but the "
                             f"model has {segmenter.n_classes}")
    files = [f for f in dataset.split(split) if f.label is not None or f.objects is not None]
    if not files:
        raise InputError(f"{dataset.root.name}: no labelled images in the {split} split")
    readers = [lambda f=f: load_sample(f, dataset.classes, crop_bottom) for f in files]
    result = yield from iter_evaluate_samples(segmenter, readers, window, with_peer)
    result.notes = list(dataset.warnings) + result.notes
    return result


def score_analysis(result, sample: LabelledImage, object_classes: np.ndarray | None = None
                   ) -> EvaluationResult:
    """Scores of an analysis already run (the GUI's Analyze) against the truth of its image,
    without running the model again.

    Parameters
    ----------
    result
        An :class:`~engines.sem.analysis.AnalysisResult` of ``sample``'s image.
    object_classes : (n,) int, optional
        Classes of the analysis' objects as the reviewer corrected them (default: the
        max-vote). Used when the analysis objects are the truth objects (same mask).

    Returns
    -------
    EvaluationResult for this one image (no peer).
    """
    n = len(result.classes)
    if sample.labels is not None and sample.labels.shape != result.labels.shape:
        raise InputError(f"{sample.stem}: the truth is {sample.labels.shape[1]} × "
                         f"{sample.labels.shape[0]} px but the analysis "
                         f"{result.labels.shape[1]} × {result.labels.shape[0]}")
    confusion = ConfusionAccumulator(n, ignore_index=IGNORE)
    if sample.labels is not None:
        for r0 in range(0, result.labels.shape[0], 512):
            confusion.update(sample.labels[r0:r0 + 512], result.labels[r0:r0 + 512])
    objects, n_objects, truth = truth_objects(sample, n)
    if object_classes is not None and np.array_equal(objects, result.objects):
        predicted = np.asarray(object_classes, dtype=np.int64)
    else:
        from engines.sem.maxvote import max_vote

        predicted = max_vote(objects, result.labels, n_objects, n).winner
    keep = truth >= 1
    scores = object_scores(truth[keep], predicted[keep], n)
    images = [{"image": sample.stem, "objects": int(keep.sum()),
               "object_accuracy": scores.accuracy, "warnings": list(sample.warnings)}]
    return EvaluationResult(result.classes, confusion.matrix.copy(), confusion.scores(), scores,
                            None, images, [])
