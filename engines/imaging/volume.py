"""A CT (or any 3-D) image with its geometry, in ITK's conventions.

The voxel array is indexed ``[z, y, x]`` (what ``SimpleITK.GetArrayFromImage`` returns). The
geometry is ITK's: ``spacing_xyz`` and ``origin_xyz`` in mm, and ``direction`` a 3×3 matrix whose
columns are the world (LPS) directions of the x, y and z index axes. ``origin_xyz`` is the world
position of the *centre* of voxel ``[0, 0, 0]``. So, for an index ``(i, j, k) = (x, y, z)``::

    world = origin + direction @ (spacing * (i, j, k))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engines.core.errors import InputError

#: Voxel sizes outside this range (mm) are not a real image's: a damaged or hostile header.
SPACING_RANGE_MM = (1e-6, 1e6)
#: Largest distance of the origin from the world origin, mm (1000 km).
MAX_ORIGIN_MM = 1e9


def compact_values(array: np.ndarray) -> np.ndarray:
    """Voxel values in the types volumes use: bool, 8/16-bit integers and float32 stay as they
    are; wider integers become int16 when every value fits, otherwise (like float64) float32."""
    array = np.asarray(array)
    if array.dtype == bool or array.dtype.itemsize <= 2 and array.dtype.kind in "iu":
        return array
    if array.dtype == np.float32:
        return array
    if array.dtype.kind in "iu" and array.size and array.min() >= -32768 \
            and array.max() <= 32767:
        return array.astype(np.int16)
    return array.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image and its geometry.

    Attributes
    ----------
    array : (nz, ny, nx) ndarray
        Voxel values; HU (float32 or int16) for CT.
    spacing_xyz : (3,) float
        Voxel size along the x, y, z index axes, mm.
    origin_xyz : (3,) float
        World (LPS) position of the centre of voxel [0, 0, 0], mm.
    direction : (3, 3) float
        Columns: world directions of the x, y, z index axes (orthonormal).
    modality : str
        ``"CT"``, ``"MR"``, ... or ``""`` when unknown.
    rescale : (slope, intercept)
        The rescale that turned stored values into ``array`` (already applied).
    source : Path or None
        File or folder the volume was read from.
    metadata : dict
        Reader-specific extras (series UID, description, warnings).
    """

    array: np.ndarray
    spacing_xyz: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = ""
    rescale: tuple[float, float] = (1.0, 0.0)
    source: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim != 3 or min(array.shape) < 1:
            self._refuse(f"a volume needs a non-empty 3-D array, got shape {array.shape}")
        spacing = tuple(float(s) for s in self.spacing_xyz)
        low, high = SPACING_RANGE_MM
        if len(spacing) != 3 or not all(low <= s <= high for s in spacing):
            self._refuse(f"voxel spacing must be three sizes from {low:g} to {high:g} mm, got "
                         f"{spacing}")
        origin = tuple(float(o) for o in self.origin_xyz)
        if len(origin) != 3 or not all(abs(o) <= MAX_ORIGIN_MM for o in origin):
            self._refuse(f"origin must be three finite numbers within {MAX_ORIGIN_MM:g} mm, got "
                         f"{origin}")
        direction = np.asarray(self.direction, dtype=np.float64)
        if direction.size != 9:
            self._refuse(f"direction must be a 3×3 matrix, got {direction.size} values")
        direction = direction.reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-3):
            self._refuse("direction cosines are not orthonormal")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing_xyz", spacing)
        object.__setattr__(self, "origin_xyz", origin)
        object.__setattr__(self, "direction", direction)

    def _refuse(self, problem: str) -> None:
        """InputError naming the source file (when there is one)."""
        if self.source is not None:
            raise InputError.for_file(self.source, problem)
        raise InputError(problem)

    def check_values(self) -> None:
        """Refuse NaN or infinite voxel values (checked slice by slice: no full-size copy).

        Raises
        ------
        InputError
            Naming the source and the first slice that holds such a value.
        """
        if self.array.dtype.kind not in "fc":
            return
        for k in range(self.array.shape[0]):
            if not np.isfinite(self.array[k]).all():
                self._refuse(f"slice {k} holds NaN or infinite voxel values")

    # -- shape and geometry ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)``."""
        return tuple(self.array.shape)

    @property
    def spacing_zyx(self) -> tuple[float, float, float]:
        """Voxel size in array order, mm."""
        return tuple(reversed(self.spacing_xyz))

    @property
    def extent_mm_zyx(self) -> tuple[float, float, float]:
        """Size of the volume along each array axis, mm (voxel count × spacing)."""
        return tuple(n * s for n, s in zip(self.shape, self.spacing_zyx, strict=True))

    def voxel_to_world(self, zyx: np.ndarray) -> np.ndarray:
        """World (LPS) mm positions ``(..., 3)`` as x, y, z of voxel indices ``(..., 3)`` z, y, x
        (fractional indices allowed; integer indices are voxel centres)."""
        ijk = np.asarray(zyx, dtype=np.float64)[..., ::-1]
        return np.asarray(self.origin_xyz) + (ijk * np.asarray(self.spacing_xyz)) @ self.direction.T

    def world_to_voxel(self, xyz: np.ndarray) -> np.ndarray:
        """Fractional voxel indices ``(..., 3)`` as z, y, x of world (LPS) mm positions ``(..., 3)``."""
        offset = np.asarray(xyz, dtype=np.float64) - np.asarray(self.origin_xyz)
        ijk = (offset @ self.direction) / np.asarray(self.spacing_xyz)
        return ijk[..., ::-1]

    # -- derived volumes ---------------------------------------------------------------------
    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """The same geometry (and metadata) around another array of the same shape."""
        if np.shape(array) != self.shape:
            raise ValueError(f"array shape {np.shape(array)} differs from {self.shape}")
        return replace(self, array=array, **changes)

    def crop(self, start_zyx: tuple[int, int, int], size_zyx: tuple[int, int, int]) -> Volume:
        """The sub-volume ``[start, start + size)`` per axis; the origin moves with it, so every
        voxel keeps its world position.

        Raises
        ------
        InputError
            When the box does not lie inside the volume.
        """
        start = np.asarray(start_zyx, dtype=np.int64)
        size = np.asarray(size_zyx, dtype=np.int64)
        shape = np.asarray(self.shape)
        if start.shape != (3,) or size.shape != (3,) or (size < 1).any() or (start < 0).any() \
                or (start + size > shape).any():
            raise InputError(f"crop {tuple(start)} + {tuple(size)} (z, y, x) does not fit in a "
                             f"volume of shape {tuple(shape)}")
        z, y, x = (slice(int(a), int(a + n)) for a, n in zip(start, size, strict=True))
        origin = tuple(float(v) for v in self.voxel_to_world(start.astype(np.float64)))
        return replace(self, array=self.array[z, y, x], origin_xyz=origin,
                       metadata={**self.metadata, "crop_start_zyx": [int(v) for v in start]})

    def centred_crop(self, size_zyx: tuple[int, int, int],
                     centre_zyx: tuple[float, float, float] | None = None) -> Volume:
        """A crop of ``size_zyx`` centred on ``centre_zyx`` (default: the array centre), shifted
        inside the volume where it would stick out; sizes larger than the volume are clipped."""
        shape = np.asarray(self.shape)
        size = np.minimum(np.asarray(size_zyx, dtype=np.int64), shape)
        centre = (shape - 1) / 2.0 if centre_zyx is None else np.asarray(centre_zyx, float)
        start = np.clip(np.floor(centre - (size - 1) / 2.0).astype(np.int64), 0, shape - size)
        return self.crop(tuple(start), tuple(size))

    def resample(self, spacing_xyz: tuple[float, float, float], *, labels: bool = False,
                 fill: float | None = None) -> Volume:
        """The same box at voxel size ``spacing_xyz`` (mm): linear to float32, or nearest
        neighbour for ``labels`` (see :func:`engines.imaging.resample.resample`)."""
        from engines.imaging.resample import resample

        return resample(self, spacing_xyz, labels=labels, fill=fill)

    def describe(self) -> str:
        """One line: shape, spacing and value range."""
        nz, ny, nx = self.shape
        sx, sy, sz = self.spacing_xyz
        low, high = float(np.min(self.array)), float(np.max(self.array))
        name = self.source.name if self.source else "volume"
        return (f"{name}: {nx}×{ny}×{nz} voxels (x×y×z), {sx:.3g}×{sy:.3g}×{sz:.3g} mm, "
                f"values {low:.6g}…{high:.6g}{' ' + self.modality if self.modality else ''}")
