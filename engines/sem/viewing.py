"""What the sem workspace shows: an opened micrograph (with its truth and display pyramid) and
the max-vote object map a reviewer edits.

:func:`iter_open_micrograph` reads an image, or the first image of a data-set folder, with its
mask and label when the folder layout has them (:mod:`engines.sem.dataset`), or a mask found
beside it (:func:`engines.sem.analysis.find_mask`), and builds the display pyramid in the same
task. :class:`ObjectMap` holds the object ids and the class of every object; changing a class
rewrites only the object's bounding box and returns the rows to redraw, so a review edit on an
8000 × 7000 map costs microseconds, not a full-image recolouring.

The review of an image's objects is a :class:`~engines.core.review.ReviewDocument` of kind
``"sem"`` autosaved beside the image (:func:`engines.core.autosave.open_review`): one item per
object (``mask_id`` = object id, score = vote share). :func:`iter_review_analysis` runs an
analysis and restores the saved review when it has exactly the analysis' objects;
:func:`iter_restore_review` reopens it from the mask's objects without a model.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.autosave import RestoreResult, open_review
from engines.core.errors import InputError
from engines.core.progress import Progress, forward
from engines.core.review import ItemState, ReviewDocument, ReviewItem
from engines.sem.analysis import AnalysisJob, AnalysisResult
from engines.sem.dataset import IMAGE_DIRS, Dataset, LabelledImage, open_dataset, stem_key
from engines.sem.labels import ClassTable
from engines.sem.maxvote import object_class_image
from engines.sem.readers import Micrograph

REVIEW_KIND = "sem"


@dataclass
class OpenedMicrograph:
    """A micrograph ready to show.

    Attributes
    ----------
    micrograph : Micrograph
        The image as read (data bar cropped when a label or mask is shorter, or by the
        setting).
    pyramid : list of ndarray
        Display levels (:func:`engines.imaging.image_display.build_pyramid`).
    levels : (lo, hi) or None
        Display levels for 16-bit and float images (robust percentiles); None for uint8.
    mask : (H, W) bool or None
        The binary object mask, aligned with the image.
    truth : LabelledImage or None
        The image with its label / object table when the data set has them.
    dataset : Dataset or None
        The data-set folder the image belongs to (its classes, the other images).
    """

    micrograph: Micrograph
    pyramid: list[np.ndarray]
    levels: tuple[float, float] | None
    mask: np.ndarray | None = None
    truth: LabelledImage | None = None
    dataset: Dataset | None = None
    mask_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.micrograph.path

    @property
    def shape(self) -> tuple[int, int]:
        return self.micrograph.shape

    @property
    def pixel_size_um(self) -> float | None:
        return self.micrograph.pixel_size_um

    @property
    def classes(self) -> ClassTable | None:
        return None if self.dataset is None else self.dataset.classes

    @property
    def has_truth(self) -> bool:
        return self.truth is not None and (self.truth.labels is not None
                                           or self.truth.object_table is not None)

    def image_paths(self) -> list[Path]:
        """The images of the data set (just this one outside a data set), in file order."""
        if self.dataset is None:
            return [self.path]
        return [s.image for s in self.dataset.samples.values()]

    def describe(self) -> str:
        """One line: name, size, pixel size, what truth there is."""
        height, width = self.shape
        size = "pixel size unknown" if self.pixel_size_um is None else \
            f"{self.pixel_size_um:.4g} µm/px"
        truth = [w for w, present in (("mask", self.mask is not None),
                                      ("label", self.truth is not None
                                       and self.truth.labels is not None)) if present]
        return (f"{self.path.name}: {width} × {height} px, {size}, "
                f"{' and '.join(truth) or 'no mask or label'}")


def _dataset_of(image_path: Path) -> Dataset | None:
    """The data set ``image_path`` is an image of (``DIR/images/<stem>``), if any."""
    if image_path.parent.name.lower() not in IMAGE_DIRS:
        return None
    try:
        dataset = open_dataset(image_path.parent.parent)
    except InputError:
        return None
    return dataset if stem_key(image_path.stem) in dataset.samples else None


def iter_open_micrograph(path: str | Path, crop_bottom: int = 0
                         ) -> Generator[Progress, None, OpenedMicrograph]:
    """Open a micrograph file, or the first image of a data-set folder, for viewing.

    Raises
    ------
    InputError
        Naming the file, when the image, its mask or label cannot be used.
    """
    from engines.imaging.image_display import build_pyramid, robust_levels
    from engines.sem.analysis import read_with_mask
    from engines.sem.dataset import load_sample

    path = Path(path)
    if path.is_dir():
        dataset = open_dataset(path)
        path = next(iter(dataset.samples.values())).image
    else:
        dataset = _dataset_of(path)
    yield Progress(0.05, f"reading {path.name}")
    truth = mask_path = None
    files = None if dataset is None else dataset.samples[stem_key(path.stem)]
    if files is not None and (files.label is not None or files.mask is not None
                              or files.objects is not None):
        truth = load_sample(files, dataset.classes, crop_bottom)
        micrograph, mask, mask_path = truth.micrograph, truth.mask, files.mask
        if truth.labels is None and truth.object_table is None:
            truth = None
    else:
        micrograph, mask, mask_path = read_with_mask(path, None, crop_bottom)
    warnings = list(micrograph.warnings) + ([] if dataset is None else list(dataset.warnings))
    yield Progress(0.5, f"{path.name}: display pyramid")
    array = np.asarray(micrograph.array)
    pyramid = build_pyramid(array)
    levels = None if array.dtype == np.uint8 else robust_levels(array)
    yield Progress(1.0, f"opened {path.name}")
    return OpenedMicrograph(micrograph, pyramid, levels, mask, truth, dataset, mask_path,
                            warnings)


def item_class(item: ReviewItem) -> int:
    """The class a review item gives its object: its class, the matrix (0) when rejected (not
    a second-phase object)."""
    return 0 if item.state is ItemState.REJECTED else int(item.label)


def review_classes(items: Iterable[ReviewItem], n_objects: int) -> np.ndarray:
    """(n + 1,) class per object id of a review (index 0 = the matrix, see
    :func:`item_class`)."""
    classes = np.zeros(n_objects + 1, dtype=np.uint8)
    for item in items:
        if item.mask_id is None or not 1 <= item.mask_id <= n_objects:
            raise InputError(f"review item {item.id} names object {item.mask_id}, which the "
                             f"object map (1…{n_objects}) does not have")
        classes[item.mask_id] = item_class(item)
    return classes


def fits_objects(document: ReviewDocument, n_objects: int) -> bool:
    """Whether a (restored) review has exactly one item for each of objects 1…n."""
    ids = sorted(item.mask_id for item in document if item.mask_id is not None)
    return len(ids) == len(document) and ids == list(range(1, n_objects + 1))


def open_object_review(source: Path, class_names: Sequence[str], items: list[ReviewItem],
                       n_objects: int, meta: Mapping[str, Any] | None = None) -> RestoreResult:
    """The review of ``source``'s objects: the autosaved one when it fits the objects, else
    a new one from ``items`` (see :func:`engines.core.autosave.open_review`)."""
    return open_review(source, class_names, items, kind=REVIEW_KIND, meta=meta,
                       accept=lambda document: fits_objects(document, n_objects))


def refresh_proposals(document: ReviewDocument, items: Iterable[ReviewItem]) -> int:
    """Give the items nobody has touched (proposed, not reviewed, no note) of a restored review
    the class, score and extras of a new analysis, so only the reviewer's decisions persist;
    autosaves when something changed and returns how many items did."""
    changes = {}
    for fresh in items:
        old = document.get(fresh.id)
        untouched = old is not None and not old.reviewed and old.state is ItemState.PROPOSED \
            and not old.note
        if untouched and old.mask_id == fresh.mask_id and old != fresh:
            changes[fresh.id] = fresh
    if changes:
        document.replace_items(changes)
        if document.autosave is not None:
            document.autosave.save(document)
    return len(changes)


@dataclass
class ReviewedAnalysis:
    """An analysis with its review (restored or new), the object map it edits and, when the
    image has truth, its scores (``EvaluationResult.to_json()``)."""

    result: AnalysisResult
    review: RestoreResult
    object_map: ObjectMap
    scores: dict[str, Any] | None


def scores_of(result: AnalysisResult, opened: OpenedMicrograph, classes: np.ndarray
              ) -> dict[str, Any] | None:
    """Scores of ``result`` against ``opened``'s truth with ``classes`` ((n + 1,) per object
    id, e.g. :attr:`ObjectMap.classes` as reviewed); None without truth."""
    from engines.sem.evaluation import score_analysis

    if not opened.has_truth:
        return None
    return score_analysis(result, opened.truth, np.asarray(classes)[1:]).to_json()


def iter_review_analysis(job: AnalysisJob, opened: OpenedMicrograph
                         ) -> Generator[Progress, None, ReviewedAnalysis]:
    """Run ``job`` (an :class:`~engines.sem.analysis.AnalysisJob` of ``opened``'s image), then
    open the review of its objects, build the object map and score it."""
    result = yield from forward(job.run(), 0.0, 0.95)
    names = result.classes.names
    meta = {"objects": result.n_objects, "object_source": result.object_source,
            "model": job.segmenter.arch}
    items = result.review_items()
    review = open_object_review(opened.path, names, items, result.n_objects, meta)
    refresh_proposals(review.document, items)
    object_map = ObjectMap(result.objects, result.geometry.boxes,
                           review_classes(review.document, result.n_objects))
    yield Progress(0.97, "scoring against the truth" if opened.has_truth else "review ready")
    scores = scores_of(result, opened, object_map.classes)
    yield Progress(1.0, f"{result.n_objects} objects")
    return ReviewedAnalysis(result, review, object_map, scores)


def iter_restore_review(opened: OpenedMicrograph, class_names: Sequence[str]
                        ) -> Generator[Progress, None, tuple[RestoreResult, ObjectMap] | None]:
    """The autosaved review of ``opened``'s image with the object map of its mask, without
    running a model; None when there is no saved review or no mask to rebuild objects from."""
    from engines.core.autosave import RestoreStatus, sidecar_path
    from engines.sem.maxvote import label_objects, object_geometry

    if opened.mask is None or not sidecar_path(opened.path).is_file():
        return None
    yield Progress(0.2, "objects of the mask")
    objects, n = label_objects(opened.mask)
    review = open_object_review(opened.path, class_names, [], n)
    if review.status is not RestoreStatus.RESTORED:
        return None
    geometry = object_geometry(objects, n)
    yield Progress(1.0, f"restored the review of {n} objects")
    return review, ObjectMap(objects, geometry.boxes, review_classes(review.document, n))


class ObjectMap:
    """Object ids and the class of each object, drawn as an (H, W) class image.

    Parameters
    ----------
    objects : (H, W) int32
        Object ids 1…n, 0 = matrix.
    boxes : (n, 4) int
        ``y0, x0, y1, x1`` of every object (end exclusive), px.
    classes : (n + 1,) ints
        Class per object id (entry 0 is the matrix, 0).
    """

    def __init__(self, objects: np.ndarray, boxes: np.ndarray, classes: np.ndarray) -> None:
        if len(classes) != len(boxes) + 1:
            raise ValueError(f"{len(boxes)} objects but {len(classes)} classes")
        self.objects = objects
        self.boxes = np.asarray(boxes, dtype=np.int64)
        self.classes = np.asarray(classes, dtype=np.uint8).copy()
        self.image = object_class_image(objects, self.classes)

    @property
    def n_objects(self) -> int:
        return len(self.boxes)

    def set_classes(self, changes: Mapping[int, int]) -> list[tuple[int, int]]:
        """Give objects ``{id: class}``; returns the row spans ``(y0, y1)`` that changed."""
        spans = []
        for object_id, cls in changes.items():
            if not 1 <= object_id <= self.n_objects:
                raise ValueError(f"no object {object_id} (1…{self.n_objects})")
            if self.classes[object_id] == cls:
                continue
            self.classes[object_id] = cls
            y0, x0, y1, x1 = (int(v) for v in self.boxes[object_id - 1])
            inside = self.objects[y0:y1, x0:x1] == object_id
            self.image[y0:y1, x0:x1][inside] = cls
            spans.append((y0, y1))
        return spans

    def follow(self, classes: np.ndarray) -> list[tuple[int, int]]:
        """Take the classes of ``classes`` ((n + 1,), e.g. :func:`review_classes`); returns
        the changed row spans."""
        changed = np.flatnonzero(np.asarray(classes, dtype=np.uint8) != self.classes)
        return self.set_classes({int(i): int(classes[i]) for i in changed if i > 0})

    def object_at(self, row: int, col: int) -> int:
        """Object id at pixel (row, col), 0 for the matrix."""
        return int(self.objects[row, col])
