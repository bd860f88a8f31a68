"""Analyze one micrograph: tiled segmentation, objects, max-vote, the object table and the
review items — what the GUI's Analyze, ``sem analyze`` and ``sem batch`` share.

For the GUI, an :class:`AnalysisJob` owns the label image it fills: start ``job.run()`` on the
task runner and, on each (throttled) progress report, draw rows ``[drawn, job.rows_done)`` of
``job.labels`` (e.g. ``ImageView.update_labels_band``); rows above ``rows_done`` are final. The
generator returns an :class:`AnalysisResult`.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes
from engines.core.progress import Progress, forward
from engines.imaging.blend import SlidingWindowConfig
from engines.sem.inference import BandConsumer, iter_segment
from engines.sem.labels import ClassTable
from engines.sem.maxvote import (
    ObjectGeometry,
    ObjectVotes,
    VoteCounter,
    label_objects,
    object_class_image,
    object_geometry,
    objects_of_labels,
)
from engines.sem.readers import IMAGE_SUFFIXES, Micrograph


@dataclass
class AnalysisResult:
    """A segmented micrograph and its max-voted objects.

    Attributes
    ----------
    labels : (H, W) uint8
        Stitched pixel classes.
    objects : (H, W) int32
        Object ids 1…n (0 = matrix): components of the mask, or of the predicted non-matrix
        pixels when there was no mask (``object_source``).
    votes : ObjectVotes
        Per-object votes, winner, vote share and runner-up (row i = object id i + 1).
    geometry : ObjectGeometry
        Boxes and centroids of the objects, px.
    """

    labels: np.ndarray
    objects: np.ndarray
    votes: ObjectVotes
    geometry: ObjectGeometry
    classes: ClassTable
    object_source: str
    pixel_size_um: float | None = None
    source: Path | None = None
    seconds: float = 0.0
    tiles: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def n_objects(self) -> int:
        return len(self.votes)

    @property
    def megapixels_per_second(self) -> float:
        return self.labels.size / 1e6 / self.seconds if self.seconds > 0 else float("nan")

    def object_image(self) -> np.ndarray:
        """(H, W) uint8 max-vote map: every object's pixels carry its class, 0 elsewhere."""
        return object_class_image(self.objects, self.votes.class_per_id())

    def review_items(self) -> list:
        """One :class:`~engines.core.review.ReviewItem` per object: id = mask_id = object id,
        label = max-voted class, score = vote share, box = the bounding box on slice 0, extras
        ``area_px``, ``runner_up`` (class index, −1 for none), ``runner_up_share`` and
        ``area_um2`` when the pixel size is known."""
        from engines.core.review import ReviewItem
        from engines.core.review_items import box_from_2d

        v, boxes = self.votes, self.geometry.boxes
        um2 = None if not self.pixel_size_um else self.pixel_size_um ** 2
        items = []
        for i in range(len(v)):
            extras: dict[str, Any] = {"area_px": int(v.area[i]), "runner_up": int(v.runner_up[i]),
                                      "runner_up_share": float(v.runner_up_share[i])}
            if um2 is not None:
                extras["area_um2"] = float(v.area[i] * um2)
            y0, x0, y1, x1 = (int(b) for b in boxes[i])
            items.append(ReviewItem(i + 1, int(v.winner[i]), score=float(v.share[i]),
                                    mask_id=i + 1, box=box_from_2d(y0, x0, y1, x1, 0, 1),
                                    extras=extras))
        return items

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """The object table: header and one row per object."""
        names = self.classes.names
        header = ["id", "class", "class_name", "vote_share", "runner_up", "runner_up_name",
                  "runner_up_share", "area_px", "area_um2", "centroid_x", "centroid_y",
                  "x0", "y0", "x1", "y1"] + [f"votes_{i}" for i in range(len(names))]
        v, g = self.votes, self.geometry
        um2 = self.pixel_size_um ** 2 if self.pixel_size_um else None
        rows = []
        for i in range(len(v)):
            runner = int(v.runner_up[i])
            rows.append([i + 1, int(v.winner[i]), names[int(v.winner[i])],
                         f"{v.share[i]:.4f}", runner, names[runner] if runner >= 0 else "",
                         f"{v.runner_up_share[i]:.4f}", int(v.area[i]),
                         "" if um2 is None else f"{v.area[i] * um2:.4f}",
                         f"{g.centroids[i, 1]:.1f}", f"{g.centroids[i, 0]:.1f}",
                         int(g.boxes[i, 1]), int(g.boxes[i, 0]), int(g.boxes[i, 3]),
                         int(g.boxes[i, 2]), *(int(c) for c in v.votes[i])])
        return header, rows

    def summary(self) -> dict[str, Any]:
        """Counts for the CLI's JSON and the batch table."""
        per_class = np.bincount(self.votes.winner, minlength=len(self.classes))
        areas = np.bincount(self.labels.ravel(), minlength=len(self.classes))[:len(self.classes)]
        return {"height": int(self.labels.shape[0]), "width": int(self.labels.shape[1]),
                "objects": self.n_objects, "object_source": self.object_source,
                "objects_per_class": {n: int(c) for n, c in zip(self.classes.names, per_class,
                                                               strict=True)},
                "area_fraction": {n: round(float(a) / max(1, self.labels.size), 5)
                                  for n, a in zip(self.classes.names, areas, strict=True)},
                "mean_vote_share": float(self.votes.share.mean()) if self.n_objects else None,
                "seconds": round(self.seconds, 2), "tiles": self.tiles,
                "megapixels_per_second": round(self.megapixels_per_second, 3),
                "warnings": list(self.warnings)}


