"""A lung mask by threshold and connected components, to keep detections inside the lungs.

The classic recipe, on a coarse copy of the scan (about 2 mm voxels, taken by striding, so
even a 600-slice scan costs a few million voxels):

1. air = voxels below ``air_hu`` (−400 HU; lung parenchyma is about −850, soft tissue > −100);
2. 3-D connected components of air; those touching the in-plane border of the image are the
   air around the patient (and the padding outside the scanner's field of view) and go;
3. of the rest, the largest and every one at least ``min_share`` of its size and
   ``min_volume_ml`` big are the lungs (with the trachea and main bronchi); bowel and stomach
   gas are smaller and go;
4. holes are filled slice by slice, so vessels and nodules inside the lung belong to it;
5. the mask is dilated by ``margin_mm``.

A nodule on the pleura makes a dent in the mask, not a hole, so a detection is kept when at
least ``min_overlap`` of its box lies in the mask (:meth:`LungMask.box_overlap`), not by
its centre. When no lung is found (a phantom, a scan cut through the lungs) the mask is
``found = False`` and keeps everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.config import param, validate
from engines.imaging.volume import Volume


@dataclass(frozen=True)
class LungMaskConfig:
    """Settings of :func:`lung_mask`."""

    air_hu: float = param(-400.0, label="Air threshold", unit="HU", range=(-1000.0, 0.0),
                          help="voxels below are air (lung)")
    voxel_mm: float = param(2.0, label="Mask voxel", unit="mm", range=(0.5, 8.0),
                            help="the mask is computed on a grid about this coarse")
    min_volume_ml: float = param(30.0, label="Smallest lung", unit="mL", range=(0.0, 5000.0))
    min_share: float = param(0.1, label="Smallest lung share", range=(0.0, 1.0),
                             help="a second air region must be at least this share of the "
                                  "largest to count as lung")
    margin_mm: float = param(3.0, label="Margin", unit="mm", range=(0.0, 30.0),
                             help="the mask is grown by this much")
    min_overlap: float = param(0.2, label="Box overlap", range=(0.0, 1.0),
                               help="a detection is kept when this share of its box lies in "
                                    "the lung mask")

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class LungMask:
    """The lungs of one scan on a coarse grid.

    Attributes
    ----------
    mask : (mz, my, mx) bool
        Lung (dilated) on the coarse grid; coarse voxel ``[a, b, c]`` covers full voxels
        ``[a·sz, (a+1)·sz) × [b·sy, …) × [c·sx, …)``.
    step : (sz, sy, sx) int
        Strides of the coarse grid.
    shape : (nz, ny, nx)
        The scan's shape.
    found : bool
        False when no lung was found (then every query says "inside").
    volume_ml : float
        Lung volume before the margin.
    """

    mask: np.ndarray
    step: tuple[int, int, int]
    shape: tuple[int, int, int]
    found: bool
    volume_ml: float = 0.0

    def slice_range(self, margin: int = 0) -> range:
        """Slices (full resolution) that hold lung, widened by ``margin`` slices."""
        if not self.found:
            return range(self.shape[0])
        rows = np.flatnonzero(self.mask.any(axis=(1, 2)))
        z0 = max(int(rows[0]) * self.step[0] - margin, 0)
        z1 = min((int(rows[-1]) + 1) * self.step[0] + margin, self.shape[0])
        return range(z0, z1)

    def bounds(self, margin: int = 0) -> tuple[int, int, int, int]:
        """In-plane bounding box ``(y0, x0, y1, x1)`` of the lungs (full-resolution voxels)."""
        ny, nx = self.shape[1:]
        if not self.found:
            return 0, 0, ny, nx
        ys = np.flatnonzero(self.mask.any(axis=(0, 2)))
        xs = np.flatnonzero(self.mask.any(axis=(0, 1)))
        return (max(int(ys[0]) * self.step[1] - margin, 0),
                max(int(xs[0]) * self.step[2] - margin, 0),
                min((int(ys[-1]) + 1) * self.step[1] + margin, ny),
                min((int(xs[-1]) + 1) * self.step[2] + margin, nx))

    def box_overlap(self, z: int, boxes: np.ndarray) -> np.ndarray:
        """Share (n,) of each box ``(x0, y0, x1, y1)`` (voxel-edge units of slice ``z``) that
        lies in the mask; 1 everywhere when no lung was found."""
        boxes = np.reshape(boxes, (-1, 4))
        if not self.found or not len(boxes):
            return np.ones(len(boxes))
        plane = self.mask[min(z // self.step[0], self.mask.shape[0] - 1)]
        table = np.zeros((plane.shape[0] + 1, plane.shape[1] + 1))
        table[1:, 1:] = plane.cumsum(0).cumsum(1)
        sy, sx = self.step[1], self.step[2]
        x0 = np.clip(np.floor(boxes[:, 0] / sx), 0, plane.shape[1]).astype(int)
        x1 = np.clip(np.ceil(boxes[:, 2] / sx), 0, plane.shape[1]).astype(int)
        y0 = np.clip(np.floor(boxes[:, 1] / sy), 0, plane.shape[0]).astype(int)
        y1 = np.clip(np.ceil(boxes[:, 3] / sy), 0, plane.shape[0]).astype(int)
        inside = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
        area = np.maximum((y1 - y0) * (x1 - x0), 1)
        return inside / area

    def contains(self, zyx: np.ndarray) -> np.ndarray:
        """(n,) bool: fractional voxel positions ``(n, 3)`` inside the mask."""
        zyx = np.reshape(zyx, (-1, 3))
        if not self.found:
            return np.ones(len(zyx), bool)
        index = np.floor(zyx / np.asarray(self.step)).astype(int)
        index = np.clip(index, 0, np.asarray(self.mask.shape) - 1)
        return self.mask[index[:, 0], index[:, 1], index[:, 2]]

    def region(self, z: slice, y: slice, x: slice) -> np.ndarray:
        """The mask at full resolution over a small block of the scan (bool, block shape)."""
        zz, yy, xx = (np.arange(s.start, s.stop) // st for s, st in zip((z, y, x), self.step,
                                                                         strict=True))
        if not self.found:
            return np.ones((len(zz), len(yy), len(xx)), bool)
        clip = [np.clip(v, 0, n - 1) for v, n in zip((zz, yy, xx), self.mask.shape,
                                                    strict=True)]
        return self.mask[np.ix_(*clip)]


def lung_mask(volume: Volume, config: LungMaskConfig | None = None) -> LungMask:
    """The lung mask of a scan in the axial LPS orientation (module docstring)."""
    from scipy import ndimage

    config = config or LungMaskConfig()
    step = tuple(max(1, int(round(config.voxel_mm / s))) for s in volume.spacing_zyx)
    coarse = volume.array[::step[0], ::step[1], ::step[2]]
    air = coarse < config.air_hu
    labels, count = ndimage.label(air)
    voxel_ml = float(np.prod(np.asarray(volume.spacing_zyx) * np.asarray(step))) / 1000.0
    empty = LungMask(np.zeros(coarse.shape, bool), step, volume.shape, False)
    if count == 0:
        return empty
    border = np.unique(np.concatenate([labels[:, 0].ravel(), labels[:, -1].ravel(),
                                       labels[:, :, 0].ravel(), labels[:, :, -1].ravel()]))
    sizes = np.bincount(labels.ravel(), minlength=count + 1).astype(np.float64)
    sizes[0] = 0.0
    sizes[border] = 0.0
    largest = sizes.max()
    keep = (sizes >= max(config.min_share * largest, config.min_volume_ml / voxel_ml)) \
        & (sizes > 0)
    if not keep.any():
        return empty
    lungs = keep[labels]
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = True
    lungs = ndimage.binary_fill_holes(lungs, structure=in_plane)
    volume_ml = float(lungs.sum()) * voxel_ml
    radius = [config.margin_mm / (s * k) for s, k in zip(volume.spacing_zyx, step,
                                                          strict=True)]
    if max(radius) >= 0.5:
        reach = [int(np.floor(r)) for r in radius]
        grid = np.ogrid[tuple(slice(-r, r + 1) for r in reach)]
        ball = sum((g / max(r, 1e-9)) ** 2 for g, r in zip(grid, radius, strict=True)) <= 1.0
        lungs = ndimage.binary_dilation(lungs, structure=ball)
    return LungMask(lungs, step, volume.shape, True, volume_ml)
