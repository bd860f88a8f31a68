"""The classical peer: nodule CAD as it was done before deep learning.

1. The lungs (:func:`engines.nodules.lungs.lung_mask`, holes filled, no margin).
2. Dense voxels in the lungs: above ``dense_hu`` (−400 HU: vessels, solid nodules; most
   ground-glass is fainter and is missed, as it was by such systems).
3. A morphological opening with a ball of ``opening_mm`` cuts thin vessels off nodules.
4. 3-D connected components, each measured by its volume V (equivalent diameter
   ``(6V/π)^⅓``) and the eigenvalues of its voxels' covariance in mm (elongation
   ``sqrt(λmax / λmin)``; a sphere gives 1, a vessel ≫ 1).
5. Components of 3–30 mm and elongation ≤ ``max_elongation`` are candidates, scored
   ``1 / elongation × min(1, fill)`` where fill is V over the volume of the ellipsoid with the
   same second moments (a compact blob ≈ 1).

Nodules on the pleura are cut off by the lung mask and missed; nodules touching thick vessels
merge with them. Those were the known weaknesses of this approach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.config import param, validate
from engines.core.froc import Findings
from engines.core.progress import Progress, TaskGenerator
from engines.nodules.lungs import LungMaskConfig, lung_mask
from engines.nodules.scan import Scan


@dataclass(frozen=True)
class PeerConfig:
    """Settings of the classical CAD."""

    dense_hu: float = param(-400.0, label="Dense threshold", unit="HU", range=(-900.0, 500.0))
    opening_mm: float = param(1.0, label="Opening radius", unit="mm", range=(0.0, 5.0))
    min_diameter_mm: float = param(3.0, label="Smallest", unit="mm", range=(0.5, 50.0))
    max_diameter_mm: float = param(30.0, label="Largest", unit="mm", range=(1.0, 100.0))
    max_elongation: float = param(2.5, label="Most elongated", range=(1.0, 20.0))

    def __post_init__(self) -> None:
        validate(self)


def _ball(radius_mm: float, spacing_zyx: tuple[float, float, float]) -> np.ndarray | None:
    reach = [int(np.floor(radius_mm / s)) for s in spacing_zyx]
    if max(reach) < 1:
        return None
    grid = np.ogrid[tuple(slice(-r, r + 1) for r in reach)]
    return sum((g * s / radius_mm) ** 2 for g, s in zip(grid, spacing_zyx, strict=True)) <= 1.0


def iter_peer(scan: Scan, config: PeerConfig | None = None) -> TaskGenerator[Findings]:
    """Candidates of the classical CAD (module docstring) as LUNA16 findings (world mm,
    diameter, probability); yields Progress."""
    from scipy import ndimage

    config = config or PeerConfig()
    volume = scan.volume
    yield Progress(0.0, "lung mask")
    lungs = lung_mask(volume, LungMaskConfig(margin_mm=0.0))
    empty = Findings(np.zeros(0, dtype=object), np.zeros((0, 3)), np.zeros(0), np.zeros(0))
    if not lungs.found:
        return empty
    zr = lungs.slice_range()
    y0, x0, y1, x1 = lungs.bounds()
    block = (slice(zr.start, zr.stop), slice(y0, y1), slice(x0, x1))
    dense = (volume.array[block] > config.dense_hu) & lungs.region(*block)
    yield Progress(0.3, "opening")
    ball = _ball(config.opening_mm, volume.spacing_zyx)
    if ball is not None:
        dense = ndimage.binary_opening(dense, structure=ball)
    yield Progress(0.6, "components")
    labels, count = ndimage.label(dense)
    if count == 0:
        return empty
    spacing = np.asarray(volume.spacing_zyx)
    index = np.arange(1, count + 1)
    voxels = ndimage.sum_labels(np.ones(labels.shape, np.float32), labels, index)
    coords = [np.arange(n, dtype=np.float64) * s for n, s in zip(labels.shape, spacing,
                                                                 strict=True)]
    grids = np.meshgrid(*coords, indexing="ij", sparse=True)
    first = [ndimage.sum_labels(np.broadcast_to(g, labels.shape), labels, index) / voxels
             for g in grids]
    second = np.zeros((count, 3, 3))
    for a in range(3):
        for b in range(a, 3):
            product = np.broadcast_to(grids[a] * grids[b], labels.shape)
            moment = ndimage.sum_labels(product, labels, index) / voxels - first[a] * first[b]
            second[:, a, b] = second[:, b, a] = moment
    eigen = np.clip(np.linalg.eigvalsh(second), 1e-6, None)
    volume_mm3 = voxels * float(np.prod(spacing))
    diameter = (6.0 * volume_mm3 / np.pi) ** (1.0 / 3.0)
    elongation = np.sqrt(eigen[:, 2] / eigen[:, 0])
    ellipsoid = 4.0 / 3.0 * np.pi * np.sqrt(np.prod(5.0 * eigen, axis=1))
    fill = np.minimum(1.0, volume_mm3 / np.maximum(ellipsoid, 1e-9))
    keep = ((diameter >= config.min_diameter_mm) & (diameter <= config.max_diameter_mm)
            & (elongation <= config.max_elongation))
    start = np.array([zr.start, y0, x0], dtype=np.float64)
    centres = np.column_stack([f / s for f, s in zip(first, spacing, strict=True)]) + start
    world = volume.voxel_to_world(centres[keep])
    yield Progress(1.0, f"{int(keep.sum())} candidates")
    return Findings(np.full(int(keep.sum()), scan.seriesuid, dtype=object),
                    world.reshape(-1, 3), diameter[keep], (fill / elongation)[keep])


def iter_evaluate_peer(dataset, config: PeerConfig | None = None, entries=None,
                       bootstrap: int = 1000):
    """The peer's :class:`~engines.nodules.evaluation.Evaluation` on a dataset (FROC, CPM,
    sensitivity by size over all its candidates; it has no slice boxes); yields Progress."""
    from engines.core.box_metrics import DetectionCounts
    from engines.core.progress import forward
    from engines.nodules.evaluation import ScanOutcome, summarise
    from engines.nodules.scan import open_scan

    entries = list(dataset.scans if entries is None else entries)
    outcomes = []
    for i, entry in enumerate(entries):
        scan = open_scan(entry.path, entry.series_uid)
        found = yield from forward(iter_peer(scan, config), i / len(entries), 1 / len(entries),
                                   f"scan {i + 1}/{len(entries)}: ")
        excluded = (dataset.nodules_of(scan.seriesuid, excluded=True)
                    if dataset.excluded is not None else None)
        outcomes.append(ScanOutcome(scan.seriesuid, DetectionCounts(0, 0, 0), found,
                                    dataset.nodules_of(scan.seriesuid), excluded))
    return summarise(outcomes, 0.0, None, bootstrap)
