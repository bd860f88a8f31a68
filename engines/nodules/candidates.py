"""Candidates as review items, reviewed items as LUNA16 files.

A 3-D candidate becomes a :class:`~engines.core.review_items.ReviewItem` with

* ``box`` — the sphere's square in-plane and the slices it spans, ``(z0, y0, x0, z1, y1, x1)``
  voxel-edge units of the scan in the axial LPS orientation (:mod:`engines.nodules.scan`);
* ``world_xyz`` — its centre (mm), ``size_mm`` — (diameter, diameter, slice span in mm);
* ``score`` — its probability; ``extras`` — ``diameter_mm``, ``z0``, ``z1`` (slice range,
  end exclusive), ``slices``, ``elongation``, ``shell``, ``candidate`` (its rank).

After a review the *box* is the truth: a moved or resized box (edited with
:func:`geometry_fields`), or one drawn for a missed nodule (:func:`drawn_item`), takes its
centre from :func:`engines.core.review_items.box_world` and its diameter as the mean in-plane
side.
:func:`reviewed_annotations` turns accepted items into annotations.csv rows,
:func:`submission` candidates into a LUNA16 submission.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from engines.core.froc import Findings
from engines.core.review_items import Box, ItemState, ReviewItem, box_world
from engines.imaging.volume import Volume
from engines.nodules.linking import Candidate
from engines.nodules.luna16 import write_annotations, write_submission

CLASS_NAMES = ("nodule",)
REVIEW_KIND = "lablens.nodules.review"


def candidate_item(candidate: Candidate, volume: Volume, item_id: int | None = None
                   ) -> ReviewItem:
    """The review item of a candidate (module docstring); ``item_id`` defaults to its rank."""
    box = candidate.box(volume.spacing_xyz)
    span = candidate.slice_range
    extras = {"diameter_mm": round(candidate.diameter_mm, 3), "z0": span.start,
              "z1": span.stop, "slices": len(candidate.z), "candidate": candidate.id}
    extras.update({k: round(float(v), 4) for k, v in candidate.checks.items()
                   if k in ("elongation", "shell")})
    return ReviewItem(candidate.id if item_id is None else item_id, 0,
                      score=candidate.probability, box=box, world_xyz=candidate.world_xyz,
                      size_mm=(candidate.diameter_mm, candidate.diameter_mm,
                               (span.stop - span.start) * volume.spacing_xyz[2]),
                      extras=extras)


def review_items(detections, threshold: float | None = None) -> list[ReviewItem]:
    """Items of a scan's candidates at or above ``threshold`` (default: the detections'
    threshold), ids = ranks."""
    volume = detections.scan.volume
    return [candidate_item(c, volume) for c in detections.above(threshold)]


def drawn_item(volume: Volume, item_id: int, box: Box,
               state: ItemState = ItemState.ACCEPTED, score: float | None = None) -> ReviewItem:
    """An item for a box the reviewer drew (``D``): its world centre and size from the box."""
    fields = geometry_fields(volume, box)
    diameter = (fields["size_mm"][0] + fields["size_mm"][1]) / 2
    return ReviewItem(item_id, 0, state=state, reviewed=True, score=score, **fields,
                      extras={"diameter_mm": round(diameter, 3), "z0": int(np.floor(box[0])),
                              "z1": int(np.ceil(box[3])), "drawn": True})


def geometry_fields(volume: Volume, box: Box) -> dict:
    """``box``, ``world_xyz`` and ``size_mm`` of a moved or resized box, for
    :class:`engines.core.review_commands.EditGeometry` (``EditGeometry(id, **fields)``), so the
    item's world centre and size follow its box."""
    world, size = box_world(box, volume)
    return {"box": tuple(float(v) for v in box), "world_xyz": world, "size_mm": size}


def item_geometry(item: ReviewItem, volume: Volume) -> tuple[tuple[float, float, float], float]:
    """World centre (mm) and diameter (mm, mean in-plane size) of an item: its ``world_xyz``
    and ``size_mm`` (kept in step with the box by :func:`geometry_fields`), else its box."""
    if item.world_xyz is not None and item.size_mm is not None:
        return item.world_xyz, (item.size_mm[0] + item.size_mm[1]) / 2
    if item.box is None:
        raise ValueError(f"item {item.id} has neither a box nor a world position")
    world, size = box_world(item.box, volume)
    return world, (size[0] + size[1]) / 2


def _findings(items: Sequence[ReviewItem], volume: Volume, seriesuid: str,
              probability: bool) -> Findings:
    geometry = [item_geometry(item, volume) for item in items]
    return Findings(np.full(len(items), seriesuid, dtype=object),
                    np.array([g[0] for g in geometry]).reshape(-1, 3),
                    np.array([g[1] for g in geometry]),
                    np.array([item.score if item.score is not None else 1.0 for item in items])
                    if probability else None)


def reviewed_annotations(items: Iterable[ReviewItem], volume: Volume, seriesuid: str,
                         states: tuple[ItemState, ...] = (ItemState.ACCEPTED,)) -> Findings:
    """annotations.csv rows (world mm, diameter_mm) of the items in ``states``."""
    chosen = [item for item in items if item.state in states]
    return _findings(chosen, volume, seriesuid, probability=False)


def export_annotations(path: str | Path, items: Iterable[ReviewItem], volume: Volume,
                       seriesuid: str,
                       states: tuple[ItemState, ...] = (ItemState.ACCEPTED,)) -> Path:
    """Write the reviewed nodules as ``annotations.csv``."""
    return write_annotations(path, reviewed_annotations(items, volume, seriesuid, states))


def submission(items: Iterable[ReviewItem], volume: Volume, seriesuid: str,
               skip: tuple[ItemState, ...] = (ItemState.REJECTED,)) -> Findings:
    """LUNA16 submission rows (with diameter) of the items not in ``skip``."""
    chosen = [item for item in items if item.state not in skip]
    return _findings(chosen, volume, seriesuid, probability=True)


def export_submission(path: str | Path, findings: Findings) -> Path:
    """Write a LUNA16 submission CSV (seriesuid, coordX, coordY, coordZ, probability,
    diameter_mm) — of ``detections.findings(threshold)`` or of :func:`submission`."""
    return write_submission(path, findings)


def open_review_document(detections, source: str | Path, threshold: float | None = None):
    """The review of a scan: restored from its autosave sidecar beside ``source`` when there is
    one, else started from the candidates at ``threshold``
    (:func:`engines.core.autosave.open_review`; returns its ``RestoreResult``)."""
    from engines.core.autosave import open_review

    return open_review(source, CLASS_NAMES, review_items(detections, threshold),
                       kind=REVIEW_KIND,
                       meta={"seriesuid": detections.seriesuid,
                             "threshold": detections.threshold if threshold is None
                             else threshold})


def restore_review(source: str | Path):
    """The autosaved review of ``source`` (a scan file or DICOM folder) when a sidecar is
    beside it, else None; reopening a scan shows its review before any Analyze
    (:func:`engines.core.autosave.open_review`'s ``RestoreResult``)."""
    from engines.core.autosave import open_review, sidecar_path

    if not sidecar_path(source).is_file():
        return None
    return open_review(source, CLASS_NAMES, [], kind=REVIEW_KIND)
