"""Iso-surfaces of a label map, one triangle mesh per label, in world (LPS) mm.

Each label is meshed inside its bounding box (plus a margin) by scikit-image's marching cubes
on its mask, Gaussian-smoothed by ``smoothing_voxels`` so that the surface is not a staircase
(as Slicer's closed-surface smoothing). A box above ``max_voxels`` is first reduced to the
label's occupancy of integer blocks (a fractional field that marching cubes follows well), which
bounds the memory and keeps big labels (a soil matrix, both lungs) to a drawable size.
Vertices and normals go through the volume's direction and spacing, so meshes land on the voxels
that make them, whatever the orientation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engines.core.errors import InputError
from engines.core.progress import Progress, TaskGenerator
from engines.imaging.volume import Volume


@dataclass
class SurfaceConfig:
    """How label surfaces are extracted."""

    smoothing_voxels: float = field(default=1.0, metadata={
        "label": "Smoothing", "unit": "voxels", "range": (0.0, 3.0),
        "help": "Gaussian sigma applied to each label's mask before meshing (0: none)"})
    max_voxels: int = field(default=1 << 22, metadata={
        "label": "Voxels per label", "range": (1 << 12, 1 << 26),
        "help": "bounding boxes larger than this are meshed on coarser blocks"})
    min_voxels: int = field(default=1, metadata={
        "label": "Smallest label", "unit": "voxels", "range": (1, 10_000),
        "help": "labels with fewer voxels get no surface"})


@dataclass(frozen=True, eq=False)
class Surface:
    """One label's mesh.

    Attributes
    ----------
    vertices : (n, 3) float32
        World (LPS) positions x, y, z, mm.
    faces : (m, 3) int32
        Vertex indices of each triangle.
    normals : (n, 3) float32
        Unit outward normals at the vertices, world frame.
    voxels : int
        Voxels of the label.
    step : int
        Block size the mask was reduced by before meshing (1 = full resolution).
    """

    label: int
    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    voxels: int
    step: int

    @property
    def centroid(self) -> np.ndarray:
        """Mean vertex position (x, y, z mm)."""
        return self.vertices.mean(axis=0)


def label_surfaces(labels: Volume, include: Sequence[int] | None = None,
                   config: SurfaceConfig | None = None) -> TaskGenerator[list[Surface]]:
    """Mesh every label > 0 of ``labels`` (a volume of non-negative integers or booleans) or
    those in ``include``.

    Yields one :class:`Progress` per label; returns the surfaces in label order (labels with
    fewer than ``config.min_voxels`` voxels are skipped).
    """
    from scipy import ndimage

    config = config or SurfaceConfig()
    array = labels.array
    if array.dtype == np.bool_:
        array = array.view(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"a label map needs integer voxels, got {array.dtype}")
    yield Progress(0.0, "finding labels")
    if array.size and int(array.min()) < 0:
        raise InputError("a label map needs non-negative labels")
    boxes = ndimage.find_objects(array)
    wanted = [k for k, box in enumerate(boxes, start=1) if box is not None]
    if include is not None:
        wanted = [k for k in wanted if k in {int(v) for v in include}]
    surfaces: list[Surface] = []
    for number, label in enumerate(wanted):
        surface = _mesh_label(labels.with_array(array), label, boxes[label - 1], config)
        if surface is not None:
            surfaces.append(surface)
        yield Progress((number + 1) / max(len(wanted), 1),
                       f"label {label}: {0 if surface is None else len(surface.faces)} triangles")
    return surfaces


def _occupancy(crop: np.ndarray, label: int, factor: int) -> np.ndarray:
    """Fraction of each ``factor``³ block of ``crop`` that is ``label`` (float32), slab by slab;
    blocks past the crop's far edges count the outside as background."""
    if factor == 1:
        return (crop == label).astype(np.float32)
    shape = [int(np.ceil(n / factor)) for n in crop.shape]
    out = np.empty(shape, dtype=np.float32)
    for k in range(shape[0]):
        slab = crop[k * factor:(k + 1) * factor] == label
        padded = np.zeros((factor, shape[1] * factor, shape[2] * factor), dtype=np.float32)
        padded[:slab.shape[0], :slab.shape[1], :slab.shape[2]] = slab
        out[k] = padded.reshape(factor, shape[1], factor, shape[2], factor).mean(axis=(0, 2, 4))
    return out


def _mesh_label(labels: Volume, label: int, box: tuple[slice, ...],
                config: SurfaceConfig) -> Surface | None:
    from scipy import ndimage
    from skimage.measure import marching_cubes

    margin = int(np.ceil(2 * config.smoothing_voxels)) + 1
    start = np.array([max(s.start - margin, 0) for s in box])
    stop = np.array([min(s.stop + margin, n) for s, n in zip(box, labels.shape, strict=True)])
    crop = labels.array[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))]
    voxels = int(np.count_nonzero(crop == label))
    if voxels < max(config.min_voxels, 1):
        return None
    factor = max(1, int(np.ceil((crop.size / config.max_voxels) ** (1.0 / 3.0))))
    # pad with background so that labels touching the volume's edge get closed surfaces
    occupancy = np.pad(_occupancy(crop, label, factor), 1)
    if config.smoothing_voxels > 0:
        occupancy = ndimage.gaussian_filter(occupancy, config.smoothing_voxels / factor)
    level = min(0.5, 0.5 * float(occupancy.max()))  # a one-voxel label blurs below 0.5
    verts, faces, normals, _ = marching_cubes(occupancy, level=level, allow_degenerate=False)
    # block centre i (after the pad of one) covers voxels i·f … i·f + f − 1 of the crop
    index_zyx = (verts - 1.0) * factor + (factor - 1) / 2.0 + start
    vertices = labels.voxel_to_world(index_zyx).astype(np.float32)
    # scikit-image's normals point down the field, i.e. outwards; as gradients they transform
    # by the inverse transpose of direction · diag(spacing)
    outward = (normals[:, ::-1] / np.asarray(labels.spacing_xyz)) @ labels.direction.T
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-12)
    return Surface(label=label, vertices=vertices, faces=faces.astype(np.int32),
                   normals=outward.astype(np.float32), voxels=voxels, step=factor)
