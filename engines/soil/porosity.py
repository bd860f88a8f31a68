"""Porosity of the objects, whole and per slice along the depth, with porespy.

The paper's eq. (1.1): porosity = void / (void + solid). For object k the solid is the voxels of
band k after trimming (label ``k`` in the band label volume) and the void everything else in
the crop. porespy counts ``True`` as void, so it is given ``labels != k``:
``porespy.metrics.porosity(labels != k)`` and ``porespy.metrics.porosity_profile(labels != k,
axis=depth)``, whose ``.porosity`` holds one value per slice and ``.position`` the slice centre.

A segmented stack (0 = pore, anything else = solid) is counted slab by slab
(:func:`iter_segmented_profile`), so a 1000³ multi-page TIFF is never held as a boolean copy:
only one slab of ``SLAB_VOXELS`` at a time; the counts equal porespy's (a test checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.core.progress import Progress, TaskGenerator
from engines.soil.preprocess import AXES, CropBox

SLAB_VOXELS = 16_000_000


@dataclass
class Profile:
    """Porosity per slice along the depth.

    Attributes
    ----------
    depth_axis
        Array axis of the depth (0 = z, 1 = y, 2 = x).
    slice_index : (n,) int
        Index of each slice in the volume along ``depth_axis``.
    depth_mm : (n,) float
        Depth of each slice's centre from the volume's first face, mm:
        ``(slice_index + 0.5) × spacing`` (porespy's ``position``, offset by the crop start).
    porosity : {name: (n,) float}
        ``"object1"`` … or ``"segmented"``.
    """

    depth_axis: int
    slice_index: np.ndarray
    depth_mm: np.ndarray
    porosity: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.slice_index)

    def to_json(self) -> dict:
        return {"axis": AXES[self.depth_axis], "slice": self.slice_index.tolist(),
                "depth_mm": [round(float(d), 6) for d in self.depth_mm],
                **{name: [float(v) for v in values] for name, values in self.porosity.items()}}

    def to_csv(self) -> str:
        """``slice,depth_mm,object1,...`` with a header line."""
        names = list(self.porosity)
        lines = [",".join(["slice", "depth_mm", *names])]
        for i in range(len(self)):
            values = [f"{self.porosity[n][i]:.6f}" for n in names]
            lines.append(",".join([str(int(self.slice_index[i])),
                                   f"{self.depth_mm[i]:.4f}", *values]))
        return "\n".join(lines) + "\n"


def depth_positions(box: CropBox, depth_axis: int, spacing_mm: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Volume slice indices and depths (mm) of the slices of ``box`` along ``depth_axis``."""
    start, size = box.start_zyx[depth_axis], box.size_zyx[depth_axis]
    index = np.arange(start, start + size, dtype=np.int64)
    return index, (index + 0.5) * float(spacing_mm)


def object_porosity(labels: np.ndarray, k: int) -> float:
    """porespy porosity of object ``k``: the share of voxels not labelled ``k``."""
    import porespy

    return float(porespy.metrics.porosity(labels != k))


def object_profile(labels: np.ndarray, k: int, depth_axis: int) -> np.ndarray:
    """Porosity of object ``k`` per slice along ``depth_axis`` (porespy porosity_profile)."""
    import porespy

    return np.asarray(porespy.metrics.porosity_profile(labels != k, axis=depth_axis).porosity,
                      dtype=np.float64)


def iter_segmented_profile(array: np.ndarray, box: CropBox, depth_axis: int
                           ) -> TaskGenerator[tuple[float, np.ndarray]]:
    """Porosity of a segmented stack (0 = pore) in ``box``: whole and per slice.

    The box is read in slabs along z of about ``SLAB_VOXELS`` voxels (so a memory-mapped stack
    is never loaded whole) and the pore voxels of each slice are counted: the same numbers as
    ``porespy.metrics.porosity_profile(stack == 0, axis)``, which needs the whole boolean
    image (and builds a porespy ``Results`` per call, whose stack inspection costs more than
    counting a slab). Yields one Progress per slab.

    Returns
    -------
    (porosity, per-slice porosity (n,) along ``depth_axis``)
    """
    z0, y0, x0 = box.start_zyx
    z1, y1, x1 = box.stop_zyx
    per_z = (y1 - y0) * (x1 - x0)
    step = max(1, SLAB_VOXELS // max(1, per_z))
    void = np.zeros(box.size_zyx[depth_axis], dtype=np.int64)
    others = tuple(a for a in range(3) if a != depth_axis)
    for z in range(z0, z1, step):
        top = min(z1, z + step)
        counts = np.count_nonzero(np.asarray(array[z:top, y0:y1, x0:x1]) == 0, axis=others)
        if depth_axis == 0:
            void[z - z0:top - z0] = counts
        else:
            void += counts
        yield Progress((top - z0) / (z1 - z0), f"counted slices {z}–{top - 1}")
    per_slice = box.n_voxels / box.size_zyx[depth_axis]
    return float(void.sum() / box.n_voxels), void / per_slice
