"""Resampling a :class:`Volume` to another voxel size with SimpleITK, keeping its geometry.

The resampled volume covers the same box in the world: the outer corner of voxel ``[0, 0, 0]``
stays where it was, the direction is unchanged, and the voxel count along each axis is the
extent divided by the new spacing, rounded (at least 1). Images are interpolated linearly
(float32 out); label maps by nearest neighbour (their type kept).
"""

from __future__ import annotations

import numpy as np

from engines.core.errors import InputError
from engines.imaging.volume import Volume


def resampled_grid(volume: Volume, spacing_xyz) -> tuple[tuple[int, int, int],
                                                         tuple[float, float, float]]:
    """Size ``(nx, ny, nz)`` and origin (mm, LPS) of ``volume``'s box at ``spacing_xyz``."""
    new = np.asarray(spacing_xyz, dtype=np.float64)
    if new.shape != (3,) or not np.all(np.isfinite(new)) or (new <= 0).any():
        raise InputError(f"resampling needs three positive spacings (x, y, z mm), got "
                         f"{tuple(np.ravel(spacing_xyz))}")
    old = np.asarray(volume.spacing_xyz)
    extent = np.asarray(volume.shape[::-1]) * old
    size = np.maximum(1, np.rint(extent / new)).astype(int)
    corner = np.asarray(volume.origin_xyz) - volume.direction @ (old / 2)
    origin = corner + volume.direction @ (new / 2)
    return tuple(int(n) for n in size), tuple(float(v) for v in origin)


def resample(volume: Volume, spacing_xyz, *, labels: bool = False,
             fill: float | None = None) -> Volume:
    """``volume`` on a grid of voxel size ``spacing_xyz`` (mm, x, y, z) over the same box.

    Parameters
    ----------
    labels
        Nearest-neighbour interpolation, keeping the array type (label maps, masks); otherwise
        linear interpolation to float32.
    fill
        Value outside the volume (default: the volume's minimum, e.g. air; 0 for labels).

    Returns
    -------
    Volume
        Same direction and modality; ``metadata["resampled_from_spacing_xyz"]`` records the
        original voxel size.
    """
    import SimpleITK as sitk

    from engines.imaging.itk_io import from_sitk, to_sitk

    size, origin = resampled_grid(volume, spacing_xyz)
    image = to_sitk(volume)
    if labels:
        interpolator = sitk.sitkNearestNeighbor
        fill = 0.0 if fill is None else fill
    else:
        image = sitk.Cast(image, sitk.sitkFloat32)
        interpolator = sitk.sitkLinear
        fill = float(np.min(volume.array)) if fill is None else fill
    result = sitk.Resample(image, size, sitk.Transform(), interpolator, origin,
                           tuple(float(s) for s in spacing_xyz),
                           tuple(float(v) for v in volume.direction.reshape(-1)), float(fill),
                           image.GetPixelID())
    resampled = from_sitk(result, source=volume.source)
    array = resampled.array.astype(volume.array.dtype, copy=False) if labels else resampled.array
    metadata = {**volume.metadata, "resampled_from_spacing_xyz": list(volume.spacing_xyz)}
    return Volume(array, resampled.spacing_xyz, resampled.origin_xyz, resampled.direction,
                  modality=volume.modality, rescale=volume.rescale, source=volume.source,
                  metadata=metadata)
