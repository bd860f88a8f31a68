"""Synthetic CT phantoms for the imaging tests, benchmarks and pictures (HU, LPS geometry).

Both are built in world millimetres, so a structure lands on the same patient side whatever
the spacing or the direction of the grid.
"""

from __future__ import annotations

import numpy as np

from engines.imaging.volume import Volume

#: chest phantom labels
LUNG, NODULE, SPINE, MARKER = 1, 2, 3, 4  # SPINE: the spine and the ribs
#: soil phantom labels
PORE, STONE, ROOT = 1, 2, 3


def _world_grid(shape_zyx, spacing_xyz, direction, centre_xyz=(0.0, 0.0, 0.0)):
    """Volume geometry centred on ``centre_xyz`` and the world x, y, z of every voxel."""
    direction = np.asarray(direction, dtype=np.float64)
    spacing = np.asarray(spacing_xyz, dtype=np.float64)
    half = (np.asarray(shape_zyx[::-1], dtype=np.float64) - 1) / 2
    origin = np.asarray(centre_xyz) - direction @ (spacing * half)
    probe = Volume(np.zeros((1, 1, 1), np.int8), tuple(spacing), tuple(origin), direction)
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in shape_zyx], indexing="ij"), axis=-1)
    world = probe.voxel_to_world(zyx.reshape(-1, 3)).reshape(*shape_zyx, 3)
    return tuple(origin), world[..., 0], world[..., 1], world[..., 2]


def chest_phantom(shape_zyx=(40, 96, 128), spacing_xyz=(2.5, 2.5, 5.0), direction=None,
                  seed: int = 0) -> tuple[Volume, Volume]:
    """A chest-like CT and its label map.

    An elliptic body (+40 HU) in air (−1000), two lungs (−850) with vessels (+40), a spine and
    ribs (+700, one label), a 12 mm nodule (+40) in the patient's left lung (+x), and a 10 mm
    bone marker (+1200) in the left, anterior, superior part of the body (x > 0, y < 0, z > 0)
    for orientation tests.
    """
    direction = np.eye(3) if direction is None else direction
    origin, x, y, z = _world_grid(shape_zyx, spacing_xyz, direction)
    a = 0.45 * shape_zyx[2] * spacing_xyz[0]
    b = 0.35 * shape_zyx[1] * spacing_xyz[1]
    half_z = 0.5 * shape_zyx[0] * spacing_xyz[2]
    body = (x / a) ** 2 + (y / b) ** 2 <= 1
    lungs = (((np.abs(x) - 0.45 * a) / (0.33 * a)) ** 2 + (y / (0.7 * b)) ** 2
             + (z / (0.8 * half_z)) ** 2 <= 1)
    spine = (x ** 2 + (y - 0.75 * b) ** 2 <= (0.12 * a) ** 2)
    shell = (x / (0.93 * a)) ** 2 + (y / (0.93 * b)) ** 2
    ribs = (shell >= 0.88 ** 2) & (shell <= 1) & (np.cos(2 * np.pi * z / 25.0) > 0.5) \
        & (np.abs(x) > 0.15 * a)
    rng = np.random.default_rng(seed)
    vessels = np.zeros(x.shape, bool)
    for side in (-1, 1):
        hilum = np.array([side * 0.3 * a, 0.0, 0.0])
        for _ in range(6):
            heading = rng.normal(size=3) * (1.0, 1.0, 2.0)
            heading[0] = side * abs(heading[0])
            heading /= np.linalg.norm(heading)
            offset = np.stack([x, y, z], -1) - hilum
            along = np.clip(offset @ heading, 0.0, 0.7 * a)
            vessels |= np.linalg.norm(offset - along[..., None] * heading, axis=-1) <= 1.6
    nodule = (x - 0.45 * a) ** 2 + (y + 0.15 * b) ** 2 + z ** 2 <= 6.0 ** 2
    marker = (x - 0.5 * a) ** 2 + (y + 0.6 * b) ** 2 + (z - 0.6 * half_z) ** 2 <= 5.0 ** 2
    hu = np.full(x.shape, -1000.0)
    hu[body] = 40.0
    hu[lungs] = -850.0
    hu[lungs & vessels] = 40.0
    hu[spine | ribs] = 700.0
    hu[nodule] = 40.0
    hu[marker] = 1200.0
    hu += rng.normal(0.0, 15.0, hu.shape)
    labels = np.zeros(x.shape, np.uint8)
    labels[lungs] = LUNG
    labels[spine | ribs] = SPINE
    labels[nodule] = NODULE
    labels[marker] = MARKER
    ct = Volume(hu.astype(np.int16), tuple(spacing_xyz), origin, direction, modality="CT")
    return ct, ct.with_array(labels)


def soil_core_phantom(shape_zyx=(64, 80, 80), spacing_xyz=(0.351, 0.351, 0.25),
                      seed: int = 0) -> tuple[Volume, Volume]:
    """A soil core (HU): a PVC tube (+300) around a mineral matrix (+1500 ± noise) with air
    pores (−1000), stones (+2800) and a root channel (+100), in air; and its label map."""
    origin, x, y, z = _world_grid(shape_zyx, spacing_xyz, np.eye(3))
    radius = 0.45 * shape_zyx[2] * spacing_xyz[0]
    rng = np.random.default_rng(seed)
    r = np.hypot(x, y)
    hu = np.full(x.shape, -1000.0)
    hu[r <= radius] = 300.0
    inside = r <= 0.9 * radius
    hu[inside] = 1500.0
    labels = np.zeros(x.shape, np.uint8)
    height = shape_zyx[0] * spacing_xyz[2]
    # (label, HU, count, radius range as a fraction of the core radius)
    for label, value, count, (low, high) in ((PORE, -1000.0, 40, (0.03, 0.08)),
                                              (STONE, 2800.0, 6, (0.08, 0.2))):
        for _ in range(count):
            size = rng.uniform(low, high) * radius
            c = np.array([*rng.uniform(-0.6, 0.6, 2) * radius, rng.uniform(-0.4, 0.4) * height])
            ball = inside & ((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= size ** 2)
            hu[ball] = value
            labels[ball] = label
    root = inside & ((x - 0.3 * z) ** 2 + (y + 0.2 * radius) ** 2 <= (0.06 * radius) ** 2)
    hu[root] = 100.0
    labels[root] = ROOT
    hu += rng.normal(0.0, 40.0, hu.shape)
    ct = Volume(hu.astype(np.int16), tuple(spacing_xyz), origin, np.eye(3), modality="CT")
    return ct, ct.with_array(labels)
