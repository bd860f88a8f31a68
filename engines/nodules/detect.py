"""Detection on a whole scan: every lung slice → 2-D boxes → linked 3-D candidates.

:func:`iter_detect` (a generator for the task runner; :func:`detect_scan` blocks):

1. the lung mask (:mod:`engines.nodules.lungs`) gives the slices and the in-plane crop to look
   at;
2. slices are streamed in batches: the 2.5-D stack (:mod:`engines.nodules.preprocess`), the
   SSD, boxes back to voxel units; a box is kept when enough of it lies in the lungs. Each
   batch yields a :class:`~engines.core.progress.Progress` carrying that batch's boxes
   (``z``, ``boxes``, ``scores``) so a viewer can draw them while the scan runs; memory
   stays at one batch of images whatever the number of slices;
3. boxes scoring at least ``link_threshold`` are linked into tracks and measured
   (:mod:`engines.nodules.linking`); tracks failing the vessel rules go, and so do those
   whose dense tissue runs on through the 3-D shell check (:mod:`engines.nodules.shape`);
4. the candidates are ranked by probability and capped at ``max_candidates``.

The result, :class:`ScanDetections`, keeps every slice box above the detector's floor and every
candidate, so a score threshold can be moved afterwards without running the network again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from engines.core.config import from_json, param, validate
from engines.core.froc import Findings
from engines.core.progress import Progress, TaskGenerator, drive
from engines.nodules.linking import Candidate, link_tracks, measure_track, passes_shape_rules
from engines.nodules.lungs import LungMask, LungMaskConfig, lung_mask
from engines.nodules.model import NoduleDetector
from engines.nodules.preprocess import plane_map, stack_slices
from engines.nodules.scan import Scan
from engines.nodules.shape import shell_fraction


def _threshold(label: str, help: str):
    return param(None, label=label, range=(0.0, 1.0), step=0.01, decimals=3, help=help)


@dataclass(frozen=True)
class DetectConfig:
    """How slice boxes become 3-D candidates."""

    threshold: float | None = _threshold("Candidate threshold",
                                         "candidates below are not reported; default: the "
                                         "model's")
    slice_threshold: float | None = _threshold("Slice threshold",
                                               "2-D boxes below are not shown or counted; "
                                               "default: the model's")
    link_threshold: float = param(0.2, label="Linking threshold", range=(0.0, 1.0),
                                  step=0.05, decimals=2,
                                  help="slice boxes from this score on are linked into 3-D")
    lung_mask: bool = param(True, label="Lung mask",
                            help="keep only boxes lying (partly) in the lungs")
    lung_overlap: float = param(0.2, label="Lung overlap", range=(0.0, 1.0), step=0.05,
                                decimals=2, help="share of a box that must lie in the lungs")
    max_gap: int = param(1, label="Slice gap", range=(0, 5),
                         help="slices a track may skip")
    link_distance: float = param(0.5, label="Linking distance", range=(0.05, 2.0), step=0.05,
                                 decimals=2, help="largest centre shift between linked boxes, "
                                                  "in box sides")
    max_elongation: float = param(1.2, label="Longest in z", range=(0.5, 20.0), step=0.1,
                                  decimals=1, help="a candidate longer in z than this × its "
                                                   "diameter is a vessel (a sphere: ≤ 0.87)")
    min_span: float = param(0.35, label="Shortest in z", range=(0.0, 1.0), step=0.05,
                            decimals=2, help="share of the slices its diameter implies (at "
                                             "most 3) that a candidate must span")
    max_shell: float = param(0.35, label="3-D shell check", range=(0.0, 1.0), step=0.05,
                             decimals=2, help="largest share of the surrounding shell its "
                                              "tissue may run into; 1 = off")
    min_diameter_mm: float = param(2.5, label="Smallest nodule", unit="mm", range=(0.0, 50.0))
    max_diameter_mm: float = param(40.0, label="Largest nodule", unit="mm", range=(1.0, 200.0))
    max_candidates: int = param(30, label="Candidates per scan", range=(1, 1000))
    batch_size: int = param(8, label="Batch size", range=(1, 256), cli=False)

    def __post_init__(self) -> None:
        validate(self)


def detect_config_for(model: NoduleDetector, **changes) -> DetectConfig:
    """The detection settings the model was validated with, with ``changes``."""
    base = from_json(DetectConfig, model.detect_settings, "detection settings") \
        if model.detect_settings else DetectConfig()
    return replace(base, **changes)


@dataclass(frozen=True)
class SliceDetections:
    """2-D boxes of a scan: ``z`` (n,) slices, ``boxes`` (n, 4) x0, y0, x1, y1 voxel-edge
    units, ``scores`` (n,)."""

    z: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.z)

    def above(self, threshold: float) -> SliceDetections:
        keep = self.scores >= threshold
        return SliceDetections(self.z[keep], self.boxes[keep], self.scores[keep])

    def on_slice(self, z: int, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (k, 4) and scores (k,) of slice ``z`` at or above ``threshold``."""
        keep = (self.z == z) & (self.scores >= threshold)
        return self.boxes[keep], self.scores[keep]

    @staticmethod
    def concat(parts: list[SliceDetections]) -> SliceDetections:
        if not parts:
            return SliceDetections(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))
        return SliceDetections(np.concatenate([p.z for p in parts]).astype(np.int64),
                               np.concatenate([p.boxes for p in parts]).reshape(-1, 4),
                               np.concatenate([p.scores for p in parts]))


