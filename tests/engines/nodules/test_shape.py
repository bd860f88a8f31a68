"""The 3-D shell check: a nodule ends, a vessel runs on."""

from __future__ import annotations

import numpy as np

from engines.imaging.volume import Volume
from engines.nodules.lungs import LungMask
from engines.nodules.shape import shell_fraction


def _lung(shape=(60, 80, 80)):
    return np.full(shape, -850.0, np.float32)


def _grid(shape, spacing):
    return np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)],
                       indexing="ij")


def test_sphere_tube_and_wall():
    spacing = (1.0, 0.7, 0.7)
    mask = LungMask(np.ones((60, 80, 80), bool), (1, 1, 1), (60, 80, 80), True)
    z, y, x = _grid((60, 80, 80), spacing)
    centre = np.array([30.0, 40 * 0.7, 40 * 0.7])
    array = _lung()
    array[(z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 < 25.0] = 40.0
    volume = Volume(array, spacing[::-1])
    assert shell_fraction(volume, mask, [30, 40, 40], 10.0) < 0.02
    tube = _lung()
    tube[(y - centre[1]) ** 2 + (x - centre[2]) ** 2 < 6.25] = 40.0       # along z, r 2.5
    assert shell_fraction(Volume(tube, spacing[::-1]), mask, [30, 40, 40], 5.0) > 0.15
    ggo = _lung()
    ggo[(z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 < 25.0] = -550.0
    assert shell_fraction(Volume(ggo, spacing[::-1]), mask, [30, 40, 40], 10.0) < 0.02
    empty = _lung()
    assert shell_fraction(Volume(empty, spacing[::-1]), mask, [30, 40, 40], 10.0) == 0.0
