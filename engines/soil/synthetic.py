"""Synthetic soil cores (the embedded default sample data), written as real DICOM CT series.

A core is a cylinder along z (slices across it, 0.351 × 0.351 mm pixels and 0.25 mm slices as in
the paper) with an acrylic liner, air outside and above the soil, and inside: a mineral matrix
whose density follows the site's layers (a loosened top, a compacted plough pan, ...), air-
and water-filled pores at two scales (water in the smallest pores), particulate organic
matter, roots (tubes from the surface, tapering), earthworm burrows (wide tubes heading down),
stones and dense stones, and bounded CT noise. The axis is offset from the array centre by up
to ``offset_mm``. Everything is seeded.

The generator knows each voxel's material and hence its object band (see
:mod:`engines.soil.site_types`): :meth:`SyntheticCore.true_porosity` gives the porosity of
every object in any box. Clusters of one object smaller than ``CLEAN_CLUSTER`` voxels are
merged into their surroundings, so the paper's trimming (60 voxels) changes only clusters cut
by a crop's faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from engines.core.config import param, validate
from engines.core.progress import Progress, TaskGenerator
from engines.imaging.volume import Volume
from engines.soil import site_types as st
from engines.soil.preprocess import CropBox, PreprocessConfig
from engines.soil.synthetic_parts import (
    at_points,
    clean_small_clusters,
    coarse_field,
    paint_ellipsoid,
    paint_tube,
    upsample,
    water_in_smallest_pores,
)

CLEAN_CLUSTER = 120
SLAB = 32
FINE_MM, COARSE_MM, ORGANIC_MM, TEXTURE_MM = 0.8, 2.5, 1.2, 2.0


def _parse_shape(text: str) -> tuple[int, int, int]:
    from engines.core.errors import InputError

    try:
        values = tuple(int(v) for v in str(text).replace("x", ",").split(","))
    except ValueError:
        raise InputError(f"shape {text!r}: expected Z,Y,X voxel counts") from None
    if len(values) != 3:
        raise InputError(f"shape {text!r}: expected three voxel counts Z,Y,X")
    return values


@dataclass(frozen=True)
class SyntheticConfig:
    """Geometry and scanner of a synthetic core (the site type and seed are arguments)."""

    shape: tuple[int, int, int] = param((200, 192, 192), label="Shape Z, Y, X", unit="voxels",
                                        range=(8, 4096), parse=_parse_shape,
                                        format=lambda v: ",".join(map(str, v)),
                                        help="the paper's scans are 640,512,512")
    pixel_mm: float = param(0.351, label="Pixel size", unit="mm", range=(0.01, 10.0))
    slice_mm: float = param(0.25, label="Slice spacing", unit="mm", range=(0.01, 10.0))
    diameter_mm: float = param(60.0, label="Core diameter", unit="mm", range=(2.0, 1000.0),
                               help="outside of the liner (the paper's cores: 120)")
    wall_mm: float = param(2.5, label="Liner wall", unit="mm", range=(0.1, 50.0))
    offset_mm: float = param(3.0, label="Axis offset", unit="mm", range=(0.0, 100.0),
                             help="largest random offset of the axis from the array centre")
    noise_hu: float = param(12.0, label="CT noise", unit="HU", range=(0.0, 15.0),
                            help="Gaussian sigma, cut at 3 sigma")
    surface_gap: float = param(0.03, label="Air above the soil", range=(0.0, 0.5),
                               help="share of the slices above the soil surface")

    def __post_init__(self) -> None:
        validate(self)
        fov = min(self.shape[1:]) * self.pixel_mm
        if self.diameter_mm + 2 * self.offset_mm > fov - 2 * self.pixel_mm:
            from engines.core.errors import InputError

            raise InputError(f"a {self.diameter_mm:g} mm core offset by up to "
                             f"{self.offset_mm:g} mm does not fit in the {fov:.1f} mm field "
                             "of view")


#: The paper's scan: 640 slices of 512 × 512, a 12 cm core.
PAPER_SIZE = SyntheticConfig(shape=(640, 512, 512), diameter_mm=120.0, wall_mm=3.0,
                             offset_mm=8.0)


def object_of_materials(config: PreprocessConfig, noise_hu: float) -> np.ndarray:
    """Object band (1…n) of every material, checking that its HU range widened by the noise
    lies in one band.

    Raises
    ------
    ValueError
        When a material straddles a band edge under these settings.
    """
    from engines.soil.bands import band_labels

    out = np.zeros(len(st.MATERIALS), dtype=np.uint8)
    for code, material in enumerate(st.MATERIALS):
        low = max(material.hu[0] - 3 * noise_hu, st.SCANNER_FLOOR_HU)
        high = max(material.hu[1] + 3 * noise_hu, st.SCANNER_FLOOR_HU)
        bands = band_labels(np.array([[[low, high]]]), config).ravel()
        if bands[0] != bands[1]:
            raise ValueError(f"{material.name} ({low:g}…{high:g} HU) straddles a band edge")
        out[code] = bands[0]
    return out


@dataclass
class SyntheticCore:
    """A generated core.

    Attributes
    ----------
    volume
        HU (int16), ``[z, y, x]``, CT geometry.
    materials : (nz, ny, nx) uint8
        Material code of every voxel (:data:`engines.soil.site_types.MATERIALS`).
    site, seed
    axis_yx
        True axis position (row, column), voxels.
    radius_mm
        Outer radius of the liner.
    parameters
        The drawn per-core parameters (layers, counts).
    """

    volume: Volume
    materials: np.ndarray
    site: str
    seed: int
    axis_yx: tuple[float, float]
    radius_mm: float
    noise_hu: float
    parameters: dict

    def objects(self, config: PreprocessConfig | None = None) -> np.ndarray:
        """Object band (1…n) of every voxel, uint8 (exact: the noise never crosses a band)."""
        return object_of_materials(config or PreprocessConfig(), self.noise_hu)[self.materials]

    def true_porosity(self, box: CropBox, config: PreprocessConfig | None = None
                      ) -> dict[str, float]:
        """Porosity of every object in ``box``: 1 − the share of its voxels in that object."""
        config = config or PreprocessConfig()
        objects = object_of_materials(config, self.noise_hu)[self.materials[box.slices]]
        counts = np.bincount(objects.ravel(), minlength=config.n_objects + 1)
        return {name: 1.0 - counts[k] / objects.size
                for k, name in enumerate(config.object_names, 1)}

    def true_profile(self, box: CropBox, k: int, config: PreprocessConfig | None = None
                     ) -> np.ndarray:
        """Porosity of object ``k`` per z slice of ``box``."""
        objects = self.objects(config)[box.slices]
        return 1.0 - (objects == k).mean(axis=(1, 2))


def _jitter(rng: np.random.Generator, value: float, spread: float = 0.15) -> float:
    return float(value * rng.uniform(1 - spread, 1 + spread))


def _draw_layers(site: st.SiteType, rng: np.random.Generator) -> list[st.Layer]:
    layers = []
    for i, layer in enumerate(site.layers):
        top = 0.0 if i == 0 else float(np.clip(layer.top + rng.uniform(-0.03, 0.03), 0.02, 0.95))
        layers.append(replace(layer, top=top, pores=_jitter(rng, layer.pores),
                              organic=_jitter(rng, layer.organic),
                              water=min(0.95, _jitter(rng, layer.water))))
    return layers


def generate_core(site: str = "forest", seed: int = 0, config: SyntheticConfig | None = None
                  ) -> TaskGenerator[SyntheticCore]:
    """Generate one core; yields Progress, returns a :class:`SyntheticCore`."""
    config = config or SyntheticConfig()
    kind = st.site_type(site)
    rng = np.random.default_rng([seed, 0x5011])
    nz, ny, nx = config.shape
    spacing = (config.slice_mm, config.pixel_mm, config.pixel_mm)
    offset = rng.uniform(-1, 1, 2) * config.offset_mm / math.sqrt(2) / config.pixel_mm
    cy, cx = (ny - 1) / 2 + offset[0], (nx - 1) / 2 + offset[1]
    r_out = config.diameter_mm / 2 / config.pixel_mm
    r_in = r_out - config.wall_mm / config.pixel_mm
    layers = _draw_layers(kind, rng)
    tops = np.array([layer.top for layer in layers])
    steps = {name: (mm / config.slice_mm, mm / config.pixel_mm, mm / config.pixel_mm)
             for name, mm in (("fine", FINE_MM), ("coarse", COARSE_MM),
                              ("organic", ORGANIC_MM), ("texture", TEXTURE_MM))}
    fields = {name: coarse_field(rng, config.shape, step) for name, step in steps.items()}
    step_plane = (1, 12 / config.pixel_mm, 12 / config.pixel_mm)
    planes = [upsample(coarse_field(rng, (1, ny, nx), step_plane), step_plane, 0, 1, (ny, nx))[0]
              for _ in range(2)]
    surface = np.clip(nz * config.surface_gap + 2.0 * planes[0], 0, nz - 2)
    column = nz - float(np.median(surface))
    undulation = 0.02 * planes[1]
    # pore and organic thresholds per layer from samples of the fields inside each layer
    pore_thr, organic_thr = [], []
    bounds = np.r_[tops, 1.0]
    for i, layer in enumerate(layers):
        n = 4000
        depth = rng.uniform(bounds[i], bounds[i + 1], n)
        angle, radius = rng.uniform(0, 2 * np.pi, n), r_in * np.sqrt(rng.uniform(0, 1, n))
        points = np.c_[np.median(surface) + depth * column, cy + radius * np.sin(angle),
                       cx + radius * np.cos(angle)]
        mixed = ((1 - layer.coarse) * at_points(fields["fine"], steps["fine"], points)
                 + layer.coarse * at_points(fields["coarse"], steps["coarse"], points))
        pore_thr.append(np.quantile(mixed, 1 - layer.pores))
        organic = at_points(fields["organic"], steps["organic"], points)
        organic_thr.append(np.quantile(organic, 1 - min(0.9, layer.organic)))
    pore_thr, organic_thr = np.array(pore_thr), np.array(organic_thr)
    coarse_share = np.array([layer.coarse for layer in layers], dtype=np.float32)
    yy, xx = np.ogrid[:ny, :nx]
    r2 = (yy - cy) ** 2 + (xx - cx) ** 2
    materials = np.full(config.shape, st.OUTSIDE, dtype=np.uint8)
    layer_index = np.zeros(config.shape, dtype=np.uint8)
    for z0 in range(0, nz, SLAB):
        z1 = min(nz, z0 + SLAB)
        z = np.arange(z0, z1, dtype=np.float32)[:, None, None]
        depth = (z - surface) / np.maximum(nz - surface, 1.0)
        above = depth[..., None] >= tops + undulation[..., None]
        layer = np.clip(above.sum(-1) - 1, 0, len(layers) - 1).astype(np.uint8)
        layer_index[z0:z1] = layer
        mixed = ((1 - coarse_share[layer]) * upsample(fields["fine"], steps["fine"], z0, z1,
                                                      (ny, nx))
                 + coarse_share[layer] * upsample(fields["coarse"], steps["coarse"], z0, z1,
                                                  (ny, nx)))
        organic = upsample(fields["organic"], steps["organic"], z0, z1, (ny, nx))
        slab = np.where(mixed > pore_thr[layer], st.AIR,
                        np.where(organic > organic_thr[layer], st.ORGANIC, st.MATRIX))
        inside = np.broadcast_to(r2 <= r_in ** 2, slab.shape)
        slab = np.where(inside, slab, st.OUTSIDE).astype(np.uint8)
        slab[inside & (depth < 0)] = st.HEADSPACE
        slab[np.broadcast_to((r2 > r_in ** 2) & (r2 <= r_out ** 2), slab.shape)] = st.WALL
        materials[z0:z1] = slab
        yield Progress(0.5 * z1 / nz, f"structure: slice {z1}/{nz}")
    parameters = _paint_objects(materials, kind, rng, spacing, (cy, cx), r_in, surface, column)
    yield Progress(0.6, "water in the smallest pores")
    layer_of_z = layer_index[:, int(round(cy)), int(round(cx))]
    water_in_smallest_pores(materials, st.AIR, st.WATER, layer_of_z,
                            [layer.water for layer in layers])
    yield Progress(0.7, "merging clusters too small to resolve")
    objects_of = object_of_materials(PreprocessConfig(), config.noise_hu)
    clean_small_clusters(materials, objects_of, CLEAN_CLUSTER)
    hu = np.empty(config.shape, dtype=np.int16)
    low = np.array([m.hu[0] for m in st.MATERIALS], dtype=np.float32)
    span = np.array([m.hu[1] - m.hu[0] for m in st.MATERIALS], dtype=np.float32)
    matrix_low = np.array([layer.matrix_hu[0] for layer in layers], dtype=np.float32)
    matrix_span = np.array([np.ptp(layer.matrix_hu) for layer in layers], dtype=np.float32)
    for z0 in range(0, nz, SLAB):
        z1 = min(nz, z0 + SLAB)
        codes, layer = materials[z0:z1], layer_index[z0:z1]
        texture = np.clip(upsample(fields["texture"], steps["texture"], z0, z1, (ny, nx))
                          / 2.5, -1, 1) * 0.5 + 0.5
        is_matrix = codes == st.MATRIX
        base = np.where(is_matrix, matrix_low[layer] + matrix_span[layer] * texture,
                        low[codes] + span[codes] * texture)
        noise = np.random.default_rng([seed, 0x7015E, z0]).normal(0, config.noise_hu,
                                                                  codes.shape)
        values = base + np.clip(noise, -3 * config.noise_hu, 3 * config.noise_hu)
        hu[z0:z1] = np.rint(np.maximum(values, st.SCANNER_FLOOR_HU)).astype(np.int16)
        yield Progress(0.7 + 0.3 * z1 / nz, f"HU: slice {z1}/{nz}")
    volume = Volume(hu, spacing_xyz=(config.pixel_mm, config.pixel_mm, config.slice_mm),
                    origin_xyz=(-(nx - 1) / 2 * config.pixel_mm, -(ny - 1) / 2 * config.pixel_mm,
                                0.0), modality="CT",
                    metadata={"site": site, "seed": seed})
    parameters["layers"] = [{"name": layer.name, "top": layer.top, "pores": layer.pores,
                             "organic": layer.organic, "water": layer.water}
                            for layer in layers]
    return SyntheticCore(volume, materials, site, seed, (float(cy), float(cx)),
                         config.diameter_mm / 2, config.noise_hu, parameters)


def _paint_objects(materials, kind: st.SiteType, rng, spacing, axis_yx, r_in, surface,
                   column) -> dict:
    """Stones, roots and burrows inside the soil; returns their counts."""
    soil = np.zeros(len(st.MATERIALS), dtype=bool)
    soil[[st.MATRIX, st.AIR, st.ORGANIC, st.WATER]] = True
    nz = materials.shape[0]
    top = float(np.median(surface))
    area_cm2 = math.pi * (r_in * spacing[1]) ** 2 / 100.0
    volume_mm3 = area_cm2 * 100.0 * column * spacing[0]

    def inside_point(margin_px: float):
        angle = rng.uniform(0, 2 * np.pi)
        radius = max(r_in - margin_px, 0) * math.sqrt(rng.uniform(0, 1))
        return axis_yx[0] + radius * math.sin(angle), axis_yx[1] + radius * math.cos(angle)

    stones, stone_volume = 0, 0.0
    target = _jitter(rng, kind.stones) * volume_mm3
    while stone_volume < target and stones < 100_000:
        radii_mm = rng.uniform(*kind.stone_radius_mm) * rng.uniform(0.6, 1.0, 3)
        y, x = inside_point(radii_mm.max() / spacing[1])
        z = rng.uniform(top, nz)
        code = st.DENSE_STONE if rng.uniform() < kind.dense_share else st.STONE
        paint_ellipsoid(materials, (z, y, x), radii_mm / np.asarray(spacing), code, soil)
        stone_volume += 4 / 3 * math.pi * np.prod(radii_mm)
        stones += 1
    soil[[st.STONE, st.DENSE_STONE]] = False
    roots = rng.poisson(_jitter(rng, kind.roots_per_cm2) * area_cm2)
    for _ in range(roots):
        y, x = inside_point(2.0)
        length = kind.root_depth * column * spacing[0] * rng.uniform(0.4, 1.3)
        paint_tube(materials, rng, (top * spacing[0], y * spacing[1], x * spacing[2]),
                   rng.uniform(*kind.root_radius_mm), length, 0.25, spacing, st.ROOT, soil,
                   taper=0.4)
    soil[st.ROOT] = True
    burrows = rng.poisson(_jitter(rng, kind.burrows_per_cm2) * area_cm2)
    for _ in range(burrows):
        radius = rng.uniform(*kind.burrow_radius_mm)
        y, x = inside_point(radius / spacing[1] + 1)
        start = rng.uniform(top, top + 0.3 * column)
        paint_tube(materials, rng, (start * spacing[0], y * spacing[1], x * spacing[2]), radius,
                   column * spacing[0] * rng.uniform(0.3, 0.9), 0.12, spacing, st.BURROW, soil)
    return {"stones": stones, "roots": int(roots), "burrows": int(burrows)}
