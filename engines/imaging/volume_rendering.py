"""What the 3-D view needs besides VTK: transfer-function presets as data, the downsampling of
large volumes for rendering, and the world-mm geometry of clip planes, boxes and slice planes.

Voxel budget
------------
Volume rendering uploads the whole volume as one 3-D texture and ray-casts it every frame. A
volume above :data:`RENDER_VOXEL_BUDGET` voxels (2²⁴ ≈ 16.8 M, 256³; 32 MiB as int16) is
shrunk by integer block means, finest axes (in mm) first, so a 600×512×512 CT of
0.7×0.7×2.5 mm renders as 600×128×128 and a 600×512×512 soil core of 0.35×0.35×0.25 mm as
200×256×256. Each block mean sits at the centre of its block, so world positions are kept;
the last ``factor − 1`` voxels of an axis that the factor does not divide are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from engines.core.progress import Progress, TaskGenerator
from engines.core.registry import lookup
from engines.imaging.volume import Volume

RENDER_VOXEL_BUDGET = 1 << 24


@dataclass(frozen=True)
class TransferFunction:
    """A volume-rendering preset, with values in HU.

    Attributes
    ----------
    colours : ((value, r, g, b), ...)
        Colour points; r, g, b in [0, 1].
    opacities : ((value, opacity), ...)
        Scalar opacity per ``unit_distance_mm`` of ray.
    gradient_opacities : ((HU per mm, factor), ...)
        Opacity factor by gradient magnitude (empty: none), to show boundaries only.
    unit_distance_mm : float
        Ray length over which ``opacities`` apply (VTK's scalar opacity unit distance).
    ambient, diffuse, specular, specular_power : float
        Phong shading (used when ``shade``).
    """

    name: str
    label: str
    colours: tuple[tuple[float, float, float, float], ...]
    opacities: tuple[tuple[float, float], ...]
    gradient_opacities: tuple[tuple[float, float], ...] = ()
    unit_distance_mm: float = 1.0
    shade: bool = True
    ambient: float = 0.2
    diffuse: float = 0.8
    specular: float = 0.2
    specular_power: float = 10.0

    def shifted(self, value_offset: float) -> TransferFunction:
        """The same preset for data stored as ``HU + value_offset``."""
        if value_offset == 0:
            return self
        return replace(self,
                       colours=tuple((v + value_offset, r, g, b) for v, r, g, b in self.colours),
                       opacities=tuple((v + value_offset, a) for v, a in self.opacities))


#: Colours of the soil paper's six object bands of 1024 values (HU −2048…4095).
SOIL_BAND_COLOURS = ((0.35, 0.35, 0.35), (0.55, 0.75, 0.95), (0.55, 0.36, 0.20),
                     (0.85, 0.70, 0.45), (0.70, 0.70, 0.72), (0.95, 0.35, 0.25))
#: Opacity per mm of each band: air/pores and the band below them transparent, water and
#: organic matter faint, the mineral matrix half-transparent across a 6 cm core, so that stones
#: (and label surfaces) inside it stay visible.
SOIL_BAND_OPACITIES = (0.0, 0.0, 0.003, 0.01, 0.5, 0.8)
SOIL_BAND_EDGES_HU = tuple(float(-2048 + 1024 * k) for k in range(7))


def band_points(edges: Sequence[float], values: Sequence, ramp: float = 0.5) -> list:
    """Piecewise-constant points ``(value, *v)`` for bands ``[edges[k], edges[k + 1])``."""
    points: list = []
    for k, value in enumerate(values):
        item = tuple(value) if isinstance(value, Sequence) else (value,)
        points.append((edges[k] + (ramp if k else 0.0), *item))
        points.append((edges[k + 1] - ramp, *item))
    return points


TRANSFER_FUNCTIONS: dict[str, TransferFunction] = {tf.name: tf for tf in (
    TransferFunction(
        "ct_soft_tissue", "CT soft tissue",
        colours=((-1024, 0, 0, 0), (-160, 0.55, 0.25, 0.15), (0, 0.88, 0.60, 0.29),
                 (60, 1.0, 0.85, 0.72), (300, 1.0, 1.0, 0.9), (3071, 1, 1, 1)),
        opacities=((-1024, 0), (-200, 0), (-100, 0.02), (60, 0.12), (300, 0.3), (3071, 0.4)),
        gradient_opacities=((0, 0.2), (30, 1.0))),
    TransferFunction(
        "ct_lung", "CT lung",
        colours=((-1024, 0.3, 0.3, 1.0), (-700, 0.0, 0.55, 1.0), (-550, 0.13, 0.78, 0.07),
                 (-450, 0.93, 1.0, 0.14), (-400, 0.88, 0.44, 0.37), (3071, 1, 1, 1)),
        opacities=((-1024, 0), (-760, 0), (-700, 0.08), (-450, 0.08), (-400, 0), (3071, 0))),
    TransferFunction(  # the lungs as a faint outline, so that markers inside them stay visible
        "ct_lung_faint", "CT lung, faint (markers inside)",
        colours=((-1024, 0.3, 0.3, 1.0), (-700, 0.0, 0.55, 1.0), (-550, 0.13, 0.78, 0.07),
                 (-450, 0.93, 1.0, 0.14), (-400, 0.88, 0.44, 0.37), (3071, 1, 1, 1)),
        opacities=((-1024, 0), (-760, 0), (-700, 0.025), (-450, 0.025), (-400, 0), (3071, 0)),
        gradient_opacities=((0, 0.3), (20, 1.0))),
    TransferFunction(
        "ct_bone", "CT bone",
        colours=((-1024, 0, 0, 0), (150, 0.55, 0.25, 0.15), (250, 0.9, 0.82, 0.56),
                 (700, 1.0, 1.0, 0.9), (3071, 1, 1, 1)),
        opacities=((-1024, 0), (150, 0), (250, 0.3), (700, 0.8), (3071, 0.9)),
        specular=0.3),
    TransferFunction(
        "soil_bands", "Soil core: object bands",
        colours=tuple(band_points(SOIL_BAND_EDGES_HU, SOIL_BAND_COLOURS)),
        opacities=tuple(band_points(SOIL_BAND_EDGES_HU, SOIL_BAND_OPACITIES))),
)}


def transfer_function(name: str) -> TransferFunction:
    """The preset called ``name``; an InputError lists the valid names."""
    return lookup(TRANSFER_FUNCTIONS, name, "transfer function")


# -- downsampling ------------------------------------------------------------------------------
def render_factors(shape_zyx: Sequence[int], spacing_zyx: Sequence[float],
                   budget: int = RENDER_VOXEL_BUDGET) -> tuple[int, int, int]:
    """Integer block sizes (z, y, x) that bring the voxel count to ``budget`` or below,
    growing the axes with the finest effective spacing (mm × factor) first, tied axes together."""
    shape = np.asarray(shape_zyx, dtype=np.int64)
    spacing = np.asarray(spacing_zyx, dtype=np.float64)
    factors = np.ones(3, dtype=np.int64)
    while np.prod(shape // factors) > max(int(budget), 1):
        growable = np.flatnonzero(shape // (factors + 1) >= 1)
        if growable.size == 0:
            break
        effective = (spacing * factors)[growable]
        factors[growable[np.isclose(effective, effective.min())]] += 1
    return tuple(int(f) for f in factors)


@dataclass(frozen=True)
class RenderVolume:
    """A volume as rendered: possibly downsampled, with the block sizes used."""

    volume: Volume
    factors_zyx: tuple[int, int, int] = (1, 1, 1)
    source_shape: tuple[int, int, int] = (0, 0, 0)

    @property
    def downsampled(self) -> bool:
        return self.factors_zyx != (1, 1, 1)


def downsample_for_rendering(volume: Volume, budget: int = RENDER_VOXEL_BUDGET
                             ) -> TaskGenerator[RenderVolume]:
    """Block-mean ``volume`` down to ``budget`` voxels (see the module notes), slab by slab
    (memory: one slab of float32), yielding progress; integer data stay integer (rounded).
    The result's array is C-contiguous (ready to be a VTK texture without a copy)."""
    fz, fy, fx = render_factors(volume.shape, volume.spacing_zyx, budget)
    if (fz, fy, fx) == (1, 1, 1):
        yield Progress(0.5, "volume within the rendering budget")
        contiguous = np.ascontiguousarray(volume.array)  # a texture needs one block (a crop: copy)
        same = contiguous is volume.array
        return RenderVolume(volume if same else replace(volume, array=contiguous), (1, 1, 1),
                            volume.shape)
    nz, ny, nx = (n // f for n, f in zip(volume.shape, (fz, fy, fx), strict=True))
    source = volume.array
    integer = np.issubdtype(source.dtype, np.integer)
    out = np.empty((nz, ny, nx), dtype=source.dtype if integer else np.float32)
    for k in range(nz):
        slab = np.asarray(source[k * fz:(k + 1) * fz, :ny * fy, :nx * fx], dtype=np.float32)
        block = slab.reshape(fz, ny, fy, nx, fx).mean(axis=(0, 2, 4))
        out[k] = np.round(block) if integer else block
        if k % 16 == 0:
            yield Progress(k / nz, f"downsampling for rendering: slab {k + 1}/{nz}")
    spacing = tuple(s * f for s, f in zip(volume.spacing_xyz, (fx, fy, fz), strict=True))
    origin = tuple(float(v) for v in volume.voxel_to_world(((fz - 1) / 2, (fy - 1) / 2,
                                                             (fx - 1) / 2)))
    small = replace(volume, array=out, spacing_xyz=spacing, origin_xyz=origin,
                    metadata={**volume.metadata, "render_factors_zyx": [fz, fy, fx]})
    yield Progress(1.0, f"downsampled {volume.shape} to {out.shape} for rendering")
    return RenderVolume(small, (fz, fy, fx), volume.shape)


# -- geometry in world mm ----------------------------------------------------------------------
#: Edges of a box whose corner k has offsets (k >> 2 & 1, k >> 1 & 1, k & 1) along z, y, x.
BOX_EDGES = np.array([(a, a | bit) for a in range(8) for bit in (1, 2, 4) if not a & bit])


def box_corners(volume: Volume, start_zyx: Sequence[float], size_zyx: Sequence[float]
                ) -> np.ndarray:
    """World corners ``(8, 3)`` (x, y, z mm) of the voxel box ``[start, start + size)``
    (its outer voxel edges), ordered as :data:`BOX_EDGES` expects."""
    start = np.asarray(start_zyx, dtype=np.float64) - 0.5
    size = np.asarray(size_zyx, dtype=np.float64)
    offsets = np.array([((k >> 2) & 1, (k >> 1) & 1, k & 1) for k in range(8)], dtype=np.float64)
    return volume.voxel_to_world(start + offsets * size)


def clip_planes(volume: Volume, low_zyx: Sequence[float], high_zyx: Sequence[float]
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Six planes ``(origin_xyz, normal_xyz)`` that keep voxels ``low..high`` (inclusive
    indices) per axis; the normals point into the kept box (VTK's convention)."""
    low = np.asarray(low_zyx, dtype=np.float64) - 0.5
    high = np.asarray(high_zyx, dtype=np.float64) + 0.5
    planes = []
    for axis in range(3):
        inward = volume.direction[:, 2 - axis]
        for bound, normal in ((low, inward), (high, -inward)):
            point = np.zeros(3)
            point[axis] = bound[axis]
            planes.append((volume.voxel_to_world(point), np.asarray(normal, dtype=np.float64)))
    return planes


def slice_plane_corners(volume: Volume, zyx: Sequence[float]) -> np.ndarray:
    """World corners ``(3, 4, 3)`` of the planes through voxel ``zyx`` normal to array axes
    z, y and x, spanning the volume (voxel edges), each as a closed loop of 4 points."""
    shape = np.asarray(volume.shape, dtype=np.float64)
    loops = np.zeros((3, 4, 3))
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        for k, (i, j) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
            point = np.asarray(zyx, dtype=np.float64).copy()
            point[others[0]] = -0.5 + i * shape[others[0]]
            point[others[1]] = -0.5 + j * shape[others[1]]
            loops[axis, k] = volume.voxel_to_world(point)
    return loops
