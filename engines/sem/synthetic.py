"""Synthetic SEM micrographs of two-phase low-carbon steel, with their truth (the embedded
default sample data, DESIGN.md "Sample data").

A micrograph is a ferrite matrix (class 0) holding second-phase objects of martensite (1),
tempered martensite (2), bainite (3) and pearlite (4), as in the paper's data set (Azimi et
al., §5.1; ferrite grains with their boundaries are matrix). It is built in four steps:

1. **Objects.** Islands whose sizes follow a log-normal law (median diameter 100 px, i.e.
   3 µm at the nominal 0.03 µm/px; 32 px up to a quarter of the image), elliptical with a few
   random harmonics on the outline, placed without touching until they cover about 28 % of the
   image. Each takes one class; an image mixes the classes with Dirichlet weights, so some
   images are mostly one constituent, as real samples are.
2. **Matrix.** Ferrite grains (a Voronoi tessellation with wavy boundaries, mean diameter
   300 px) with a little orientation (channelling) contrast per grain, etched grain-boundary
   grooves, a few polishing scratches and etch pits.
3. **Substructure.** Objects are split into packets / sheaves / colonies (a second, finer
   tessellation); each packet gets an orientation and the texture of its class
   (:mod:`engines.sem.textures`); an object's base brightness varies around its class's, and
   the classes' ranges overlap, so only the texture tells them apart.
4. **SEM imaging.** The secondary-electron edge effect (bright rims), beam blur (σ 0.9 px),
   charging (a bright tail to the right of bright objects along the scan lines, slow drifts),
   brightness/contrast of the session, shot noise (σ ∝ √signal) and scan-line jitter.

Everything random is either drawn once per image (object list, tessellation seeds, smooth
fields) or hashed from pixel coordinates, so the image is rendered in strips of rows in
bounded memory: an 8000 × 7000 image with its truth takes well under 2 GB and about a minute
on one core. Seeded: the same seed gives the same image.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from engines.core.config import param, validate
from engines.core.errors import InputError
from engines.core.progress import Progress
from engines.sem.textures import TEXTURES, hash_float

CLASS_NAMES = ("ferrite (matrix)", "martensite", "tempered martensite", "bainite", "pearlite")
#: The paper's colours (Fig. 6/7): martensite red, tempered martensite green, bainite blue,
#: pearlite yellow; the matrix grey.
CLASS_COLOURS = ((150, 150, 150), (230, 40, 40), (40, 180, 60), (40, 100, 240), (240, 200, 0))
PIXEL_SIZE_UM = 0.03
MAX_PIXELS = 8000 * 8000
STRIP_ROWS = 512
_MARGIN = 8                       # rows rendered beyond a strip for the blur and boundaries
_COARSE = 4                       # the tessellations are computed at 1/4 resolution
_BASE = {1: 150.0, 2: 132.0, 3: 118.0, 4: 126.0}   # 8-bit base level of each class
_MATRIX_LEVEL = 72.0


@dataclass(frozen=True)
class SyntheticConfig:
    """How the synthetic micrographs look (sizes in pixels at 0.03 µm/px)."""

    object_fraction: float = param(0.28, label="Second-phase fraction", range=(0.02, 0.6),
                                   step=0.02, decimals=2, help="area share of the objects")
    object_diameter_px: float = param(100.0, label="Median object diameter", unit="px",
                                      range=(32.0, 2000.0), help="log-normal median")
    object_size_spread: float = param(0.55, label="Object size spread", range=(0.0, 1.5),
                                      step=0.05, decimals=2, help="σ of log(diameter)")
    min_object_diameter_px: float = param(32.0, label="Smallest object", unit="px",
                                          range=(8.0, 1000.0))
    grain_diameter_px: float = param(300.0, label="Ferrite grain size", unit="px",
                                     range=(40.0, 5000.0))
    packet_size_px: float = param(90.0, label="Packet / colony size", unit="px",
                                  range=(20.0, 2000.0))
    noise: float = param(1.0, label="Noise", range=(0.0, 5.0), step=0.1, decimals=2,
                         help="scale of the detector noise")
    charging: float = param(1.0, label="Charging", range=(0.0, 5.0), step=0.1, decimals=2)
    bits: int = param(8, label="Bits", choices=(8, 16), help="8- or 16-bit grey levels")
    data_bar_rows: int = param(0, label="Data bar", unit="rows", range=(0, 1000),
                               help="instrument data bar added below the image (not labelled)")

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class SyntheticMicrograph:
    """One generated micrograph and its truth.

    Attributes
    ----------
    image : (H + data_bar_rows, W) uint8 or uint16
        The SEM image (with the data bar at the bottom when there is one).
    labels : (H, W) uint8
        Class index per pixel (0 = ferrite matrix).
    objects : (H, W) int32
        Object id per pixel (0 = matrix, 1…n), the connected components of ``labels > 0``.
    object_classes : (n + 1,) uint8
        Class of each object id (entry 0 is the matrix).
    pixel_size_um : float
    """

    image: np.ndarray
    labels: np.ndarray
    objects: np.ndarray
    object_classes: np.ndarray
    pixel_size_um: float = PIXEL_SIZE_UM

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool binary object mask."""
        return self.objects > 0