@dataclass
class ScanDetections:
    """What :func:`iter_detect` found in one scan.

    Attributes
    ----------
    seriesuid : str
    scan : Scan
        The scan (its volume gives the geometry of every box).
    slices : SliceDetections
        Every 2-D box above the detector's floor, in the lungs.
    candidates : list of Candidate
        By decreasing probability (ids 1, 2, ...), at most ``max_candidates``; not thresholded.
    slice_threshold, threshold : float
        The thresholds in force (the model's unless the configuration set them).
    lungs : LungMask
    rejected : dict
        Tracks dropped by each rule (``elongated``, ``too_short``, ``size``, ``shell``, ``cap``).
    """

    seriesuid: str
    scan: Scan
    slices: SliceDetections
    candidates: list[Candidate]
    slice_threshold: float
    threshold: float
    lungs: LungMask
    rejected: dict[str, int] = field(default_factory=dict)

    def above(self, threshold: float | None = None) -> list[Candidate]:
        """Candidates at or above ``threshold`` (default: :attr:`threshold`)."""
        cut = self.threshold if threshold is None else threshold
        return [c for c in self.candidates if c.probability >= cut]

    def findings(self, threshold: float | None = None) -> Findings:
        """The candidates as LUNA16 findings (world mm, diameter, probability): all of them
        when ``threshold`` is None (what the FROC needs), else those at or above it."""
        chosen = self.candidates if threshold is None else self.above(threshold)
        return Findings(np.full(len(chosen), self.seriesuid, dtype=object),
                        np.array([c.world_xyz for c in chosen]).reshape(-1, 3),
                        np.array([c.diameter_mm for c in chosen]),
                        np.array([c.probability for c in chosen]))

    def summary(self) -> dict:
        shown = self.above()
        return {"seriesuid": self.seriesuid, "slices": self.scan.shape[0],
                "slice_boxes": int((self.slices.scores >= self.slice_threshold).sum()),
                "candidates": len(shown), "threshold": self.threshold,
                "lungs_found": self.lungs.found,
                "lung_volume_ml": round(self.lungs.volume_ml, 1),
                "best_probability": max((c.probability for c in self.candidates),
                                        default=0.0), "rejected": dict(self.rejected)}


def _no_mask(scan: Scan) -> LungMask:
    return LungMask(np.ones((1, 1, 1), bool), scan.shape, scan.shape, False)


