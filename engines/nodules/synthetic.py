"""Seeded synthetic chest CT with nodules: the workspace's embedded default data.

A scan is built in four steps (all vectorised numpy, one scan in a few seconds at 512²):

1. **Anatomy** (:mod:`engines.nodules.anatomy`), slice by slice: body, fat, muscle, lungs at
   ≈ −860 HU with a slow texture, mediastinum, heart, spine, sternum, diaphragm, liver,
   stomach gas, table, field of view; then tubes: ribs, aorta, pulmonary arteries, vena cava,
   trachea and bronchi, and the lung vessel (+40 HU) and airway trees
   (:mod:`engines.nodules.vessels`).
2. **Nodules** of 3–30 mm: solid (lobulated, some spiculated), part-solid (ground-glass halo
   with a solid core), ground-glass, juxta-pleural (merged with the chest wall) and
   juxta-vascular (touching a vessel); plus a few 1.5–3 mm findings that LUNA16 would list in
   ``annotations_excluded.csv``.
3. **Imaging**: a Gaussian point-spread function (0.45 mm in-plane, partial volume across the
   slice), correlated noise of 15–40 HU, 12-bit integers, the field of view outside a circle.
4. **Geometry**: in-plane spacing 0.6–0.8 mm, slices 1–2.5 mm apart, a scanner-like origin,
   and a quarter of the scans stored with z running downwards (direction z = −1), as some
   LUNA16 files are.

:func:`iter_write_dataset` writes a set in the LUNA16 layout (``subset0/<uid>.mhd`` + ``.raw``,
``annotations.csv``, ``annotations_excluded.csv``, ``candidates.csv`` with nodules as class 1
and axial vessel spots as class 0) or as DICOM series (one folder per scan, the annotations'
seriesuid being the SeriesInstanceUID). The same seed gives the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.core.config import param, validate
from engines.imaging.volume import Volume
from engines.nodules.anatomy import Chest, chest_tubes, draw_chest, lung_trees
from engines.nodules.vessels import Grid, Tubes, paint_blob, paint_tubes

SLICE_SPACINGS = (1.0, 1.25, 1.5, 2.0, 2.5)
KINDS = ("solid", "part_solid", "ground_glass", "juxta_pleural", "juxta_vascular")
KIND_WEIGHTS = (0.38, 0.12, 0.08, 0.21, 0.21)
FORMATS = ("luna16", "dicom")
MANIFEST = "synthetic.json"


def _range_check(value: tuple[float, float]) -> str | None:
    return None if len(value) == 2 and value[0] <= value[1] else "needs low <= high"


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic scans are drawn (defaults: adult chest CT like LUNA16's)."""

    matrix: int = param(512, label="Matrix", unit="px", range=(48, 1024),
                        help="pixels per row and column of a slice")
    pixel_mm: tuple[float, float] = param((0.6, 0.8), label="Pixel size", unit="mm",
                                          range=(0.3, 5.0), check=_range_check,
                                          help="in-plane spacing, drawn uniformly")
    slice_mm: tuple[float, float] = param((1.0, 2.5), label="Slice spacing", unit="mm",
                                          range=(0.5, 10.0), check=_range_check,
                                          help="drawn from 1, 1.25, 1.5, 2, 2.5 mm within "
                                               "this range (any value if none fits)")
    nodules: tuple[int, int] = param((1, 6), label="Nodules per scan", range=(0, 30),
                                     check=_range_check)
    diameter_mm: tuple[float, float] = param((3.0, 30.0), label="Nodule diameter", unit="mm",
                                             range=(1.0, 60.0), check=_range_check)
    noise_hu: tuple[float, float] = param((15.0, 40.0), label="Noise", unit="HU",
                                          range=(0.0, 200.0), check=_range_check)
    flip_fraction: float = param(0.25, label="Stored upside down", range=(0.0, 1.0),
                                 help="share of scans stored with z running downwards")
    vessel_min_mm: float = param(0.5, label="Finest vessel radius", unit="mm",
                                 range=(0.2, 5.0))
    max_segments: int = param(1500, label="Segments per vessel tree", range=(10, 20000))

    def __post_init__(self) -> None:
        validate(self)


def small_config(**changes) -> SyntheticConfig:
    """A small, fast configuration for tests: 96² slices of 3.5 mm pixels, 4–5 mm slices."""
    values = dict(matrix=96, pixel_mm=(3.5, 3.5), slice_mm=(4.0, 5.0), nodules=(2, 3),
                  diameter_mm=(10.0, 24.0), vessel_min_mm=1.5, max_segments=150)
    return SyntheticConfig(**{**values, **changes})