class AnalysisJob:
    """One micrograph's analysis, with the label image it fills as bands finish.

    Parameters
    ----------
    segmenter
        A :class:`~engines.sem.segmenter.SemSegmenter`.
    micrograph
        The image (:class:`~engines.sem.readers.Micrograph`, or an (H, W[, 3]) array).
    mask : (H, W) bool, optional
        Binary object mask; without it objects come from the prediction.
    objects : ((H, W) int32, n), optional
        Objects already labelled (e.g. the truth's, for evaluation); overrides ``mask``.
    window
        Sliding-window settings (default: the segmenter's).
    consumers
        Further band consumers (see :data:`engines.sem.inference.BandConsumer`).
    """

    def __init__(self, segmenter, micrograph: Micrograph | np.ndarray,
                 mask: np.ndarray | None = None, objects: tuple[np.ndarray, int] | None = None,
                 window: SlidingWindowConfig | None = None,
                 consumers: Sequence[BandConsumer] = ()) -> None:
        if isinstance(micrograph, Micrograph):
            self.image, self.source = micrograph.array, micrograph.path
            self.pixel_size_um, self.warnings = micrograph.pixel_size_um, list(micrograph.warnings)
        else:
            self.image, self.source, self.pixel_size_um, self.warnings = micrograph, None, None, []
        shape = tuple(self.image.shape[:2])
        for name, other in (("mask", mask), ("objects", None if objects is None else objects[0])):
            if other is not None and tuple(other.shape) != shape:
                raise InputError(f"the {name} is {other.shape[1]} × {other.shape[0]} px but the "
                                 f"image is {shape[1]} × {shape[0]} px")
        self.segmenter, self.window = segmenter, window or segmenter.sliding_window()
        self.mask, self.given_objects, self.consumers = mask, objects, list(consumers)
        self.labels = np.zeros(shape, dtype=np.uint8)
        self.rows_done = 0

    def run(self) -> Generator[Progress, None, AnalysisResult]:
        """Segment, stitch and max-vote; yields Progress (``tiles_done``, ``tiles``,
        ``rows_done``), returns an :class:`AnalysisResult`."""
        started = time.monotonic()
        n_classes = self.segmenter.n_classes
        consumers = list(self.consumers)
        counter = None
        if self.given_objects is not None:
            objects, n = self.given_objects
            source = "given"
        elif self.mask is not None:
            objects, n = label_objects(self.mask)
            source = "mask"
        if self.given_objects is not None or self.mask is not None:
            counter = VoteCounter(n, n_classes)
            consumers.append(lambda y0, y1, rows: counter.add(objects[y0:y1], rows))
        tiles = 0
        task = iter_segment(self.segmenter, self.image, self.window, consumers, self.labels)
        for report in forward(task, 0.0, 0.95):
            self.rows_done = report.metrics.get("rows_done", self.rows_done)
            tiles = report.metrics.get("tiles", tiles)
            yield report
        self.rows_done = self.labels.shape[0]
        if counter is None:
            yield Progress(0.96, "objects of the prediction")
            objects, n = objects_of_labels(self.labels)
            source = "prediction"
            counter = VoteCounter(n, n_classes)
            counter.add(objects, self.labels)
        yield Progress(0.98, f"max-vote over {n} objects")
        votes = counter.result()
        geometry = object_geometry(objects, n)
        result = AnalysisResult(self.labels, objects, votes, geometry, self.segmenter.classes,
                                source, self.pixel_size_um, self.source,
                                time.monotonic() - started, tiles, self.warnings)
        yield Progress(1.0, f"{n} objects")
        return result


