"""Ground-truth boxes on axial slices from LUNA16 spheres, and boxes between voxels and mm.

LUNA16 gives a nodule as a world centre (x, y, z mm) and a diameter. On an axial slice ``k``
its truth is the circle where that slice's plane cuts the sphere: at the distance
``d = |k − z_c| · Δz`` from the centre the circle has the radius ``sqrt(R² − d²)``, centred
where the sphere's centre projects on the slice. The box of a slice is that circle's bounding
box, in voxel-edge units (voxel ``i`` spans ``[i, i + 1)``), as ``(x0, y0, x1, y1)`` like
:mod:`engines.core.box_metrics`.

Slices that only graze a sphere give tiny circles nobody would draw (and no detector could hit
at IoU 0.5): a cut narrower than :attr:`TruthConfig.min_fraction` of the diameter, or than
:attr:`TruthConfig.min_mm`, is an *ignored* box — neither a miss when nothing is found there
nor a false positive when something is. Excluded findings (annotations_excluded.csv) are
ignored on every slice they cut.

Everything here expects a scan in the axial LPS orientation (:func:`engines.nodules.scan.axial_lps`),
where slices are perpendicular to the index z axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.config import param, validate
from engines.imaging.volume import Volume


@dataclass(frozen=True)
class TruthConfig:
    """Which slice cuts of a nodule's sphere count as ground truth."""

    min_fraction: float = param(0.5, label="Smallest counted cut", range=(0.0, 1.0), step=0.05,
                                decimals=2, help="a slice's circle narrower than this share of "
                                                 "the nodule diameter is ignored (not counted "
                                                 "as missed or as false)")
    min_mm: float = param(2.0, label="Smallest counted box", unit="mm", range=(0.0, 30.0),
                          step=0.5, decimals=1, help="circles narrower than this are ignored")

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class SliceBoxes:
    """Boxes on axial slices of one scan.

    Attributes
    ----------
    z : (n,) int64
        Slice index of each box.
    boxes : (n, 4) float64
        ``x0, y0, x1, y1`` in voxel-edge units of the slice.
    nodule : (n,) int64
        Row of the nodule (annotation) each box comes from.
    counted : (n,) bool
        True for counted truth, False for ignored boxes (grazing cuts, excluded findings).
    diameter_mm : (n,) float64
        Diameter of the cut circle (mm).
    """

    z: np.ndarray
    boxes: np.ndarray
    nodule: np.ndarray
    counted: np.ndarray
    diameter_mm: np.ndarray

    def __len__(self) -> int:
        return len(self.z)

    def on_slice(self, z: int, counted: bool | None = True) -> np.ndarray:
        """Boxes (k, 4) on slice ``z``: counted ones, ignored ones (False) or all (None)."""
        keep = self.z == z
        if counted is not None:
            keep &= self.counted == counted
        return self.boxes[keep]

    def subset(self, keep: np.ndarray) -> SliceBoxes:
        return SliceBoxes(self.z[keep], self.boxes[keep], self.nodule[keep], self.counted[keep],
                          self.diameter_mm[keep])

    @staticmethod
    def empty() -> SliceBoxes:
        return SliceBoxes(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64),
                          np.zeros(0, bool), np.zeros(0))


def sphere_cuts(volume: Volume, centre_xyz: np.ndarray, diameter_mm: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slices a sphere cuts, and the circles there.

    Parameters
    ----------
    centre_xyz : (3,) float
        World centre, mm.
    diameter_mm : float

    Returns
    -------
    z : (k,) int64
        Slices inside the volume whose plane lies strictly within the radius of the centre.
    boxes : (k, 4) float64
        Bounding boxes of the circles, ``x0, y0, x1, y1`` voxel-edge units (may extend past the
        slice edge when the nodule does).
    cut_mm : (k,) float64
        Circle diameters, mm.
    """
    zc, yc, xc = volume.world_to_voxel(np.asarray(centre_xyz, dtype=np.float64))
    sx, sy, sz = volume.spacing_xyz
    radius = diameter_mm / 2.0
    reach = radius / sz
    z = np.arange(int(np.floor(zc - reach)), int(np.ceil(zc + reach)) + 1)
    z = z[(z >= 0) & (z < volume.shape[0])]
    d = (z - zc) * sz
    inside = np.abs(d) < radius
    z, d = z[inside], d[inside]
    r = np.sqrt(radius ** 2 - d ** 2)
    boxes = np.column_stack([xc + 0.5 - r / sx, yc + 0.5 - r / sy,
                             xc + 0.5 + r / sx, yc + 0.5 + r / sy])
    return z.astype(np.int64), boxes, 2.0 * r


def slice_truth(volume: Volume, centres_xyz: np.ndarray, diameters_mm: np.ndarray,
                config: TruthConfig | None = None, excluded_xyz: np.ndarray | None = None,
                excluded_diameters_mm: np.ndarray | None = None) -> SliceBoxes:
    """The ground-truth boxes of every slice of a scan (module docstring).

    Parameters
    ----------
    centres_xyz : (n, 3) float
        Nodule centres (world mm) of this scan; ``diameters_mm`` (n,).
    excluded_xyz, excluded_diameters_mm
        Excluded findings: every cut is an ignored box (``nodule`` = -1 - row).
    """
    config = config or TruthConfig()
    parts = []
    findings = [(np.reshape(centres_xyz, (-1, 3)), np.ravel(diameters_mm), False)]
    if excluded_xyz is not None and len(excluded_xyz):
        findings.append((np.reshape(excluded_xyz, (-1, 3)), np.ravel(excluded_diameters_mm),
                         True))
    for centres, diameters, excluded in findings:
        for row, (centre, diameter) in enumerate(zip(centres, diameters, strict=True)):
            z, boxes, cut = sphere_cuts(volume, centre, float(diameter))
            counted = ((cut >= config.min_fraction * diameter) & (cut >= config.min_mm)
                       & (not excluded))
            index = -1 - row if excluded else row
            parts.append((z, boxes, np.full(len(z), index), counted, cut))
    if not parts or not sum(len(p[0]) for p in parts):
        return SliceBoxes.empty()
    z, boxes, nodule, counted, cut = (np.concatenate(column) for column in zip(*parts,
                                                                              strict=True))
    return SliceBoxes(z.astype(np.int64), boxes.reshape(-1, 4), nodule.astype(np.int64),
                      counted.astype(bool), cut)


def box_centres(boxes: np.ndarray) -> np.ndarray:
    """Centres ``(n, 2)`` as x, y of boxes ``(n, 4)``."""
    boxes = np.reshape(boxes, (-1, 4))
    return np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])


def centres_inside(points_xy: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``(n,)`` bool: point ``i`` lies inside the circle inscribed in any of ``boxes``."""
    points = np.reshape(points_xy, (-1, 2))
    boxes = np.reshape(boxes, (-1, 4))
    if not len(points) or not len(boxes):
        return np.zeros(len(points), bool)
    centre = box_centres(boxes)
    half = np.column_stack([(boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2])
    offset = (points[:, None, :] - centre[None]) / np.maximum(half[None], 1e-9)
    return np.any((offset ** 2).sum(axis=-1) <= 1.0, axis=1)


def box_diameter_mm(boxes: np.ndarray, spacing_xyz: tuple[float, float, float]) -> np.ndarray:
    """Mean in-plane side of boxes ``(n, 4)`` (voxel units), mm."""
    boxes = np.reshape(boxes, (-1, 4))
    return ((boxes[:, 2] - boxes[:, 0]) * spacing_xyz[0]
            + (boxes[:, 3] - boxes[:, 1]) * spacing_xyz[1]) / 2.0