@dataclass(frozen=True)
class SyntheticNodule:
    """A painted nodule: world centre (x, y, z mm), diameter (mm), kind."""

    centre_xyz: tuple[float, float, float]
    diameter_mm: float
    kind: str


@dataclass
class SyntheticScan:
    """One synthetic scan with its truth.

    Attributes
    ----------
    volume : Volume
        HU (int16) in its stored orientation (z may run downwards).
    seriesuid : str
    nodules, excluded : list of SyntheticNodule
        Annotated nodules (≥ 3 mm) and excluded findings (smaller ones).
    vessel_points : (k, 3) float
        World centres of vessel stretches running along z (class-0 candidates).
    """

    volume: Volume
    seriesuid: str
    nodules: list[SyntheticNodule]
    excluded: list[SyntheticNodule] = field(default_factory=list)
    vessel_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))


def seriesuid_for(seed: int, index: int) -> str:
    """A DICOM-style UID for synthetic scan ``index`` of seed ``seed`` (deterministic)."""
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=[f"lablens-nodules-{seed}-{index}"])


# -- nodules ---------------------------------------------------------------------------------


def _random_in_lung(rng: np.random.Generator, chest: Chest, tries: int = 2000) -> np.ndarray:
    ac, bc = chest.cavity
    for _ in range(tries):
        p = rng.uniform([-ac, chest.cavity_y - bc, 0.0], [ac, chest.cavity_y + bc, chest.height])
        if chest.in_lung(p)[0]:
            return p
    raise RuntimeError("no point inside the lungs found")


def _sphere_directions(n: int = 26) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * i / n), np.pi * (1 + 5 ** 0.5) * i
    return np.column_stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi),
                            np.cos(phi)])


def _place(rng: np.random.Generator, chest: Chest, kind: str, radius: float, vessels: Tubes,
           taken: list[tuple[np.ndarray, float]]) -> np.ndarray | None:
    """A centre for a nodule of ``kind`` and ``radius`` (None when none fits)."""
    shell = _sphere_directions()
    for _ in range(200):
        if kind == "juxta_pleural":
            start = _random_in_lung(rng, chest)
            d = rng.normal(size=3)
            d[2] *= 0.3
            d /= np.linalg.norm(d)
            t = np.arange(0.5, 400.0, 0.5)
            outside = np.flatnonzero(~chest.in_lung(start + t[:, None] * d))
            if not outside.size:
                continue
            centre = start + (t[outside[0]] - radius * rng.uniform(0.35, 0.75)) * d
        elif kind == "juxta_vascular":
            mean_r = (vessels.r0 + vessels.r1) / 2
            pool = np.flatnonzero((mean_r > 0.8) & (mean_r < 3.0))
            if not pool.size:
                return None
            k = rng.choice(pool)
            axis = vessels.p1[k] - vessels.p0[k]
            axis /= max(np.linalg.norm(axis), 1e-9)
            n = rng.normal(size=3)
            n -= (n @ axis) * axis
            n /= np.linalg.norm(n)
            middle = vessels.p0[k] + rng.uniform(0.3, 0.7) * (vessels.p1[k] - vessels.p0[k])
            centre = middle + n * (radius + 0.3 * mean_r[k])
        else:
            centre = _random_in_lung(rng, chest)
        if not chest.in_lung(centre)[0]:
            continue
        if kind != "juxta_pleural" and not chest.in_lung(centre + (radius + 1.5) * shell).all():
            continue
        if any(np.linalg.norm(centre - c) < radius + r + 4.0 for c, r in taken):
            continue
        return centre
    return None