def write_outputs(result: AnalysisResult, out_dir: str | Path, stem: str) -> dict[str, str]:
    """``<stem>_labels.png`` (stitched pixel classes), ``<stem>_objects.png`` (max-vote map),
    both palette PNG with the class colours, and ``<stem>_objects.csv``; returns their paths."""
    from engines.sem.writers import write_label_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    colours = result.classes.colours
    labels = write_label_png(out / f"{stem}_labels.png", result.labels, colours)
    objects = write_label_png(out / f"{stem}_objects.png", result.object_image(), colours)
    header, rows = result.table()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    table = out / f"{stem}_objects.csv"
    atomic_write_bytes(table, buffer.getvalue().encode())
    return {"labels_png": str(labels), "objects_png": str(objects), "objects_csv": str(table)}


def find_mask(image_path: Path) -> Path | None:
    """A mask for ``image_path`` by convention: ``../masks/<stem>.*`` (the data set layout) or
    ``<stem>_mask.*`` beside it."""
    candidates = [image_path.parent.parent / "masks", image_path.parent]
    for folder in candidates:
        if not folder.is_dir():
            continue
        names = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
        for base in ((image_path.stem,) if folder != image_path.parent else ()) + (
                f"{image_path.stem}_mask",):
            for suffix in IMAGE_SUFFIXES:
                hit = names.get(f"{base}{suffix}".lower())
                if hit is not None and hit != image_path:
                    return hit
    return None


def read_with_mask(image_path: str | Path, mask_path: str | Path | None = None,
                   crop_bottom: int = 0) -> tuple[Micrograph, np.ndarray | None, Path | None]:
    """A micrograph and its object mask, aligned: ``(micrograph, mask or None, mask file)``.

    ``mask_path`` None looks for one by :func:`find_mask`; give ``""`` for none. A mask
    shorter than the image crops the image (a data bar); mask rows below the image that hold
    no object are dropped.
    """
    from engines.sem.labels import read_mask
    from engines.sem.readers import crop_rows, read_micrograph

    image_path = Path(image_path)
    micrograph = read_micrograph(image_path, crop_bottom)
    mask_file = find_mask(image_path) if mask_path is None else (Path(mask_path) if mask_path
                                                                 else None)
    mask = None
    if mask_file is not None:
        mask, notes = read_mask(mask_file)
        micrograph.warnings.extend(notes)
        if mask.shape[1] == micrograph.shape[1] and mask.shape[0] < micrograph.shape[0]:
            crop_rows(micrograph, mask.shape[0], f"the mask {mask_file.name} is shorter")
        mask = mask[:micrograph.shape[0]] if mask.shape[0] > micrograph.shape[0] and \
            mask[micrograph.shape[0]:].sum() == 0 else mask
    return micrograph, mask, mask_file


def iter_analyze_file(segmenter, image_path: str | Path, out_dir: str | Path,
                      mask_path: str | Path | None = None,
                      window: SlidingWindowConfig | None = None, crop_bottom: int = 0
                      ) -> Generator[Progress, None, dict[str, Any]]:
    """Read, analyze and write the outputs of one micrograph (``sem analyze``, ``sem batch``).

    ``mask_path``: as :func:`read_with_mask`. Returns the summary plus the output paths, the
    mask used and the image's name.
    """
    image_path = Path(image_path)
    micrograph, mask, mask_file = read_with_mask(image_path, mask_path, crop_bottom)
    job = AnalysisJob(segmenter, micrograph, mask, window=window)
    result = yield from job.run()
    paths = write_outputs(result, out_dir, image_path.stem)
    return {"image": image_path.name, "mask": None if mask_file is None else str(mask_file),
            **result.summary(), **paths}
