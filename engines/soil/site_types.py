"""Materials and site types of the synthetic soil cores.

Materials carry an HU range for their noise-free value. Every range, widened by the bounded CT
noise (at most 3 σ of :attr:`SyntheticConfig.noise_hu`), lies inside one object band of the
paper's preprocessing, so the generator knows each voxel's object exactly:

=============  =============  ========  ============================================
material       HU             object    note
=============  =============  ========  ============================================
air            −1000          2         outside, above the soil, pores, burrows; the
                                        scanner floors values at −1024 HU
organic        −330 … −150    2         particulate organic matter
root           −160 … −70     2         living roots (water-rich tissue, air-filled)
water          +100 … +200    3         pore water with suspended clay
wall           +100 … +140    3         acrylic liner
matrix         layer range    4         mineral matrix, +1100 … +1950
stone          +2250 … +2900  5         quartz / feldspar stones
dense stone    +3250 … +3850  6         iron-rich concretions, basalt
=============  =============  ========  ============================================

Site types differ in their layers (depth given as a fraction of the soil column, so a short
test core keeps every layer), roots, earthworm burrows and stones; each core draws its own
parameters around the site's (±15 %), so cores of one site are alike and sites differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.core.registry import Registry


@dataclass(frozen=True)
class Material:
    """A material of the phantom: its name and the range of its noise-free HU."""

    name: str
    hu: tuple[float, float]


OUTSIDE, WALL, HEADSPACE, MATRIX, AIR, WATER, ORGANIC, ROOT, STONE, DENSE_STONE, BURROW = \
    range(11)
MATERIALS: tuple[Material, ...] = (
    Material("outside air", (-1000.0, -1000.0)),
    Material("wall", (100.0, 140.0)),
    Material("air above the soil", (-1000.0, -1000.0)),
    Material("mineral matrix", (1100.0, 1950.0)),  # each layer uses a part of this range
    Material("air-filled pore", (-1000.0, -1000.0)),
    Material("pore water", (100.0, 200.0)),
    Material("organic matter", (-330.0, -150.0)),
    Material("root", (-160.0, -70.0)),
    Material("stone", (2250.0, 2900.0)),
    Material("dense stone", (3250.0, 3850.0)),
    Material("earthworm burrow", (-1000.0, -1000.0)),
)
SCANNER_FLOOR_HU = -1024.0


@dataclass(frozen=True)
class Layer:
    """A soil layer.

    Attributes
    ----------
    name
    top
        Where it begins, as a fraction of the soil column from the surface (0 = surface).
    pores
        Volume fraction of pores (air or water).
    coarse
        Share of the coarse (about 2.5 mm, inter-aggregate) scale in the pore pattern; the rest
        is the fine (about 0.8 mm) scale.
    matrix_hu
        HU range of the matrix (compacted layers are denser).
    organic
        Volume fraction of particulate organic matter.
    water
        Share of the pore volume filled with water (the smallest pores first).
    """

    name: str
    top: float
    pores: float
    coarse: float
    matrix_hu: tuple[float, float]
    organic: float
    water: float


@dataclass(frozen=True)
class SiteType:
    """A land use with its soil structure statistics (sizes in mm, counts per cm² of the core's
    cross-section)."""

    name: str
    label: str
    layers: tuple[Layer, ...]
    roots_per_cm2: float
    root_radius_mm: tuple[float, float]
    root_depth: float
    burrows_per_cm2: float
    burrow_radius_mm: tuple[float, float]
    stones: float
    stone_radius_mm: tuple[float, float]
    dense_share: float


SITE_TYPES: Registry[SiteType] = Registry("site type")

_SITES = (
    SiteType("forest", "Forest (litter and humus over A and B horizons, coarse roots)", (
        Layer("litter and humus", 0.0, 0.34, 0.6, (1150.0, 1450.0), 0.10, 0.15),
        Layer("A horizon", 0.2, 0.24, 0.4, (1300.0, 1700.0), 0.04, 0.3),
        Layer("B horizon", 0.55, 0.14, 0.25, (1450.0, 1850.0), 0.01, 0.45)),
        roots_per_cm2=0.8, root_radius_mm=(0.45, 1.5), root_depth=0.7, burrows_per_cm2=0.05,
        burrow_radius_mm=(1.5, 3.0), stones=0.05, stone_radius_mm=(1.5, 6.0), dense_share=0.25),
    SiteType("grassland", "Grassland (dense root mat, many earthworm burrows)", (
        Layer("root mat", 0.0, 0.28, 0.3, (1250.0, 1550.0), 0.05, 0.3),
        Layer("A horizon", 0.15, 0.2, 0.3, (1350.0, 1700.0), 0.02, 0.4)),
        roots_per_cm2=2.5, root_radius_mm=(0.4, 0.8), root_depth=0.5, burrows_per_cm2=0.25,
        burrow_radius_mm=(1.5, 3.5), stones=0.01, stone_radius_mm=(1.0, 3.0), dense_share=0.0),
    SiteType("arable", "Arable (loosened plough layer over a compacted plough pan)", (
        Layer("plough layer", 0.0, 0.30, 0.75, (1200.0, 1500.0), 0.025, 0.25),
        Layer("plough pan", 0.42, 0.05, 0.1, (1750.0, 1950.0), 0.0, 0.6),
        Layer("subsoil", 0.55, 0.13, 0.3, (1500.0, 1850.0), 0.005, 0.5)),
        roots_per_cm2=0.3, root_radius_mm=(0.4, 0.7), root_depth=0.4, burrows_per_cm2=0.12,
        burrow_radius_mm=(1.5, 3.0), stones=0.03, stone_radius_mm=(1.5, 5.0), dense_share=0.3),
)
for _site in _SITES:
    SITE_TYPES.register(_site.name)(lambda site=_site: site)
SITE_NAMES = tuple(s.name for s in _SITES)


def site_type(name: str) -> SiteType:
    """The site type called ``name``; unknown names list the valid ones."""
    return SITE_TYPES.create(name)
