"""The synthetic chest's anatomy: shapes as functions of body coordinates, drawn slice by slice.

Body coordinates are mm with X towards the patient's left, Y posterior, Z superior (LPS), the
origin on the body axis at the lowest point of the lungs. One :class:`Chest` (drawn by
:func:`draw_chest`) holds every size; its methods take arrays of X, Y, Z (any broadcastable
shapes) so that the same definitions paint a slice and test where a point lies (nodule
placement, vessel growth).

What a slice shows (HU before blur and noise): air outside, a body outline with subcutaneous
fat and a muscle layer, the thoracic cavity with the two lungs (≈ −860 HU with a slow
texture and a denser dependent band), the mediastinum (fat) and heart, the vertebral body,
canal and spinous process, the sternum, the diaphragm domes with the liver under the right one
and a stomach gas bubble under the left one, the table under the back, and the scanner's
circular field of view. Ribs, great vessels, airways and the lung vessels are tubes painted
afterwards (:mod:`engines.nodules.vessels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.nodules.vessels import Tubes, grow_tree

HU_AIR = -1000.0
HU_FAT = -100.0
HU_MUSCLE = 45.0
HU_BLOOD = 40.0
HU_LIVER = 60.0
HU_BONE = 850.0
HU_MARROW = 240.0
HU_DISC = 90.0
HU_CSF = 15.0


@dataclass(frozen=True)
class Chest:
    """Sizes of one synthetic chest, mm (body coordinates, module docstring)."""

    a: float              # body half-width
    b: float              # body half-depth
    fat: float            # subcutaneous fat thickness
    muscle: float         # muscle (and rib) layer thickness
    height: float         # lung height, base (Z = 0) to apex
    dome_right: float     # height of the right and left diaphragm domes
    dome_left: float
    lung_hu: float        # parenchyma
    cavity_a: float       # half-axes of the thoracic cavity (inner surface of the ribs)
    cavity_b: float
    cavity_y: float       # centre of the cavity (Y; the back wall is thicker)
    spine_y: float        # centre of the vertebral body (Y)
    spine_r: float        # vertebral body radius
    heart: tuple[float, float, float, float, float, float]  # centre X, Y, Z, semi-axes
    table_y: float        # top of the table (Y, below the back)

    @property
    def scale(self) -> float:
        """Organ sizes relative to an adult chest 300 mm wide."""
        return self.a / 150.0

    @property
    def cavity(self) -> tuple[float, float]:
        """Half-axes of the thoracic cavity at mid height (its centre is at ``cavity_y``)."""
        return self.cavity_a, self.cavity_b

    def taper(self, Z: np.ndarray) -> np.ndarray:
        """Cavity scale at height Z: 1 below 60 % of the lung height, narrowing to the apex."""
        top = np.clip((self.height + 8.0 - Z) / (0.45 * self.height), 0.0, 1.0)
        return np.sqrt(top) * 0.94 + 0.06 * (Z < self.height + 8.0)

    def mediastinum_halfwidth(self, Y, Z) -> np.ndarray:
        """Half-width of the mediastinum, narrower towards the front."""
        front = np.clip((self.cavity_y - Y) / self.cavity_b, 0.0, 1.0)
        return ((0.17 + 0.05 * np.clip(1.0 - Z / self.height, 0.0, 1.0)) * self.a
                * (1.0 - 0.45 * front))

    def in_cavity(self, X, Y, Z) -> np.ndarray:
        s = np.maximum(self.taper(Z), 1e-6)
        return ((X / (self.cavity_a * s)) ** 2
                + ((Y - self.cavity_y) / (self.cavity_b * s)) ** 2) < 1.0

    def dome(self, X, Y) -> np.ndarray:
        """Height of the diaphragm under (X, Y): two paraboloid domes, the right one higher."""
        ac, bc = self.cavity
        y = (Y - self.cavity_y + 0.1 * bc) / (0.95 * bc)
        right = self.dome_right * (1.0 - ((X + 0.45 * ac) / (0.62 * ac)) ** 2 - y ** 2)
        left = self.dome_left * (1.0 - ((X - 0.45 * ac) / (0.62 * ac)) ** 2 - y ** 2)
        return np.maximum(np.maximum(right, left), 0.0)

    def in_heart(self, X, Y, Z, margin: float = 0.0) -> np.ndarray:
        cx, cy, cz, ax, ay, az = self.heart
        return (((X - cx) / (ax + margin)) ** 2 + ((Y - cy) / (ay + margin)) ** 2
                + ((Z - cz) / (az + margin)) ** 2) < 1.0

    def lung_side(self, X, Y, Z, dome: np.ndarray | None = None) -> np.ndarray:
        """0 outside the lungs, 1 in the right lung (X < 0), 2 in the left one (``dome``:
        :meth:`dome` of (X, Y) when already known)."""
        dome = self.dome(X, Y) if dome is None else dome
        inside = self.in_cavity(X, Y, Z) & (Z > dome) & (Z < self.height)
        inside &= np.abs(X - 0.03 * self.a) > self.mediastinum_halfwidth(Y, Z)
        inside &= ~self.in_heart(X, Y, Z, margin=4.0 * self.scale)
        inside &= X ** 2 + (Y - self.spine_y) ** 2 > (self.spine_r + 8.0 * self.scale) ** 2
        return np.where(inside, np.where(X < 0, 1, 2), 0).astype(np.int8)

    def in_lung(self, points_xyz: np.ndarray) -> np.ndarray:
        """(n,) bool for points (n, 3) X, Y, Z."""
        p = np.asarray(points_xyz, dtype=np.float64).reshape(-1, 3)
        return self.lung_side(p[:, 0], p[:, 1], p[:, 2]) > 0

    def hila(self) -> tuple[np.ndarray, np.ndarray]:
        """Right and left hilum (X, Y, Z), where the lung vessels and bronchi enter."""
        y = self.cavity_y + 0.05 * self.cavity_b
        w = self.mediastinum_halfwidth(y, 0.58 * self.height)
        return (np.array([-(w + 6.0 * self.scale) + 0.03 * self.a, y, 0.56 * self.height]),
                np.array([w + 6.0 * self.scale + 0.03 * self.a, y, 0.61 * self.height]))

    # -- one slice ---------------------------------------------------------------------------
    def paint_slice(self, Z: float, X: np.ndarray, Y: np.ndarray, texture: np.ndarray,
                    outside_hu: float, fov_radius: float) -> np.ndarray:
        """HU of the axial slice at height ``Z`` on the grid ``X`` (1, nx), ``Y`` (ny, 1).

        ``texture`` (ny, nx) is a slow random field (unit variance) for the parenchyma.
        """
        p = 2.3
        depth = np.where(Y > 0, 0.95 * self.b, self.b)  # the back is flatter
        rho = (np.abs(X / self.a) ** p + np.abs(Y / depth) ** p) ** (1 / p)
        hu = np.full(np.broadcast_shapes(X.shape, Y.shape), HU_AIR, np.float32)
        body = rho < 1.0
        hu[body] = HU_MUSCLE
        fat_edge = 1.0 - self.fat / self.a * (1.0 + 0.3 * np.cos(2.0 * np.arctan2(Y, X)))
        hu[body & (rho > fat_edge)] = HU_FAT
        cavity = self.in_cavity(X, Y, Z)
        dome = self.dome(X, Y)
        abdomen = cavity & (Z <= dome)
        hu[cavity] = HU_FAT  # mediastinal and extrapleural fat unless something else is there
        hu[abdomen] = HU_MUSCLE - 5.0
        ac, bc = self.cavity
        liver = abdomen & (X < 0.25 * ac)
        hu[liver] = HU_LIVER
        bubble = abdomen & (((X - 0.45 * ac) / (0.28 * ac)) ** 2
                            + ((Y - self.cavity_y + 0.2 * bc) / (0.3 * bc)) ** 2
                            + ((Z - (dome - 12.0 * self.scale)) / (9.0 * self.scale)) ** 2 < 1.0)
        hu[bubble] = HU_AIR
        heart = self.in_heart(X, Y, Z) & cavity & ~abdomen
        hu[heart] = HU_BLOOD
        lungs = self.lung_side(X, Y, Z, dome) > 0
        dependent = np.clip(((Y - self.cavity_y) / bc - 0.55) / 0.45, 0.0, 1.0) * 45.0
        hu[lungs] = (self.lung_hu + 18.0 * texture + dependent)[lungs]
        self._paint_bones(hu, Z, X, Y)
        table = (Y > self.table_y) & (Y < self.table_y + 6.0) & (np.abs(X) < 1.05 * self.a)
        hu[table & ~body] = 150.0
        hu[(X ** 2 + Y ** 2) > fov_radius ** 2] = outside_hu
        return hu

    def _paint_bones(self, hu: np.ndarray, Z: float, X: np.ndarray, Y: np.ndarray) -> None:
        s = self.scale
        r = self.spine_r
        d2 = X ** 2 + (Y - self.spine_y) ** 2
        disc = (Z % (26.0 * s)) < 5.5 * s
        hu[d2 < r ** 2] = HU_BONE
        hu[d2 < (r - 2.2 * s) ** 2] = HU_DISC if disc else HU_MARROW
        canal_y = self.spine_y + r + 8.0 * s
        c2 = X ** 2 + (Y - canal_y) ** 2
        hu[(c2 < (8.0 * s + 3.0 * s) ** 2) & (c2 >= (8.0 * s) ** 2)] = HU_BONE
        hu[c2 < (8.0 * s) ** 2] = HU_CSF
        spinous = (np.abs(X) < 4.0 * s) & (Y > canal_y + 10.0 * s) \
            & (Y < self.b - self.fat - 6.0 * s)
        hu[spinous] = HU_BONE * 0.8
        if 0.3 * self.height < Z < 0.88 * self.height:
            sy = self.cavity_y - self.cavity_b - 5.0 * s
            e = (X / (15.0 * s)) ** 2 + ((Y - sy) / (5.5 * s)) ** 2
            hu[e < 1.0] = HU_BONE
            hu[(X / (13.0 * s)) ** 2 + ((Y - sy) / (3.5 * s)) ** 2 < 1.0] = HU_MARROW + 100.0


def draw_chest(rng: np.random.Generator, fov_mm: float) -> Chest:
    """A random adult chest that fits a field of view ``fov_mm`` wide."""
    a = fov_mm * rng.uniform(0.37, 0.44)
    b = a * rng.uniform(0.68, 0.8)
    s = a / 150.0
    fat = rng.uniform(6.0, 24.0) * s
    muscle = rng.uniform(7.0, 12.0) * s
    height = a * rng.uniform(1.35, 1.6)
    side = fat + muscle + 8.0 * s
    front, back = 0.6 * (fat + muscle) + 6.0 * s, 0.5 * fat + 0.8 * muscle + 8.0 * s
    cavity_b = (b - front + 0.95 * b - back) / 2.0
    cavity_y = (-b + front + 0.95 * b - back) / 2.0
    cavity_a = a - side
    spine_r = rng.uniform(15.0, 19.0) * s
    heart = (0.14 * a + rng.uniform(-5, 5) * s, cavity_y - 0.3 * cavity_b, 0.24 * height,
             0.42 * cavity_a, 0.5 * cavity_b, 0.21 * height)
    return Chest(a=a, b=b, fat=fat, muscle=muscle, height=height,
                 dome_right=rng.uniform(0.17, 0.24) * height,
                 dome_left=rng.uniform(0.12, 0.18) * height,
                 lung_hu=rng.uniform(-875.0, -835.0), cavity_a=cavity_a, cavity_b=cavity_b,
                 cavity_y=cavity_y, spine_y=cavity_y + cavity_b - 0.3 * spine_r,
                 spine_r=spine_r, heart=heart, table_y=b * 0.95 + rng.uniform(3.0, 15.0))


# -- tubes: ribs, great vessels, airways and the lung trees ----------------------------------


def _smooth_path(points: list[tuple[float, float, float]], per_segment: int = 6) -> np.ndarray:
    """A polyline through ``points`` with ``per_segment`` linear steps between each pair."""
    points = np.asarray(points, dtype=np.float64)
    steps = np.linspace(0.0, 1.0, per_segment, endpoint=False)
    out = [p + t * (q - p) for p, q in zip(points[:-1], points[1:], strict=True) for t in steps]
    return np.vstack([*out, points[-1]])


def rib_paths(chest: Chest) -> list[np.ndarray]:
    """One polyline (k, 3) per rib, from beside the spine round the cavity and forwards,
    sloping down towards the front; the last part is costal cartilage (see
    :func:`chest_tubes`)."""
    ac, bc = chest.cavity
    s, height = chest.scale, chest.height
    paths = []
    for k in range(12):
        z_back = height * (1.0 - 0.083 * k)
        phi = np.arange(0.28, 2.8 - 0.05 * k, 0.05)
        z = z_back - 0.33 * height * (phi / np.pi) ** 1.2
        taper = chest.taper(z)
        for side in (-1.0, 1.0):
            x = side * (ac + 6.0 * s) * taper * np.sin(phi)
            y = chest.cavity_y + (bc + 6.0 * s) * taper * np.cos(phi)
            paths.append(np.column_stack([x, y, z]))
    return paths


def chest_tubes(chest: Chest) -> list[tuple[str, Tubes, float, str]]:
    """The fixed tubes of the chest as ``(name, tubes, HU, mode)`` in painting order: ribs
    (cortex, marrow, cartilage), aorta, pulmonary trunk and arteries, superior vena cava,
    oesophagus, trachea and main bronchi (wall, then lumen)."""
    s, a, b, height = chest.scale, chest.a, chest.b, chest.height
    ribs, marrow, cartilage = [], [], []
    for path in rib_paths(chest):
        cut = max(2, int(0.86 * len(path)))
        ribs.append(Tubes.path(path[:cut], 4.6 * s))
        marrow.append(Tubes.path(path[:cut], 2.5 * s))
        cartilage.append(Tubes.path(path[cut - 1:], 3.8 * s))
    back = chest.spine_y - chest.spine_r
    aorta = _smooth_path([(0.05 * a, -0.2 * b, 0.36 * height), (0.05 * a, -0.14 * b, 0.72 * height),
                          (0.1 * a, 0.05 * b, 0.82 * height),
                          (0.13 * a, back - 10.0 * s, 0.74 * height),
                          (0.13 * a, back - 10.0 * s, -40.0)])
    trunk = _smooth_path([(0.1 * a, -0.32 * b, 0.36 * height), (0.07 * a, -0.12 * b, 0.56 * height)])
    right_hilum, left_hilum = chest.hila()
    arteries = [_smooth_path([trunk[-1], tuple(h)]) for h in (right_hilum, left_hilum)]
    svc = _smooth_path([(-0.12 * a, -0.12 * b, 0.42 * height), (-0.1 * a, -0.1 * b, height + 40)])
    oesophagus = _smooth_path([(0.04 * a, back - 6.0 * s, -20.0), (0.02 * a, back - 6.0 * s,
                                                                   height + 40)])
    carina = np.array([0.0, back - 20.0 * s, 0.64 * height])
    trachea = _smooth_path([(0.0, back - 20.0 * s, height + 60), tuple(carina)])
    bronchi = [_smooth_path([tuple(carina), tuple(h + np.array([0.0, 6.0 * s, 9.0 * s]))])
               for h in (right_hilum, left_hilum)]
    airway = Tubes.concat([Tubes.path(trachea, 8.0 * s)]
                          + [Tubes.path(p, 5.5 * s) for p in bronchi])
    return [
        ("ribs", Tubes.concat(ribs), HU_BONE, "max"),
        ("rib marrow", Tubes.concat(marrow), HU_MARROW, "blend"),
        ("costal cartilage", Tubes.concat(cartilage), 120.0, "max"),
        ("aorta", Tubes.path(aorta, 12.0 * s), HU_BLOOD, "max"),
        ("pulmonary arteries", Tubes.concat([Tubes.path(trunk, 11.0 * s)]
                                            + [Tubes.path(p, 8.0 * s) for p in arteries]),
         HU_BLOOD, "max"),
        ("superior vena cava", Tubes.path(svc, 8.0 * s), HU_BLOOD, "max"),
        ("oesophagus", Tubes.path(oesophagus, 6.0 * s), HU_MUSCLE, "max"),
        ("airway wall", airway.scaled(1.0, 2.0 * s), HU_MUSCLE - 10.0, "max"),
        ("airway lumen", airway, HU_AIR, "blend"),
    ]


#: Lobar directions from a hilum (X towards the lateral side): up, lateral, down, back-down.
LOBAR_DIRECTIONS = ((0.45, 0.1, 1.0), (1.0, 0.15, 0.05), (0.4, 0.25, -1.0), (0.3, 0.9, -0.6),
                    (0.5, -0.6, 0.2))


def lung_trees(chest: Chest, rng: np.random.Generator, r_min: float, max_segments: int
               ) -> tuple[Tubes, Tubes]:
    """The lung vessels (arteries and veins of both lungs) and the bronchial tree below the
    main bronchi, grown from the hila (:func:`engines.nodules.vessels.grow_tree`)."""
    s = chest.scale
    vessels, airways = [], []
    for hilum, side in zip(chest.hila(), (-1.0, 1.0), strict=True):
        for offset, radius in (((0.0, -4.0, -3.0), 4.6), ((0.0, 5.0, -10.0), 4.0)):
            start = hilum + np.array(offset) * s
            roots = [(start, np.array([side * dx, dy, dz]), radius * s * rng.uniform(0.85, 1.1))
                     for dx, dy, dz in LOBAR_DIRECTIONS]
            vessels.append(grow_tree(rng, roots, chest.in_lung, hilum, r_min=r_min,
                                     max_segments=max_segments))
        start = hilum + np.array([0.0, 6.0, 9.0]) * s
        roots = [(start, np.array([side * dx, dy, dz]), 3.6 * s)
                 for dx, dy, dz in LOBAR_DIRECTIONS[:4]]
        airways.append(grow_tree(rng, roots, chest.in_lung, hilum, r_min=max(0.9, r_min),
                                 max_segments=max_segments // 4))
    return Tubes.concat(vessels), Tubes.concat(airways)
