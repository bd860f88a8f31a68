"""The classical CAD peer finds a round dense blob in the lung and passes over a vessel."""

from __future__ import annotations

import numpy as np

from engines.core.progress import drive
from engines.imaging.volume import Volume
from engines.nodules.peer import iter_evaluate_peer, iter_peer
from engines.nodules.scan import scan_from_volume


def test_blob_found_tube_not():
    array = np.full((60, 100, 100), -1000, np.int16)
    array[:, 5:95, 5:95] = 40
    array[5:55, 15:85, 12:45] = -850
    array[5:55, 15:85, 55:88] = -850
    z, y, x = np.ogrid[:60, :100, :100]
    array[(z - 30) ** 2 + ((y - 50) * 1.0) ** 2 + ((x - 28) * 1.0) ** 2 < 36] = 30   # 12 mm
    array[10:50, 29:32, 70:73] = 40                                                  # vessel
    volume = Volume(array, (1.0, 1.0, 1.0), (-50.0, -50.0, -30.0), modality="CT")
    found = drive(iter_peer(scan_from_volume(volume, "u")))
    assert len(found) == 1
    np.testing.assert_allclose(found.xyz_mm[0], volume.voxel_to_world([30, 50, 28]), atol=0.6)
    assert 10 < found.diameter_mm[0] < 14 and 0 < found.probability[0] <= 1


def test_peer_evaluation_on_synthetic_scans(tiny_dataset):
    result = drive(iter_evaluate_peer(tiny_dataset, bootstrap=20))
    figures = result.to_json()
    assert figures["slice"] is None and figures["scans"] == 3
    assert 0 <= figures["cpm"] <= 1