def iter_detect(model: NoduleDetector, scan: Scan, config: DetectConfig | None = None,
                lung_config: LungMaskConfig | None = None
                ) -> TaskGenerator[ScanDetections]:
    """Detect nodules in ``scan`` (module docstring); yields Progress per batch of slices
    (metrics ``z`` (k,), ``boxes`` (k, 4), ``scores`` (k,) of the batch), returns
    :class:`ScanDetections`."""
    config = config or detect_config_for(model)
    volume = scan.volume
    yield Progress(0.0, "lung mask")
    lungs = lung_mask(volume, replace(lung_config or LungMaskConfig(),
                                      min_overlap=config.lung_overlap)) \
        if config.lung_mask else _no_mask(scan)
    preprocess = model.preprocess
    sx, sy, sz = volume.spacing_xyz
    margin = int(np.ceil(10.0 / min(sx, sy)))
    zs = np.asarray(lungs.slice_range(margin=2), dtype=np.int64)
    geometry = plane_map(volume.shape[1:], (sy, sx), preprocess.pixel_mm,
                         lungs.bounds(margin))
    offset = preprocess.neighbour_offset(sz)
    parts = []
    step = config.batch_size
    for start in range(0, len(zs), step):
        batch = zs[start:start + step]
        images = stack_slices(volume.array, batch, offset, geometry, preprocess.hu_window)
        found = model.predict(images, step)
        part = []
        for z, rows in zip(batch, found, strict=True):
            boxes = geometry.to_voxel(rows[:, :4])
            boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, volume.shape[2])
            boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, volume.shape[1])
            keep = lungs.box_overlap(int(z), boxes) >= config.lung_overlap
            part.append(SliceDetections(np.full(int(keep.sum()), z), boxes[keep],
                                        rows[keep, 4].astype(np.float64)))
        done = SliceDetections.concat(part)
        parts.append(done)
        yield Progress(0.02 + 0.93 * (start + len(batch)) / max(len(zs), 1),
                       f"slice {start + len(batch)}/{len(zs)}", z=done.z, boxes=done.boxes,
                       scores=done.scores)
    slices = SliceDetections.concat(parts)
    yield Progress(0.96, "linking slices")
    candidates, rejected = link_candidates(scan, slices, lungs, config)
    return ScanDetections(scan.seriesuid, scan, slices, candidates,
                          model.slice_threshold if config.slice_threshold is None
                          else config.slice_threshold,
                          model.threshold if config.threshold is None else config.threshold,
                          lungs, rejected)


def link_candidates(scan: Scan, slices: SliceDetections, lungs: LungMask,
                    config: DetectConfig) -> tuple[list[Candidate], dict[str, int]]:
    """Steps 3–4 of the module docstring: ranked candidates and what each rule rejected."""
    volume = scan.volume
    linked = slices.above(config.link_threshold)
    rejected = {"elongated_or_short": 0, "size": 0, "shell": 0, "cap": 0}
    kept = []
    for rows in link_tracks(linked.z, linked.boxes, linked.scores, config.max_gap,
                            config.link_distance):
        candidate = measure_track(volume, linked.z[rows], linked.boxes[rows],
                                  linked.scores[rows])
        if not passes_shape_rules(candidate, config.max_elongation, config.min_span):
            rejected["elongated_or_short"] += 1
            continue
        if not config.min_diameter_mm <= candidate.diameter_mm <= config.max_diameter_mm:
            rejected["size"] += 1
            continue
        kept.append(candidate)
    kept.sort(key=lambda c: -c.probability)
    checked = []
    for candidate in kept:
        if len(checked) >= config.max_candidates:
            rejected["cap"] += 1
            continue
        if config.max_shell < 1.0:
            shell = shell_fraction(volume, lungs, candidate.centre_zyx, candidate.diameter_mm)
            candidate.checks["shell"] = shell
            if shell > config.max_shell:
                rejected["shell"] += 1
                continue
        checked.append(candidate)
    for rank, candidate in enumerate(checked, start=1):
        candidate.id = rank
    return checked, rejected


def detect_scan(model: NoduleDetector, scan: Scan, config: DetectConfig | None = None
                ) -> ScanDetections:
    """:func:`iter_detect` without progress."""
    return drive(iter_detect(model, scan, config))
