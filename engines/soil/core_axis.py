"""Finding the core's axis in the image, and placing the crop on it.

A core in its liner is, on every slice across it, one filled disc: the voxels above
``core_threshold`` (wall and soil), with the pores inside filled, form one round connected
component that does not touch the slice border. :func:`find_core_axis` looks at up to 48
slices spread over the depth, keeps the slices whose largest component is such a disc (area
at least 1 % of the slice, filling 70–86 % of its bounding box — a disc fills π/4 — with a
round bounding box), and takes the median centre and radius. When fewer than three slices show
a disc the axis is "not found" and the crop falls back to the array centre, with a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engines.soil.preprocess import AXES, CropBox, PreprocessConfig, crop_size_zyx

MAX_SLICES = 48
MAX_SIDE = 256  # slices are subsampled to at most this many pixels per side


@dataclass(frozen=True)
class CoreAxis:
    """The core axis found in a volume.

    Attributes
    ----------
    found
        Whether enough slices showed a disc.
    depth_axis
        Array axis along the core (0 = z, 1 = y, 2 = x).
    centre
        Fractional array indices of the axis in the two other axes (array order).
    radius_mm
        Median outer radius of the disc (wall included), mm.
    depth_range
        First and last slice index (inclusive) along ``depth_axis`` that showed a disc.
    slices_checked, slices_with_disc
        How many slices were looked at, and how many held a disc.
    """

    found: bool
    depth_axis: int
    centre: tuple[float, float]
    radius_mm: float
    depth_range: tuple[int, int]
    slices_checked: int
    slices_with_disc: int

    def to_json(self) -> dict:
        return {"found": self.found, "axis": AXES[self.depth_axis],
                "centre": [float(c) for c in self.centre], "radius_mm": float(self.radius_mm),
                "depth_range": [int(v) for v in self.depth_range],
                "slices_checked": self.slices_checked, "slices_with_disc": self.slices_with_disc}


def _disc(mask: np.ndarray, pixel_mm: tuple[float, float]) -> tuple[float, float, float] | None:
    """``(centre_row, centre_col, radius_mm)`` of the disc in a 2-D mask, or None."""
    from scipy import ndimage

    filled = ndimage.binary_fill_holes(mask)
    labels, n = ndimage.label(filled)
    if n == 0:
        return None
    sizes = np.bincount(labels.ravel())[1:]
    best = int(np.argmax(sizes)) + 1
    area = int(sizes[best - 1])
    if area < 0.01 * mask.size:
        return None
    rows, cols = np.nonzero(labels == best)
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    if r0 == 0 or c0 == 0 or r1 == mask.shape[0] - 1 or c1 == mask.shape[1] - 1:
        return None  # touches the border: not a whole disc
    height, width = (r1 - r0 + 1) * pixel_mm[0], (c1 - c0 + 1) * pixel_mm[1]
    fill = area * pixel_mm[0] * pixel_mm[1] / (height * width)
    if not 0.70 <= fill <= 0.86 or not 0.8 <= height / width <= 1.25:
        return None
    radius = math.sqrt(area * pixel_mm[0] * pixel_mm[1] / math.pi)
    return float(rows.mean()), float(cols.mean()), radius


def find_core_axis(array: np.ndarray, spacing_zyx, depth_axis: int = 0,
                   threshold: float | None = -400.0) -> CoreAxis:
    """Find the core axis of ``array`` (z, y, x).

    Parameters
    ----------
    array
        The volume's values: HU, or a segmented stack.
    spacing_zyx
        Voxel size in array order, mm.
    depth_axis
        Array axis along the core.
    threshold
        Voxels above it are core; None takes every non-zero voxel (segmented stacks).
    """
    n_depth = array.shape[depth_axis]
    across = [a for a in range(3) if a != depth_axis]
    shape2 = [array.shape[a] for a in across]
    step = max(1, math.ceil(max(shape2) / MAX_SIDE))
    pixel_mm = (float(spacing_zyx[across[0]]) * step, float(spacing_zyx[across[1]]) * step)
    indices = np.unique(np.linspace(0, n_depth - 1, min(MAX_SLICES, n_depth)).round()
                        .astype(int))
    found = []
    for k in indices:
        section = np.take(array, int(k), axis=depth_axis)[::step, ::step]
        mask = section != 0 if threshold is None else section > threshold
        disc = _disc(np.asarray(mask), pixel_mm)
        if disc is not None:
            found.append((int(k), disc[0] * step, disc[1] * step, disc[2]))
    centre_array = ((shape2[0] - 1) / 2.0, (shape2[1] - 1) / 2.0)
    if len(found) < 3:
        return CoreAxis(False, depth_axis, centre_array, math.inf, (0, n_depth - 1),
                        len(indices), len(found))
    values = np.array(found)
    # the slices looked at include both end slices (0 and n_depth - 1): the core reaches an
    # end of the volume exactly when that end slice showed a disc
    first, last = found[0][0], found[-1][0]
    return CoreAxis(True, depth_axis, (float(np.median(values[:, 1])),
                                       float(np.median(values[:, 2]))),
                    float(np.median(values[:, 3])), (int(first), int(last)), len(indices),
                    len(found))


def choose_crop(shape_zyx, spacing_zyx, config: PreprocessConfig,
                core: CoreAxis | None) -> tuple[CropBox, list[str]]:
    """The crop box for ``config`` on a volume of ``shape_zyx``, and notes on what was changed.

    The crop is centred across the core on ``core.centre`` (when found and ``centre="core"``)
    and along the core on the middle of ``core.depth_range``; otherwise on the array centre. A
    crop larger than the volume is clipped to it, one that sticks out is shifted inside, and
    with ``fit_inside_core`` the cross-section is shrunk to the square inside the core less the
    wall margin. Each change is noted.
    """
    shape = np.asarray(shape_zyx, dtype=np.int64)
    if config.crop is None:
        return CropBox.whole(shape_zyx), []
    depth = AXES.index(config.core_axis)
    across = [a for a in range(3) if a != depth]
    size = np.asarray(crop_size_zyx(config.crop, depth), dtype=np.int64)
    notes: list[str] = []
    centre = (shape - 1) / 2.0
    use_core = config.centre == "core" and core is not None and core.found
    if config.centre == "core" and not use_core:
        notes.append("no core wall found in the image; the crop is centred on the array centre")
    if use_core:
        centre[across[0]], centre[across[1]] = core.centre
        centre[depth] = (core.depth_range[0] + core.depth_range[1]) / 2.0
        if config.fit_inside_core and math.isfinite(core.radius_mm):
            half_mm = max(0.0, core.radius_mm - config.wall_margin_mm) / math.sqrt(2.0)
            for axis, name in zip(across, ("Y", "Z"), strict=True):
                fits = max(1, int(2 * half_mm / float(spacing_zyx[axis])))
                if size[axis] > fits:
                    notes.append(f"crop {name} = {size[axis]} reaches past the core wall "
                                 f"(radius {core.radius_mm:.1f} mm, margin "
                                 f"{config.wall_margin_mm:g} mm); shrunk to {fits}")
                    size[axis] = fits
    for axis in range(3):
        if size[axis] > shape[axis]:
            name = "X" if axis == depth else ("Y" if axis == across[0] else "Z")
            notes.append(f"crop {name} = {size[axis]} is larger than the volume's "
                         f"{shape[axis]} voxels along {AXES[axis]}; clipped to {shape[axis]}")
            size[axis] = shape[axis]
    wanted = np.floor(centre - (size - 1) / 2.0).astype(np.int64)
    start = np.clip(wanted, 0, shape - size)
    if (start != wanted).any():
        notes.append("the crop centred on the core would stick out of the volume; shifted "
                     "inside")
    return CropBox(tuple(int(v) for v in start), tuple(int(v) for v in size)), notes
