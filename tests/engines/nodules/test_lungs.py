"""The lung mask: threshold, components, holes, margin."""

from __future__ import annotations

import numpy as np

from engines.imaging.volume import Volume
from engines.nodules.lungs import lung_mask
from engines.nodules.scan import open_scan


def test_mask_of_a_synthetic_scan(tiny_dataset):
    scan = open_scan(tiny_dataset.scans[0].path)
    mask = lung_mask(scan.volume)
    assert mask.found and mask.volume_ml > 500
    assert len(mask.slice_range()) < scan.shape[0]
    y0, x0, y1, x1 = mask.bounds()
    assert 0 < y0 < y1 < scan.shape[1] and 0 < x0 < x1 < scan.shape[2]
    z = int(np.median(mask.slice_range()))
    overlap = mask.box_overlap(z, np.array([[0, 0, 4, 4], [x0, y0, x1, y1]], float))
    assert overlap[0] == 0.0 and overlap[1] > 0.3


def test_no_lungs_keeps_everything():
    body = np.full((20, 64, 64), -1000, np.int16)
    body[:, 8:56, 8:56] = 40                      # soft tissue only, no lung
    mask = lung_mask(Volume(body, (1.5, 1.5, 3.0)))
    assert not mask.found
    assert mask.box_overlap(3, np.array([[0, 0, 5, 5]], float))[0] == 1.0
    assert len(mask.slice_range()) == 20


def test_air_outside_the_patient_and_small_gas_are_not_lung():
    array = np.full((30, 80, 80), -1000, np.int16)
    array[:, 5:75, 5:75] = 40
    array[2:28, 15:60, 12:36] = -850             # right lung
    array[2:28, 15:60, 44:68] = -850             # left lung
    array[20:24, 65:70, 36:41] = -1000           # bowel gas bubble, small
    array[10:14, 30:34, 20:24] = 40              # a nodule: a hole, filled
    mask = lung_mask(Volume(array, (2.0, 2.0, 2.0)))
    assert mask.found and 400 < mask.volume_ml < 500   # 2 × 26 × 45 × 24 voxels of 8 mm³
    assert mask.contains(np.array([[12.0, 32.0, 22.0]]))[0]
    assert not mask.contains(np.array([[22.0, 67.0, 38.0], [15.0, 1.0, 1.0]])).any()
