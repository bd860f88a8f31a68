"""2-D slice boxes → 3-D nodule candidates.

**Linking.** Slices are visited in order; a box joins the track whose last box (on one of the
``max_gap + 1`` slices before) it overlaps best — centres closer than ``link_distance`` × the
larger box side —, else it starts a track. A slice contributes at most one box per track.

**Measuring.** A sphere cut by consecutive slices gives circles of radius
``r(z) = sqrt(R² − (z − z_c)²)`` about one centre. So a track is reduced to its *core*, the run
of slices around its largest box where boxes are at least half that size (which also parts a
nodule from a vessel running on from it), and on the core

* the centre ``z_c`` is the mean slice weighted by score × r² (r² is symmetric about z_c), the
  in-plane centre the score-weighted mean box centre;
* the diameter is ``2 · median sqrt(r_k² + (z_k − z_c)²)`` over the core, kept within 1–1.3 ×
  the largest box;
* the probability is the mean of the best ``m`` slice scores, ``m`` = the number of slices that
  a sphere of that diameter should show at half its width or more (0.87·D / Δz, between 1 and
  3), a missing slice counting as 0: a vessel seen on one slice where a nodule of its size
  would show on three scores a third.

**Shape rules** (the vessels' fingerprint): a core much longer in z than wide
(``max_elongation``) is a vessel running along z; a core on fewer slices than ``min_span`` of
those expected for its width (at most three) is a cross-section seen once. The elongation is
``(k − 2) · Δz / D`` for a core on ``k`` slices: the planes of a core of length ``L`` number at
most ``L / Δz + 1``, so ``(k − 2) · Δz`` never exceeds the true length, and a sphere (whose
half-width core is ``0.87 D`` long) stays at or below 0.87 whatever its size and the slice
spacing — where ``(k − 1) · Δz / D`` gave a 5 mm nodule on 2.5 mm slices up to 1.37.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engines.core.review_items import Box, box_from_2d
from engines.imaging.volume import Volume
from engines.nodules.boxes import box_centres


@dataclass
class Candidate:
    """A 3-D nodule candidate.

    Attributes
    ----------
    id : int
        1-based rank by probability within its scan.
    probability : float
        In [0, 1] (module docstring).
    centre_zyx : (3,) float
        Fractional voxel index of the centre (integer = voxel centre).
    world_xyz : (3,) float
        World (LPS) centre, mm.
    diameter_mm : float
    z : (k,) int64
        Slices of the core, with their ``boxes`` (k, 4) x0, y0, x1, y1 (voxel-edge units) and
        ``scores`` (k,).
    checks : dict
        Measured shape figures: ``elongation``, ``expected_slices``, ``shell`` (3-D check).
    """

    id: int
    probability: float
    centre_zyx: np.ndarray
    world_xyz: tuple[float, float, float]
    diameter_mm: float
    z: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    checks: dict[str, float] = field(default_factory=dict)

    @property
    def slice_range(self) -> range:
        return range(int(self.z.min()), int(self.z.max()) + 1)

    def box(self, spacing_xyz: tuple[float, float, float]) -> Box:
        """The review box: the sphere's square in-plane, the core's slices in z
        (``(z0, y0, x0, z1, y1, x1)`` voxel-edge units)."""
        zc, yc, xc = self.centre_zyx
        rx, ry = self.diameter_mm / 2 / spacing_xyz[0], self.diameter_mm / 2 / spacing_xyz[1]
        return box_from_2d(yc + 0.5 - ry, xc + 0.5 - rx, yc + 0.5 + ry, xc + 0.5 + rx,
                           self.slice_range.start, self.slice_range.stop)


def link_tracks(z: np.ndarray, boxes: np.ndarray, scores: np.ndarray, max_gap: int = 1,
                link_distance: float = 0.5) -> list[np.ndarray]:
    """Group slice boxes into tracks (module docstring); returns row indices per track, each
    sorted by slice."""
    z = np.asarray(z, dtype=np.int64)
    boxes = np.reshape(boxes, (-1, 4))
    order = np.lexsort((-np.asarray(scores), z))
    centres = box_centres(boxes)
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    tracks: list[list[int]] = []
    active: list[int] = []  # track indices whose last slice is recent
    for row in order:
        zr = z[row]
        active = [t for t in active if z[tracks[t][-1]] >= zr - 1 - max_gap]
        best, best_distance = -1, np.inf
        for t in active:
            last = tracks[t][-1]
            if z[last] == zr:
                continue
            distance = float(np.hypot(*(centres[row] - centres[last])))
            if distance <= link_distance * max(sides[row], sides[last]) \
                    and distance < best_distance:
                best, best_distance = t, distance
        if best >= 0:
            tracks[best].append(row)
        else:
            tracks.append([row])
            active.append(len(tracks) - 1)
    return [np.asarray(t, dtype=np.int64) for t in tracks]


def _core(size: np.ndarray) -> slice:
    """The run around the largest entry where entries are at least half of it."""
    top = int(np.argmax(size))
    big = size >= 0.5 * size[top]
    start, stop = top, top + 1
    while start > 0 and big[start - 1]:
        start -= 1
    while stop < len(size) and big[stop]:
        stop += 1
    return slice(start, stop)


def measure_track(volume: Volume, z: np.ndarray, boxes: np.ndarray, scores: np.ndarray
                  ) -> Candidate:
    """A :class:`Candidate` (id 0, no shape check yet) from one track sorted by slice."""
    sx, sy, sz = volume.spacing_xyz
    radius = ((boxes[:, 2] - boxes[:, 0]) * sx + (boxes[:, 3] - boxes[:, 1]) * sy) / 4.0
    core = _core(radius)
    z, boxes, scores, radius = z[core], boxes[core], scores[core], radius[core]
    weights = scores * radius ** 2
    zc = float(np.sum(weights * z) / max(np.sum(weights), 1e-12))
    centre_xy = (box_centres(boxes) * scores[:, None]).sum(axis=0) / max(scores.sum(), 1e-12)
    spread = np.sqrt(radius ** 2 + ((z - zc) * sz) ** 2)
    r_max = float(radius.max())
    diameter = float(np.clip(2.0 * np.median(spread), 2.0 * r_max, 2.6 * r_max))
    expected = 0.866 * diameter / sz
    m = int(np.clip(np.floor(expected), 1, 3))
    best = np.sort(scores)[::-1][:m]
    probability = float(np.sum(best) / m)
    centre = np.array([zc, centre_xy[1] - 0.5, centre_xy[0] - 0.5])
    world = tuple(float(v) for v in volume.voxel_to_world(centre))
    elongation = max(len(z) - 2, 0) * sz / diameter
    return Candidate(0, probability, centre, world, diameter, z, boxes, scores,
                     {"elongation": elongation, "expected_slices": expected})


def passes_shape_rules(candidate: Candidate, max_elongation: float, min_span: float) -> bool:
    """The vessel rules of the module docstring."""
    n = len(candidate.z)
    if n >= 3 and candidate.checks["elongation"] > max_elongation:
        return False
    needed = min(3, int(np.ceil(min_span * candidate.checks["expected_slices"])))
    return n >= needed
