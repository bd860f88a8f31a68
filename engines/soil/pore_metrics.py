"""Pore metrics a soil physicist expects besides porosity, on a boolean void image.

* :func:`pore_size_distribution` — porespy local thickness (``method="dt"``): every void voxel
  gets the radius of the largest sphere inside the void that covers it; the distribution is
  the share of void volume per radius bin (porespy ``pore_size_distribution``, linear bins).
  porespy works in voxel units, so an anisotropic image is first resampled (nearest
  neighbour) to cubic voxels of its smallest spacing. A slab of t voxels (t odd) has radius
  (t + 1) / 2 voxels everywhere: porespy measures the distance transform from voxel centres.
* :func:`connected_porosity` — the share of voxels in void clusters that touch both the first
  and the last slice along the depth (porespy ``trim_nonpercolating_paths``, face connectivity).
* :func:`specific_surface_area` — pore–solid interface area per total volume (mm²/mm³ = 1/mm),
  from a marching-cubes mesh at the 0.5 level with the voxel spacing (skimage), as SoilJ/BoneJ
  measure it. Faces of the image are not interface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.core.progress import Progress, TaskGenerator


@dataclass
class PoreSizeDistribution:
    """Share of void volume by local-thickness radius.

    Attributes
    ----------
    radius_mm : (bins,) float
        Bin centres.
    edges_mm : (bins + 1,) float
    volume_fraction : (bins,) float
        Share of the void voxels in each bin (sums to 1).
    mean_radius_mm
        Void-volume-weighted mean radius.
    """

    radius_mm: np.ndarray
    edges_mm: np.ndarray
    volume_fraction: np.ndarray
    mean_radius_mm: float

    def to_json(self) -> dict:
        return {"radius_mm": self.radius_mm.tolist(), "edges_mm": self.edges_mm.tolist(),
                "volume_fraction": self.volume_fraction.tolist(),
                "mean_radius_mm": self.mean_radius_mm}


def isotropic(void: np.ndarray, spacing_zyx) -> tuple[np.ndarray, float]:
    """``void`` resampled (nearest neighbour) to cubes of its smallest spacing, and that size."""
    from scipy import ndimage

    spacing = np.asarray(spacing_zyx, dtype=np.float64)
    size = float(spacing.min())
    factors = spacing / size
    if np.allclose(factors, 1.0):
        return void, size
    return ndimage.zoom(void.astype(np.uint8), factors, order=0, grid_mode=True,
                        mode="nearest").astype(bool), size


def pore_size_distribution(void: np.ndarray, spacing_zyx, bins: int = 10
                           ) -> PoreSizeDistribution:
    """Local-thickness pore size distribution of ``void`` (True = pore), radii in mm."""
    import porespy

    cubic, size = isotropic(np.asarray(void, dtype=bool), spacing_zyx)
    if not cubic.any():
        empty = np.zeros(bins)
        return PoreSizeDistribution(empty, np.zeros(bins + 1), empty, 0.0)
    thickness = porespy.filters.local_thickness(cubic, method="dt")
    radii = thickness[cubic] * size
    low, high = float(radii.min()), float(radii.max())
    if high <= low:
        high = low + size
    edges = np.linspace(low, high, bins + 1)
    psd = porespy.metrics.pore_size_distribution(thickness, bins=edges, log=False,
                                                 voxel_size=size)
    fraction = np.asarray(psd.satn, dtype=np.float64)
    return PoreSizeDistribution(np.asarray(psd.bin_centers, dtype=np.float64),
                                np.asarray(psd.bin_edges, dtype=np.float64), fraction,
                                float(radii.mean()))


def connected_porosity(void: np.ndarray, depth_axis: int = 0) -> float:
    """Share of all voxels that are void connected from the first to the last slice."""
    import porespy

    void = np.asarray(void, dtype=bool)
    if not void.any():
        return 0.0
    spanning = porespy.filters.trim_nonpercolating_paths(void, axis=depth_axis)
    return float(np.count_nonzero(spanning) / void.size)


def specific_surface_area(void: np.ndarray, spacing_zyx) -> float:
    """Pore–solid interface (marching cubes, mm²) per total volume (mm³), 1/mm."""
    from skimage import measure

    void = np.asarray(void, dtype=bool)
    if void.all() or not void.any() or min(void.shape) < 2:
        return 0.0
    verts, faces, _, _ = measure.marching_cubes(void.astype(np.float32), level=0.5,
                                                spacing=tuple(float(s) for s in spacing_zyx))
    area = float(measure.mesh_surface_area(verts, faces))
    volume = float(void.size * np.prod(np.asarray(spacing_zyx, dtype=np.float64)))
    return area / volume


@dataclass
class PoreMetrics:
    """The three further metrics of one void image."""

    what: str
    pore_size: PoreSizeDistribution
    connected_porosity: float
    specific_surface_area_per_mm: float

    def to_json(self) -> dict:
        return {"void_of": self.what, "pore_size": self.pore_size.to_json(),
                "connected_porosity": self.connected_porosity,
                "specific_surface_area_per_mm": self.specific_surface_area_per_mm}


def iter_pore_metrics(void: np.ndarray, spacing_zyx, depth_axis: int, what: str,
                      bins: int = 10) -> TaskGenerator[PoreMetrics]:
    """All three metrics of ``void``; yields a Progress after each."""
    yield Progress(0.0, f"pore size distribution ({what})")
    psd = pore_size_distribution(void, spacing_zyx, bins)
    yield Progress(0.5, f"connected porosity ({what})")
    connected = connected_porosity(void, depth_axis)
    yield Progress(0.75, f"specific surface area ({what})")
    ssa = specific_surface_area(void, spacing_zyx)
    return PoreMetrics(what, psd, connected, ssa)
