"""A 3-D check of a candidate in the HU volume: does it end like a nodule or run on like a
vessel?

Around a candidate of radius R the dense tissue connected to its centre is followed outwards.
A nodule ends within its radius; a vessel (and the tissue a one-slice vessel cross-section
belongs to) runs on through the shell ``1.4 R … 2 R``. The *shell fraction* is the share of
that shell's lung voxels taken by the centre's dense component:

* isolated nodule ≈ 0; juxta-vascular nodule, small (thin vessels leave through little of
  the shell); juxta-pleural nodule, small too, as the chest wall is outside the lung mask;
* a vessel seen across, ≈ 0.2–0.5 (two tube cross-sections through the shell, more when it
  branches); the dome of the diaphragm or the heart border, large.

"Dense" is above the midpoint between the centre's median HU and lung (−850 HU), at most
−400 HU and at least −700 HU, so ground-glass nodules are followed at their own contrast.
"""

from __future__ import annotations

import numpy as np

from engines.imaging.volume import Volume
from engines.nodules.lungs import LungMask

LUNG_HU = -850.0


def shell_fraction(volume: Volume, mask: LungMask, centre_zyx: np.ndarray,
                   diameter_mm: float) -> float:
    """The shell fraction of the module docstring, in [0, 1] (0 when nothing dense is at
    the centre)."""
    from scipy import ndimage

    radius = max(float(diameter_mm) / 2.0, 1.0)
    spacing = np.asarray(volume.spacing_zyx)
    centre = np.asarray(centre_zyx, dtype=np.float64)
    reach = np.ceil(2.0 * radius / spacing).astype(int) + 1
    low = np.maximum(np.floor(centre).astype(int) - reach, 0)
    high = np.minimum(np.floor(centre).astype(int) + reach + 1, volume.shape)
    if np.any(high <= low):
        return 0.0
    block = volume.array[low[0]:high[0], low[1]:high[1], low[2]:high[2]].astype(np.float32)
    grids = np.ogrid[tuple(slice(a, b) for a, b in zip(low, high, strict=True))]
    distance = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing,
                                                                  strict=True)))
    inner = distance <= 0.5 * radius
    if not inner.any():
        inner = distance <= distance.min()
    level = float(np.median(block[inner]))
    threshold = float(np.clip((level + LUNG_HU) / 2.0, -700.0, -400.0))
    dense = block > threshold
    labels, count = ndimage.label(dense)
    if count == 0:
        return 0.0
    touching = np.unique(labels[inner & dense])
    touching = touching[touching > 0]
    if not touching.size:
        return 0.0
    component = np.isin(labels, touching)
    lung = mask.region(*(slice(a, b) for a, b in zip(low, high, strict=True)))
    shell = (distance >= 1.4 * radius) & (distance <= 2.0 * radius) & lung
    if not shell.any():
        return 0.0
    return float((component & shell).sum() / shell.sum())
