"""Tubes and blobs painted into a synthetic CT: the lung vessel and airway trees, and the
painter that also draws ribs, great vessels and nodules.

A tree grows from a root (the hilum) by segments: each segment runs ``6–10`` radii along its
direction, or less where the lung ends, then splits in two by Murray's law
(``r³ = r₁³ + r₂³``, asymmetric), the children turned 15–65° about a random axis and bent
outwards from the hilum so that the tree fills the lung. It stops below ``r_min``. Vessels
running along z are seen in axial slices as round spots — the look-alikes of small nodules.

Painting is by distance: a voxel's occupancy rises linearly from 0 to 1 across ``2 × edge``
mm around the surface (partial volume), and the value is blended towards the tube's HU,
either only brightening (``mode="max"``: vessels, bone, solid tissue) or replacing
(``"blend"``: airway lumen). Everything is mm in body coordinates (X, Y, Z) on a
:class:`Grid`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Voxel grid of the synthetic volume: ``shape`` (nz, ny, nx), ``spacing`` (sz, sy, sx) mm,
    ``origin`` (Z, Y, X) body mm of voxel [0, 0, 0]."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    def axis(self, k: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.shape[k] if stop is None else stop
        return self.origin[k] + self.spacing[k] * np.arange(start, stop)

    def index_range(self, k: int, low: float, high: float) -> tuple[int, int]:
        """Voxel index range ``[i0, i1)`` along array axis ``k`` covering ``[low, high]`` mm."""
        i0 = int(np.floor((low - self.origin[k]) / self.spacing[k]))
        i1 = int(np.ceil((high - self.origin[k]) / self.spacing[k])) + 1
        return max(i0, 0), min(i1, self.shape[k])


@dataclass
class Tubes:
    """Straight tube segments with a linearly varying radius: ``p0``, ``p1`` (n, 3) as X, Y, Z
    mm; ``r0``, ``r1`` (n,) mm."""

    p0: np.ndarray
    p1: np.ndarray
    r0: np.ndarray
    r1: np.ndarray

    def __len__(self) -> int:
        return len(self.r0)

    @staticmethod
    def path(points: np.ndarray, radius: np.ndarray | float) -> Tubes:
        """Consecutive segments through ``points`` (k, 3), radius per point or constant."""
        points = np.asarray(points, dtype=np.float64)
        radius = np.broadcast_to(np.asarray(radius, dtype=np.float64), (len(points),))
        return Tubes(points[:-1], points[1:], radius[:-1].copy(), radius[1:].copy())

    @staticmethod
    def concat(parts: list[Tubes]) -> Tubes:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Tubes(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0), np.zeros(0))
        return Tubes(*(np.concatenate([getattr(p, n) for p in parts])
                       for n in ("p0", "p1", "r0", "r1")))

    def scaled(self, factor: float, add: float = 0.0) -> Tubes:
        """The same axes with radii ``r × factor + add`` (walls around a lumen)."""
        return Tubes(self.p0, self.p1, self.r0 * factor + add, self.r1 * factor + add)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _perpendicular(rng: np.random.Generator, d: np.ndarray) -> np.ndarray:
    v = rng.normal(size=3)
    return _unit(v - (v @ d) * d)


def _rotate(d: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of ``d`` about unit ``axis`` (perpendicular to d) by ``angle``."""
    return _unit(d * np.cos(angle) + np.cross(axis, d) * np.sin(angle))


def free_length(p: np.ndarray, d: np.ndarray, inside: Callable[[np.ndarray], np.ndarray],
                max_length: float, step: float = 1.0) -> float:
    """How far (mm) one can go from ``p`` along ``d`` before leaving ``inside``."""
    t = np.arange(step, max_length + step, step)
    ok = inside(p[None, :] + t[:, None] * d[None, :])
    out = np.flatnonzero(~ok)
    return float(t[out[0]] - step) if out.size else float(max_length)