def _paint_nodule(volume: np.ndarray, grid: Grid, rng: np.random.Generator, centre: np.ndarray,
                  radius: float, kind: str, edge: float) -> None:
    def lobes(count: int, amplitude: float):
        return [(v / np.linalg.norm(v), rng.uniform(0.0, amplitude), rng.uniform(2.0, 5.0),
                 rng.uniform(0, 2 * np.pi)) for v in rng.normal(size=(count, 3))]

    if kind in ("part_solid", "ground_glass"):
        halo = rng.uniform(-680.0, -450.0) if kind == "part_solid" else rng.uniform(-720.0, -500.0)
        paint_blob(volume, grid, centre, radius, halo, edge + 0.6, lobes(3, 0.06))
        if kind == "part_solid":
            paint_blob(volume, grid, centre + rng.normal(size=3) * 0.1 * radius,
                       radius * rng.uniform(0.3, 0.6), rng.uniform(0.0, 50.0), edge,
                       lobes(2, 0.08))
        return
    hu = rng.uniform(15.0, 60.0)
    paint_blob(volume, grid, centre, radius, hu, edge, lobes(rng.integers(2, 4), 0.09))
    if kind == "solid" and radius >= 4.0 and rng.random() < 0.3:
        tips = rng.normal(size=(int(rng.integers(5, 10)), 3))
        tips /= np.linalg.norm(tips, axis=1, keepdims=True)
        ends = centre + tips * radius * rng.uniform(1.3, 1.9, size=(len(tips), 1))
        spikes = Tubes(np.repeat(centre[None], len(tips), 0), ends,
                       np.full(len(tips), rng.uniform(0.5, 0.8)), np.full(len(tips), 0.25))
        paint_tubes(volume, grid, spikes, hu, edge)


def _diameter(rng: np.random.Generator, low: float, high: float) -> float:
    if rng.random() < 0.7:
        d = float(np.exp(rng.uniform(np.log(3.5), np.log(12.0))))
    else:
        d = float(np.exp(rng.uniform(np.log(12.0), np.log(30.0))))
    return float(np.clip(d, low, high)) if low < high else float(low)


# -- one scan --------------------------------------------------------------------------------


def _slice_spacing(rng: np.random.Generator, low: float, high: float) -> float:
    fitting = [s for s in SLICE_SPACINGS if low <= s <= high]
    return float(rng.choice(fitting)) if fitting else float(rng.uniform(low, high))


def _linear_weights(n_out: int, step: float) -> np.ndarray:
    """(n_out, n_in) linear-interpolation weights from a coarse axis (``step`` coarse cells per
    output sample, offset by one cell) to a fine one."""
    position = np.arange(n_out) * step + 1.0
    low = np.floor(position).astype(int)
    frac = position - low
    weights = np.zeros((n_out, low.max() + 2))
    weights[np.arange(n_out), low] = 1.0 - frac
    weights[np.arange(n_out), low + 1] = frac
    return weights


def _texture(rng: np.random.Generator, grid: Grid, cell_mm: float = 12.0):
    """A slow unit-variance random field: ``field(k)`` is the (ny, nx) texture of slice k
    (a smoothed coarse grid, interpolated linearly)."""
    from scipy.ndimage import gaussian_filter

    wy = _linear_weights(grid.shape[1], grid.spacing[1] / cell_mm)
    wx = _linear_weights(grid.shape[2], grid.spacing[2] / cell_mm)
    wz = _linear_weights(grid.shape[0], grid.spacing[0] / cell_mm)
    coarse = gaussian_filter(rng.standard_normal((wz.shape[1], wy.shape[1], wx.shape[1])), 1.0)
    coarse /= max(coarse.std(), 1e-9)

    def field(k: int) -> np.ndarray:
        plane = np.tensordot(wz[k], coarse, axes=1)
        return (wy @ plane @ wx.T).astype(np.float32)

    return field


def _image(volume: np.ndarray, rng: np.random.Generator, grid: Grid, noise_hu: float
           ) -> np.ndarray:
    """In-plane point-spread blur (the slice profile is in the painting's edge ramp),
    correlated noise, 12-bit integers (int16)."""
    from scipy.ndimage import gaussian_filter

    sz, sy, sx = grid.spacing
    blurred = gaussian_filter(volume, (0.0, 0.45 / sy, 0.45 / sx), mode="nearest")
    sigma = 0.6
    gain = 2.0 * np.sqrt(np.pi) * sigma  # std of unit white noise after a 2-D Gaussian blur
    out = np.empty(volume.shape, np.int16)
    for k0 in range(0, volume.shape[0], 16):
        noise = gaussian_filter(rng.standard_normal((min(16, volume.shape[0] - k0),
                                                     *volume.shape[1:]), dtype=np.float32),
                                (0, sigma, sigma)) * np.float32(gain * noise_hu)
        out[k0:k0 + 16] = np.clip(np.rint(blurred[k0:k0 + 16] + noise), -3024, 3071)
    return out


