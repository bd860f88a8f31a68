"""Building blocks of the synthetic cores: smooth random fields, painted ellipsoids and tubes,
water in the smallest pores, and the removal of clusters too small to be resolved.

Fields are Gaussian noise on a coarse grid (one node per correlation length), smoothed and
interpolated trilinearly to the voxels, one slab at a time, so a full 640 × 512 × 512 core needs
only slab-sized temporaries.
"""

from __future__ import annotations

import numpy as np


def coarse_field(rng: np.random.Generator, shape_zyx, step_zyx) -> np.ndarray:
    """Unit-variance smooth noise on a grid with a node every ``step_zyx`` voxels (float32)."""
    from scipy import ndimage

    size = [int(np.ceil(n / s)) + 2 for n, s in zip(shape_zyx, step_zyx, strict=True)]
    field = ndimage.gaussian_filter(rng.standard_normal(size).astype(np.float32), 0.8)
    field -= field.mean()
    field /= max(float(field.std()), 1e-6)
    return field


def _weights(start: int, stop: int, step: float, n_coarse: int):
    position = np.arange(start, stop, dtype=np.float64) / step
    low = np.clip(np.floor(position).astype(np.int64), 0, n_coarse - 1)
    high = np.minimum(low + 1, n_coarse - 1)
    return low, high, (position - low).astype(np.float32)


def upsample(coarse: np.ndarray, step_zyx, z0: int, z1: int, shape_yx) -> np.ndarray:
    """The field at the voxels of slices ``z0…z1-1`` (trilinear), float32 (z1-z0, ny, nx)."""
    lz, hz, wz = _weights(z0, z1, step_zyx[0], coarse.shape[0])
    ly, hy, wy = _weights(0, shape_yx[0], step_zyx[1], coarse.shape[1])
    lx, hx, wx = _weights(0, shape_yx[1], step_zyx[2], coarse.shape[2])
    first, last = int(lz.min()), int(hz.max())
    block = coarse[first:last + 1]
    block = block[:, :, lx] * (1 - wx) + block[:, :, hx] * wx
    block = block[:, ly, :] * (1 - wy)[None, :, None] + block[:, hy, :] * wy[None, :, None]
    return (block[lz - first] * (1 - wz)[:, None, None]
            + block[hz - first] * wz[:, None, None]).astype(np.float32)


def at_points(coarse: np.ndarray, step_zyx, points_zyx: np.ndarray) -> np.ndarray:
    """The field at fractional voxel positions ``(n, 3)`` (the same trilinear interpolation)."""
    from scipy import ndimage

    coords = (np.asarray(points_zyx, dtype=np.float64) / np.asarray(step_zyx)).T
    return ndimage.map_coordinates(coarse, coords, order=1, mode="nearest")


def paint_ellipsoid(materials: np.ndarray, centre_zyx, radii_zyx, code: int,
                    paintable: np.ndarray) -> None:
    """Set ``code`` inside an axis-aligned ellipsoid (voxel units) where the current material is
    ``paintable`` (a boolean lookup by material code)."""
    centre = np.asarray(centre_zyx, dtype=np.float64)
    radii = np.maximum(np.asarray(radii_zyx, dtype=np.float64), 0.5)
    low = np.maximum(np.floor(centre - radii).astype(int), 0)
    high = np.minimum(np.ceil(centre + radii).astype(int) + 1, materials.shape)
    if (high <= low).any():
        return
    grids = np.ogrid[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radii, strict=True)) <= 1.0
    box = materials[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    box[inside & paintable[box]] = code


def paint_tube(materials: np.ndarray, rng: np.random.Generator, start_mm, radius_mm: float,
               length_mm: float, wander: float, spacing_zyx, code: int,
               paintable: np.ndarray, taper: float = 0.0) -> None:
    """A tube (root, burrow) along a random walk heading down (+z) from ``start_mm`` (z, y, x
    in mm), painted as overlapping ellipsoids every half radius."""
    spacing = np.asarray(spacing_zyx, dtype=np.float64)
    position = np.asarray(start_mm, dtype=np.float64)
    direction = np.array([1.0, *rng.normal(0.0, 0.3, 2)])
    direction /= np.linalg.norm(direction)
    travelled, radius = 0.0, radius_mm
    step = max(0.5 * radius_mm, 0.5 * spacing.min())
    while travelled < length_mm:
        paint_ellipsoid(materials, position / spacing, radius / spacing, code, paintable)
        direction = direction + rng.normal(0.0, wander, 3)
        direction[0] = max(direction[0], 0.35)
        direction /= np.linalg.norm(direction)
        position = position + step * direction
        travelled += step
        radius = max(radius_mm * (1.0 - taper * travelled / length_mm), 0.6 * radius_mm)
        if not ((0 <= position / spacing) & (position / spacing < materials.shape)).all():
            return


def water_in_smallest_pores(materials: np.ndarray, air: int, water: int, layer_of_z,
                            water_share) -> None:
    """Fill the smallest air clusters with water until each layer's ``water_share`` of its pore
    volume (clusters by the layer of their mean depth) is water; small pores hold water first."""
    from scipy import ndimage

    labels, n = ndimage.label(materials == air)
    if n == 0:
        return
    sizes = np.bincount(labels.ravel(), minlength=n + 1).astype(np.float64)
    depth_sum = np.zeros(n + 1)
    for z in range(materials.shape[0]):
        depth_sum += np.bincount(labels[z].ravel(), minlength=n + 1) * z
    mean_z = np.round(depth_sum[1:] / np.maximum(sizes[1:], 1)).astype(int)
    layer = np.asarray(layer_of_z)[np.clip(mean_z, 0, len(layer_of_z) - 1)]
    wet = np.zeros(n + 1, dtype=bool)
    for index, share in enumerate(water_share):
        members = np.flatnonzero(layer == index) + 1
        if members.size == 0 or share <= 0:
            continue
        members = members[np.argsort(sizes[members], kind="stable")]
        cumulative = np.cumsum(sizes[members])
        wet[members[cumulative <= share * cumulative[-1]]] = True
    materials[wet[labels]] = water


def clean_small_clusters(materials: np.ndarray, object_of: np.ndarray, max_size: int,
                         passes: int = 3) -> int:
    """Give every cluster of one object with ``max_size`` voxels or fewer (face connectivity)
    the materials of its nearest voxels outside it, so no object has clusters that small.
    Returns the voxels changed."""
    from scipy import ndimage

    changed = 0
    for _ in range(passes):
        objects = object_of[materials]
        moved = 0
        for k in np.unique(objects):
            labels, n = ndimage.label(objects == k)
            sizes = np.bincount(labels.ravel(), minlength=n + 1)
            small = np.flatnonzero(sizes <= max_size)
            small = small[small > 0]
            boxes = ndimage.find_objects(labels)
            for index in small:
                box = tuple(slice(max(s.start - 2, 0), s.stop + 2) for s in boxes[index - 1])
                part = labels[box] == index
                if part.all():
                    continue
                _, nearest = ndimage.distance_transform_edt(part, return_indices=True)
                local = materials[box]
                local[part] = local[tuple(i[part] for i in nearest)]
                moved += int(part.sum())
        changed += moved
        if moved == 0:
            break
    return changed