def grow_tree(rng: np.random.Generator, roots: list[tuple[np.ndarray, np.ndarray, float]],
              inside: Callable[[np.ndarray], np.ndarray], centre: np.ndarray, *,
              r_min: float = 0.5, max_segments: int = 4000, bias: float = 0.15) -> Tubes:
    """Grow a branching tree (module docstring) from ``roots`` [(point, direction, radius)];
    ``centre`` is where the tree bends away from (the hilum). Breadth first, so a segment
    budget cuts the finest branches, not whole regions."""
    queue = deque((np.asarray(p, float), _unit(np.asarray(d, float)), float(r))
                  for p, d, r in roots)
    p0, p1, r0, r1 = [], [], [], []
    while queue and len(r0) < max_segments:
        p, d, r = queue.popleft()
        length = r * rng.uniform(6.0, 10.0) + rng.uniform(1.5, 4.0)
        free = free_length(p, d, inside, length + 2.0 * r)
        for _ in range(4):  # near the pleura: turn along it rather than stop
            if free >= 0.4 * length:
                break
            turned = _rotate(d, _perpendicular(rng, d), np.radians(rng.uniform(30.0, 80.0)))
            room = free_length(p, turned, inside, length + 2.0 * r)
            if room > free:
                d, free = turned, room
        if free < 1.5 + 0.5 * r:
            continue
        length = min(length, free - 0.5 * r)
        q = p + d * length
        r_end = r * rng.uniform(0.9, 0.97)
        p0.append(p), p1.append(q), r0.append(r), r1.append(r_end)
        if r_end < r_min:
            continue
        ratio = rng.uniform(0.5, 1.0)
        big = r_end / (1.0 + ratio ** 3) ** (1.0 / 3.0)
        axis = _perpendicular(rng, d)
        outward = _unit(q - centre)
        for radius, angle in ((big, rng.uniform(12.0, 35.0)), (big * ratio,
                                                               -rng.uniform(30.0, 65.0))):
            child = _rotate(d, axis, np.radians(angle))
            queue.append((q, _unit(child + bias * outward), radius))
    return Tubes(np.asarray(p0).reshape(-1, 3), np.asarray(p1).reshape(-1, 3),
                 np.asarray(r0, float), np.asarray(r1, float))


def paint_tubes(volume: np.ndarray, grid: Grid, tubes: Tubes, hu: float, edge: float,
                mode: str = "max") -> None:
    """Paint ``tubes`` into ``volume`` (float32, ``grid.shape``) in place (module docstring)."""
    for i in range(len(tubes)):
        p0, p1 = tubes.p0[i], tubes.p1[i]
        reach = max(tubes.r0[i], tubes.r1[i]) + 2.0 * edge
        lo, hi = np.minimum(p0, p1) - reach, np.maximum(p0, p1) + reach
        (k0, k1), (j0, j1), (i0, i1) = (grid.index_range(a, lo[2 - a], hi[2 - a])
                                        for a in range(3))
        if k0 >= k1 or j0 >= j1 or i0 >= i1:
            continue
        dz = grid.axis(0, k0, k1)[:, None, None] - p0[2]
        dy = grid.axis(1, j0, j1)[None, :, None] - p0[1]
        dx = grid.axis(2, i0, i1)[None, None, :] - p0[0]
        axis = p1 - p0
        length2 = max(float(axis @ axis), 1e-12)
        t = np.clip((dx * axis[0] + dy * axis[1] + dz * axis[2]) / length2, 0.0, 1.0)
        dist = np.sqrt((dx - t * axis[0]) ** 2 + (dy - t * axis[1]) ** 2
                       + (dz - t * axis[2]) ** 2)
        radius = tubes.r0[i] + t * (tubes.r1[i] - tubes.r0[i])
        _composite(volume[k0:k1, j0:j1, i0:i1], (radius - dist) / (2.0 * edge), hu, mode)


def paint_blob(volume: np.ndarray, grid: Grid, centre: np.ndarray, radius: float, hu: float,
               edge: float, lobes: list[tuple[np.ndarray, float, float, float]] = (),
               mode: str = "max") -> None:
    """Paint a lobulated ball: surface radius ``radius × (1 + Σ a cos(ω u·w + φ))`` for lobes
    ``(w, a, ω, φ)`` (w a unit vector, u the direction from the centre)."""
    reach = radius * (1.0 + sum(abs(a) for _, a, _, _ in lobes)) + 2.0 * edge
    (k0, k1), (j0, j1), (i0, i1) = (grid.index_range(a, centre[2 - a] - reach,
                                                     centre[2 - a] + reach) for a in range(3))
    if k0 >= k1 or j0 >= j1 or i0 >= i1:
        return
    dz = grid.axis(0, k0, k1)[:, None, None] - centre[2]
    dy = grid.axis(1, j0, j1)[None, :, None] - centre[1]
    dx = grid.axis(2, i0, i1)[None, None, :] - centre[0]
    dist = np.sqrt(dx ** 2 + dy ** 2 + dz ** 2)
    surface = np.full(dist.shape, radius)
    if lobes:
        safe = np.maximum(dist, 1e-6)
        for w, amplitude, omega, phase in lobes:
            cosine = (dx * w[0] + dy * w[1] + dz * w[2]) / safe
            surface = surface + radius * amplitude * np.cos(omega * cosine + phase)
    _composite(volume[k0:k1, j0:j1, i0:i1], (surface - dist) / (2.0 * edge), hu, mode)


def _composite(region: np.ndarray, ramp: np.ndarray, hu: float, mode: str) -> None:
    occupancy = np.clip(ramp + 0.5, 0.0, 1.0).astype(np.float32)
    target = region + occupancy * (np.float32(hu) - region)
    if mode == "max":
        np.maximum(region, target, out=region)
    elif mode == "blend":
        region[...] = target
    else:
        raise ValueError(f"mode must be 'max' or 'blend', got {mode!r}")
