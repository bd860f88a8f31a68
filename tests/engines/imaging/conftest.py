"""Shared inputs of the imaging reader/writer tests: a small CT-like volume with a geometry that
is not the identity (flipped axes, non-zero origin, anisotropic voxels)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.imaging.volume import Volume

FLIPPED = np.diag([-1.0, 1.0, -1.0])    # x and z reversed, right-handed (z = x × y)


def ct_phantom(shape=(12, 40, 48), seed: int = 0) -> np.ndarray:
    """int16 HU: air around an elliptic body with lungs and a bone, plus noise and a few voxels
    at the ends of the 12-bit CT range."""
    nz, ny, nx = shape
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:nz, 0:ny, 0:nx]
    hu = np.full(shape, -1000.0)
    body = ((x - nx / 2) / (0.45 * nx)) ** 2 + ((y - ny / 2) / (0.4 * ny)) ** 2 < 1
    hu[body] = 40
    for side in (-1, 1):
        lung = ((x - nx / 2 - side * nx / 5) / (0.12 * nx)) ** 2 + \
               ((y - ny / 2) / (0.25 * ny)) ** 2 < 1
        hu[lung] = -850
    hu[(np.abs(x - nx / 2) < 2) & (np.abs(y - 0.8 * ny) < 2)] = 1200
    hu += rng.normal(0, 15, shape) + 3 * z
    hu = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)
    hu.flat[:2] = (-1024, 3071)
    return hu


@pytest.fixture
def ct_volume() -> Volume:
    """12 × 40 × 48 int16 HU, 0.7 × 0.7 × 2.5 mm, x and z flipped, origin away from 0."""
    return Volume(ct_phantom(), spacing_xyz=(0.7, 0.7, 2.5), origin_xyz=(120.5, -80.25, 310.0),
                  direction=FLIPPED, modality="CT")