def generate_scan(config: SyntheticConfig, seed: int, index: int = 0) -> SyntheticScan:
    """Synthetic scan ``index`` of the set drawn with ``seed`` (the module docstring)."""
    rng = np.random.default_rng([seed, index, 2024])
    sx = float(rng.uniform(*config.pixel_mm))
    sz = _slice_spacing(rng, *config.slice_mm)
    fov = config.matrix * sx
    chest = draw_chest(rng, fov)
    z_low, z_high = -35.0 * chest.scale, chest.height + 15.0 * chest.scale
    nz = int(np.ceil((z_high - z_low) / sz))
    n = config.matrix
    grid = Grid((nz, n, n), (sz, sx, sx), (z_low, -(n - 1) / 2 * sx, -(n - 1) / 2 * sx))
    outside = float(rng.choice([-1024.0, -2000.0, -3024.0]))
    texture = _texture(rng, grid)
    X, Y = grid.axis(2)[None, :], grid.axis(1)[:, None]
    volume = np.empty(grid.shape, np.float32)
    for k in range(nz):
        volume[k] = chest.paint_slice(grid.axis(0)[k], X, Y, texture(k), outside, fov / 2)
    edge = 0.25 + 0.2 * sz
    for _, tubes, hu, mode in chest_tubes(chest):
        paint_tubes(volume, grid, tubes, hu, edge, mode)
    vessels, airways = lung_trees(chest, rng, config.vessel_min_mm, config.max_segments)
    paint_tubes(volume, grid, vessels, 40.0, edge)
    paint_tubes(volume, grid, airways.scaled(1.15, 0.3), 30.0, edge)
    paint_tubes(volume, grid, airways, -1000.0, edge, mode="blend")
    taken: list[tuple[np.ndarray, float]] = []
    nodules, excluded = [], []
    low, high = config.nodules
    for count, bucket, small in ((int(rng.integers(low, high + 1)), nodules, False),
                                 (int(rng.integers(0, 3)), excluded, True)):
        for _ in range(count):
            kind = "solid" if small else str(rng.choice(KINDS, p=KIND_WEIGHTS))
            diameter = (float(rng.uniform(1.5, 2.9)) if small
                        else _diameter(rng, *config.diameter_mm))
            centre = _place(rng, chest, kind, diameter / 2, vessels, taken)
            if centre is None:
                continue
            taken.append((centre, diameter / 2))
            _paint_nodule(volume, grid, rng, centre, diameter / 2, kind, edge)
            bucket.append((centre, diameter, kind))
    hu = _image(volume, rng, grid, float(rng.uniform(*config.noise_hu)))
    del volume
    offset = np.array([rng.uniform(-15, 15), rng.uniform(-15, 15), rng.uniform(-380, -120)])
    origin = np.array([grid.origin[2], grid.origin[1], grid.origin[0]]) + offset
    direction = np.eye(3)
    if rng.random() < config.flip_fraction:
        hu = hu[::-1].copy()
        direction = np.diag([1.0, 1.0, -1.0])
        origin = origin + np.array([0.0, 0.0, (nz - 1) * sz])
    uid = seriesuid_for(seed, index)
    volume_out = Volume(hu, (sx, sx, sz), tuple(origin), direction, modality="CT",
                        metadata={"synthetic": {"seed": seed, "index": index}})

    def world(items):
        return [SyntheticNodule(tuple(float(v) for v in c + offset), round(d, 3), kind)
                for c, d, kind in items]

    return SyntheticScan(volume_out, uid, world(nodules), world(excluded),
                         _vessel_points(vessels, chest, taken) + offset)


def _vessel_points(vessels: Tubes, chest: Chest, taken: list, limit: int = 25) -> np.ndarray:
    """Centres of vessel stretches 1.5–4 mm in radius running within 35° of z, in the lungs and
    away from nodules: the look-alikes LUNA16's candidates.csv lists as class 0."""
    axis = vessels.p1 - vessels.p0
    length = np.linalg.norm(axis, axis=1)
    radius = (vessels.r0 + vessels.r1) / 2
    along_z = np.abs(axis[:, 2]) > 0.82 * np.maximum(length, 1e-9)
    middle = (vessels.p0 + vessels.p1) / 2
    keep = along_z & (radius >= 1.5) & (radius <= 4.0) & chest.in_lung(middle)
    for centre, r in taken:
        keep &= np.linalg.norm(middle - centre, axis=1) > 2 * r + 5
    return middle[keep][:limit]