class SmoothField:
    """A smooth random field sampled on a coarse grid (step px) and read bilinearly by rows."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int], step: float,
                 amplitude: float) -> None:
        from scipy.ndimage import gaussian_filter

        self.step = float(step)
        n = (int(shape[0] / step) + 3, int(shape[1] / step) + 3)
        grid = gaussian_filter(rng.normal(0.0, 1.0, n), 1.0, mode="wrap")
        self.grid = (grid * (amplitude / max(grid.std(), 1e-9))).astype(np.float32)

    def rows(self, r0: int, r1: int, width: int) -> np.ndarray:
        """(r1 - r0, width) float32 values of rows ``[r0, r1)``."""
        return self.window(r0, r1, 0, width)

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """(r1 - r0, c1 - c0) float32 values of rows ``[r0, r1)``, columns ``[c0, c1)``."""
        ty = np.arange(r0, r1, dtype=np.float64) / self.step
        tx = np.arange(c0, c1, dtype=np.float64) / self.step
        iy, ix = np.floor(ty).astype(int), np.floor(tx).astype(int)
        wy, wx = (ty - iy).astype(np.float32)[:, None], (tx - ix).astype(np.float32)[None, :]
        top = self.grid[iy] * (1 - wy) + self.grid[iy + 1] * wy
        return top[:, ix] * (1 - wx) + top[:, ix + 1] * wx


@dataclass
class _Objects:
    cy: np.ndarray
    cx: np.ndarray
    radius: np.ndarray       # equivalent radius, px
    aspect: np.ndarray
    angle: np.ndarray
    harmonics: np.ndarray    # (n, 4, 2): amplitude and phase of harmonics 2…5
    classes: np.ndarray

    @property
    def reach(self) -> np.ndarray:
        """Radius of a circle that holds each object, px."""
        return self.radius * np.sqrt(self.aspect) * (1.0 + self.harmonics[:, :, 0].sum(axis=1))


def _draw_shapes(rng: np.random.Generator, area: float, config: SyntheticConfig, high: float
                 ) -> _Objects:
    """Random object shapes whose areas add up to ``area`` px (positions and classes filled
    in later), largest first."""
    n = int(4 * area / (np.pi * (config.object_diameter_px / 2) ** 2)) + 16
    low = config.min_object_diameter_px / 2
    radius = np.clip(np.exp(rng.normal(np.log(config.object_diameter_px / 2),
                                       config.object_size_spread, n)), low, high)
    radius = np.sort(radius[:np.searchsorted(np.cumsum(np.pi * radius ** 2), area) + 1])[::-1]
    n = len(radius)
    aspect = 1.0 + 1.4 * rng.beta(1.5, 3.0, n)
    harmonics = np.stack([rng.uniform(0, 0.22, (n, 4)) / np.arange(2, 6) * 2,
                          rng.uniform(0, 2 * np.pi, (n, 4))], axis=2)
    zeros = np.zeros(n)
    return _Objects(zeros.copy(), zeros.copy(), radius, aspect, rng.uniform(0, np.pi, n),
                    harmonics, np.zeros(n, np.uint8))


def _footprint(objects: _Objects, k: int, rows: np.ndarray, cols: np.ndarray,
               grow: float | np.ndarray) -> np.ndarray:
    """Whether the pixels at ``rows`` (m, 1) x ``cols`` (1, n) (px) lie inside object ``k``
    grown by ``grow`` px."""
    dy = rows - np.float32(objects.cy[k])
    dx = cols - np.float32(objects.cx[k])
    c, s = np.cos(objects.angle[k]), np.sin(objects.angle[k])
    root = np.sqrt(objects.aspect[k])
    a, b = (dx * c + dy * s) / root, (dy * c - dx * s) * root
    theta = np.arctan2(b, a)
    outline = np.ones_like(theta)
    for h, (amplitude, phase) in enumerate(objects.harmonics[k], start=2):
        outline += amplitude * np.cos(h * theta + phase)
    return np.hypot(a, b) < objects.radius[k] * outline + grow / root


def _place_objects(rng: np.random.Generator, height: int, width: int,
                   config: SyntheticConfig) -> _Objects:
    """Non-touching objects covering about ``object_fraction`` of the image.

    Shapes are drawn first and placed largest first, each at the first of up to 30 random
    positions where it (grown by half the gap) does not meet an object placed before, checked
    on a quarter-resolution occupancy grid.
    """
    weights = rng.dirichlet(np.full(4, 1.5))
    target = config.object_fraction * height * width
    shapes = _draw_shapes(rng, target, config, max(
        config.min_object_diameter_px / 2, min(height, width) / 8))
    occupied = np.zeros((-(-height // _COARSE), -(-width // _COARSE)), dtype=bool)
    half_gap = 10.0        # wider than the outline roughness: objects never touch
    kept = []
    for k in range(len(shapes.radius)):
        reach = shapes.reach[k] + half_gap
        for cy, cx in zip(rng.uniform(0, height, 30), rng.uniform(0, width, 30), strict=True):
            shapes.cy[k], shapes.cx[k] = cy, cx
            y0, y1 = int(max(0, cy - reach)) // _COARSE, int(min(height, cy + reach)) // _COARSE
            x0, x1 = int(max(0, cx - reach)) // _COARSE, int(min(width, cx + reach)) // _COARSE
            window = occupied[y0:y1 + 1, x0:x1 + 1]
            rows = (np.arange(y0, y0 + window.shape[0], dtype=np.float32)[:, None] + 0.5) * _COARSE
            cols = (np.arange(x0, x0 + window.shape[1], dtype=np.float32)[None, :] + 0.5) * _COARSE
            inside = _footprint(shapes, k, rows, cols, half_gap + _COARSE)
            if not (window & inside).any():
                window |= inside
                kept.append(k)
                break
    if not kept:
        raise InputError("the image is too small for a single object")
    kept = np.array(kept)
    classes = rng.choice(np.arange(1, 5), len(kept), p=weights).astype(np.uint8)
    return _Objects(shapes.cy[kept], shapes.cx[kept], shapes.radius[kept], shapes.aspect[kept],
                    shapes.angle[kept], shapes.harmonics[kept], classes)


def _rasterise(objects: _Objects, height: int, width: int, rough: SmoothField) -> np.ndarray:
    """(H, W) int32 object ids (1…n; 0 = matrix); ``rough`` (px) roughens the outlines."""
    ids = np.zeros((height, width), dtype=np.int32)
    for k, reach in enumerate(objects.reach + 6.0):
        y0, y1 = int(max(0, objects.cy[k] - reach)), int(min(height, objects.cy[k] + reach + 1))
        x0, x1 = int(max(0, objects.cx[k] - reach)), int(min(width, objects.cx[k] + reach + 1))
        if y0 >= y1 or x0 >= x1:
            continue
        rows = np.arange(y0, y1, dtype=np.float32)[:, None]
        cols = np.arange(x0, x1, dtype=np.float32)[None, :]
        inside = _footprint(objects, k, rows, cols, rough.window(y0, y1, x0, x1))
        window = ids[y0:y1, x0:x1]
        window[inside & (window == 0)] = k + 1
    return ids


def _voronoi(rng: np.random.Generator, height: int, width: int, cell_px: float) -> np.ndarray:
    """(ceil(H/4), ceil(W/4)) int32 cell ids of a Voronoi tessellation with cells of about
    ``cell_px`` diameter, at quarter resolution."""
    from scipy.ndimage import distance_transform_edt

    shape = (-(-height // _COARSE), -(-width // _COARSE))
    n = max(2, int(round(height * width / (0.8 * cell_px ** 2))))
    sy = rng.integers(0, shape[0], n)
    sx = rng.integers(0, shape[1], n)
    free = np.ones(shape, dtype=bool)
    free[sy, sx] = False
    seed_id = np.zeros(shape, dtype=np.int32)
    seed_id[sy, sx] = np.arange(n, dtype=np.int32)
    iy, ix = distance_transform_edt(free, return_distances=False, return_indices=True)
    return seed_id[iy, ix]


class _Renderer:
    """Everything drawn once per image; renders any strip of rows."""

    def __init__(self, seed: int, height: int, width: int, config: SyntheticConfig) -> None:
        from engines.imaging.image_display import boundary_mask

        self._boundary = boundary_mask
        rng = np.random.default_rng(seed)
        self.seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        self.height, self.width, self.config = height, width, config
        self.objects = _place_objects(rng, height, width, config)
        self.ids = _rasterise(self.objects, height, width,
                              SmoothField(rng, (height, width), 9, 2.5))
        n = len(self.objects.cy)
        self.object_classes = np.concatenate([[0], self.objects.classes]).astype(np.uint8)
        base = np.array([_MATRIX_LEVEL] + [_BASE[int(c)] for c in self.objects.classes])
        self.object_level = (base + np.r_[0.0, rng.normal(0, 9, n)]).astype(np.float32)
        self.object_angle = np.r_[0.0, rng.uniform(0, np.pi, n)].astype(np.float32)
        self.grains = _voronoi(rng, height, width, config.grain_diameter_px)
        self.grain_tone = rng.normal(0, 6, self.grains.max() + 1).astype(np.float32)
        self.packets = _voronoi(rng, height, width, config.packet_size_px)
        shape = (height, width)
        self.warp = [SmoothField(rng, shape, 60, 10.0) for _ in range(4)]
        self.bend = SmoothField(rng, shape, 45, 3.0)
        self.drift = SmoothField(rng, shape, 700, 6.0 * config.charging)
        n_scratches = rng.poisson(3)
        self.scratches = np.stack([rng.uniform(0, np.pi, n_scratches),
                                   rng.uniform(-0.3, 1.3, n_scratches) * max(shape),
                                   rng.uniform(0.8, 2.0, n_scratches)], axis=1)
        self.pits = np.stack([rng.uniform(0, height, int(height * width / 2e5)),
                              rng.uniform(0, width, int(height * width / 2e5))], axis=1)
        self.gain = rng.uniform(0.85, 1.15)
        self.offset = rng.uniform(-12, 12)
        self.row_jitter = rng.normal(0, 1.5 * config.noise, height).astype(np.float32)

    def _cells(self, coarse: np.ndarray, y: np.ndarray, x: np.ndarray, fy: SmoothField,
               fx: SmoothField, r0: int, r1: int) -> np.ndarray:
        wy, wx = fy.rows(r0, r1, self.width), fx.rows(r0, r1, self.width)
        iy = np.clip(((y + wy) / _COARSE).astype(np.int64), 0, coarse.shape[0] - 1)
        ix = np.clip(((x + wx) / _COARSE).astype(np.int64), 0, coarse.shape[1] - 1)
        return coarse[iy, ix]

    def _texture(self, image: np.ndarray, ids: np.ndarray, packet: np.ndarray, y: np.ndarray,
                 x: np.ndarray, r0: int, r1: int) -> None:
        classes = self.object_classes[ids]
        bend = self.bend.rows(r0, r1, self.width)
        for cls, texture in TEXTURES.items():
            where = np.nonzero(classes == cls)
            if not where[0].size:
                continue
            obj, pk = ids[where].astype(np.int64), packet[where].astype(np.int64)
            key = obj * 1_000_003 + pk
            if cls == 3:   # bainite: sheaves nearly parallel across an object
                theta = self.object_angle[obj] + 0.5 * (hash_float(self.seed, key, 7) - 0.5)
            else:
                theta = np.pi * hash_float(self.seed, key, 7)
            py, px = y[where[0], 0], x[0, where[1]]
            c, s = np.cos(theta), np.sin(theta)
            u = -px * s + py * c + bend[where]
            v = px * c + py * s
            image[where] = self.object_level[obj] + texture(u, v, key, self.seed)

    def _matrix_features(self, image: np.ndarray, grains: np.ndarray, y: np.ndarray,
                         x: np.ndarray, r0: int) -> None:
        image -= 26.0 * _dilate(self._boundary(grains))
        for angle, offset, width in self.scratches:
            distance = np.abs(x * np.cos(angle) + y * np.sin(angle) - offset)
            image -= 10.0 * (distance < width)
        rows = (self.pits[:, 0] >= r0 - 3) & (self.pits[:, 0] < r0 + image.shape[0] + 3)
        for py, px in self.pits[rows]:
            iy, ix = int(py) - r0, int(px)
            image[max(iy - 1, 0):max(iy + 2, 0), max(ix - 1, 0):ix + 2] -= 30.0

    def strip(self, r0: int, r1: int) -> np.ndarray:
        """(r1 - r0, W) float32 image rows ``[r0, r1)`` (8-bit scale, before quantisation)."""
        from scipy.ndimage import gaussian_filter
        from scipy.signal import lfilter

        m0, m1 = max(0, r0 - _MARGIN), min(self.height, r1 + _MARGIN)
        y = np.arange(m0, m1, dtype=np.float32)[:, None]
        x = np.arange(self.width, dtype=np.float32)[None, :]
        ids = self.ids[m0:m1]
        grains = self._cells(self.grains, y, x, self.warp[0], self.warp[1], m0, m1)
        packets = self._cells(self.packets, y, x, self.warp[2], self.warp[3], m0, m1)
        image = _MATRIX_LEVEL + self.grain_tone[grains]
        self._matrix_features(image, grains, y, x, m0)
        inside = ids > 0
        self._texture(image, ids, packets, y, x, m0, m1)
        image += 22.0 * _dilate(self._boundary(ids))        # SE edge effect
        image = gaussian_filter(image, 0.9, mode="nearest")
        image, inside = image[r0 - m0:r1 - m0], inside[r0 - m0:r1 - m0]
        bright = inside.astype(np.float32)
        tail = lfilter([0.03], [1.0, -0.97], bright, axis=1).astype(np.float32)
        image += 9.0 * self.config.charging * tail * (1.0 - bright)
        image += self.drift.rows(r0, r1, self.width)
        image = image * self.gain + self.offset + self.row_jitter[r0:r1, None]
        rng = np.random.default_rng([self.seed, r0])
        image += rng.standard_normal(image.shape, dtype=np.float32) * (
            0.9 * self.config.noise * np.sqrt(np.clip(image, 1.0, None)))
        return image


def _dilate(edge: np.ndarray) -> np.ndarray:
    """A boundary mask grown by one pixel (4-neighbours), as float32."""
    grown = edge.copy()
    grown[1:] |= edge[:-1]
    grown[:-1] |= edge[1:]
    grown[:, 1:] |= edge[:, :-1]
    grown[:, :-1] |= edge[:, 1:]
    return grown.astype(np.float32)


def _check_size(height: int, width: int) -> None:
    if min(height, width) < 64:
        raise InputError(f"synthetic micrographs need at least 64 × 64 px, got {height} × "
                         f"{width}")
    if height * width > MAX_PIXELS:
        raise InputError(f"synthetic micrographs are at most {MAX_PIXELS:,} px, got "
                         f"{height} × {width}")


def iter_generate(height: int, width: int, seed: int, config: SyntheticConfig | None = None
                  ) -> Generator[Progress, None, SyntheticMicrograph]:
    """Generate one micrograph strip by strip; yields Progress, returns it.

    Parameters
    ----------
    height, width
        Size of the labelled field, px (the data bar, if any, is added below).
    seed
        Any non-negative integer; the same seed gives the same micrograph.
    """
    config = config or SyntheticConfig()
    _check_size(height, width)
    yield Progress(0.0, "placing objects")
    renderer = _Renderer(seed, height, width, config)
    bar = config.data_bar_rows
    dtype = np.uint16 if config.bits == 16 else np.uint8
    image = np.empty((height + bar, width), dtype=dtype)
    scale = 257.0 if config.bits == 16 else 1.0
    for r0 in range(0, height, STRIP_ROWS):
        r1 = min(height, r0 + STRIP_ROWS)
        rows = renderer.strip(r0, r1) * scale
        image[r0:r1] = np.clip(rows, 0, np.iinfo(dtype).max).astype(dtype)
        yield Progress(r1 / height, f"rows {r1}/{height}")
    if bar:
        image[height:] = _data_bar(bar, width, seed, np.iinfo(dtype).max)
    labels = renderer.object_classes[renderer.ids]
    return SyntheticMicrograph(image, labels, renderer.ids, renderer.object_classes)


def _data_bar(rows: int, width: int, seed: int, white: int) -> np.ndarray:
    """An instrument data bar: black with white 'text' blocks and a scale bar."""
    bar = np.zeros((rows, width), dtype=np.int64)
    rng = np.random.default_rng([seed, 99])
    top, bottom = rows // 4, max(rows // 4 + 1, 3 * rows // 4)
    x = width // 40
    while x < width * 0.7:
        run = int(rng.integers(width // 80 + 1, width // 25 + 2))
        bar[top:bottom, x:x + run] = rng.integers(white // 2, white + 1)
        x += run + int(rng.integers(width // 100 + 1, width // 30 + 2))
    bar[rows // 2 - 1:rows // 2 + 2, int(width * 0.78):int(width * 0.95)] = white
    return bar
