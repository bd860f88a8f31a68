"""Candidates as review items; reviewed items and submissions written and read back; a review
restored from its autosave."""

from __future__ import annotations

import numpy as np
import pytest

from engines.core.review_commands import EditGeometry, SetState
from engines.core.review_items import ItemState
from engines.imaging.volume import Volume
from engines.nodules.boxes import sphere_cuts
from engines.nodules.candidates import (
    candidate_item,
    drawn_item,
    export_annotations,
    export_submission,
    geometry_fields,
    open_review_document,
    submission,
)
from engines.nodules.detect import ScanDetections, SliceDetections
from engines.nodules.linking import measure_track
from engines.nodules.luna16 import read_findings
from engines.nodules.lungs import LungMask
from engines.nodules.scan import scan_from_volume

VOLUME = Volume(np.zeros((50, 120, 120), np.int16), (0.7, 0.7, 1.5), (-40.0, -40.0, -200.0),
                modality="CT")


def _candidate(centre_zyx, diameter, rank):
    centre = VOLUME.voxel_to_world(centre_zyx)
    z, boxes, _ = sphere_cuts(VOLUME, centre, diameter)
    candidate = measure_track(VOLUME, z, boxes, np.full(len(z), 0.8))
    candidate.id = rank
    return candidate, centre


def test_candidate_item_geometry():
    candidate, centre = _candidate([25.0, 60.0, 50.0], 9.0, 1)
    item = candidate_item(candidate, VOLUME)
    assert item.id == 1 and item.score == pytest.approx(0.8) and item.label == 0
    z0, y0, x0, z1, y1, x1 = item.box
    assert (x1 - x0) * 0.7 == pytest.approx(candidate.diameter_mm)
    assert z0 <= 25 < z1 and item.extras["slices"] == len(candidate.z)
    np.testing.assert_allclose(item.world_xyz, centre, atol=0.6)


def test_exports_load_back(tmp_path):
    items = [candidate_item(_candidate([25.0, 60.0, 50.0], 9.0, 1)[0], VOLUME),
             candidate_item(_candidate([10.0, 30.0, 90.0], 6.0, 2)[0], VOLUME)]
    drawn = drawn_item(VOLUME, 3, (30.0, 80.0, 80.0, 34.0, 90.0, 90.0))
    assert drawn.state is ItemState.ACCEPTED and drawn.extras["diameter_mm"] == pytest.approx(7.0)
    items = [items[0].edited(state=ItemState.ACCEPTED), items[1].edited(state=ItemState.REJECTED),
             drawn]
    export_annotations(tmp_path / "annotations.csv", items, VOLUME, "1.2.3")
    back = read_findings(tmp_path / "annotations.csv", "diameter_mm")
    assert len(back) == 2 and list(back.scan) == ["1.2.3", "1.2.3"]
    np.testing.assert_allclose(back.xyz_mm[0], items[0].world_xyz, atol=1e-3)
    np.testing.assert_allclose(back.diameter_mm, [items[0].size_mm[0], 7.0], atol=1e-3)
    export_submission(tmp_path / "sub.csv", submission(items, VOLUME, "1.2.3"))
    sub = read_findings(tmp_path / "sub.csv", "probability")
    assert len(sub) == 2 and sub.probability[1] == 1.0       # rejected left out; drawn = 1


def test_edited_box_moves_the_world_centre():
    fields = geometry_fields(VOLUME, (20.0, 10.0, 10.0, 22.0, 20.0, 30.0))
    assert fields["size_mm"] == pytest.approx((14.0, 7.0, 3.0))
    np.testing.assert_allclose(fields["world_xyz"], VOLUME.voxel_to_world([20.5, 14.5, 19.5]))


def test_review_is_restored_from_its_autosave(tmp_path):
    source = tmp_path / "scan.mhd"
    source.write_bytes(b"stand-in for the scan file")
    candidate, _ = _candidate([25.0, 60.0, 50.0], 9.0, 1)
    scan = scan_from_volume(VOLUME, "1.2.3")
    detections = ScanDetections("1.2.3", scan, SliceDetections.concat([]), [candidate], 0.5,
                                0.5, LungMask(np.ones((1, 1, 1), bool), (1, 1, 1), VOLUME.shape,
                                              False))
    first = open_review_document(detections, source)
    document = first.document
    document.execute(SetState([1], ItemState.ACCEPTED))
    box = (24.0, 55.0, 45.0, 27.0, 65.0, 55.0)
    document.execute(EditGeometry(1, **geometry_fields(VOLUME, box)))
    again = open_review_document(detections, source)          # as after a crash
    item = again.document[1]
    assert item.state is ItemState.ACCEPTED and item.box == box
    assert again.document.meta["seriesuid"] == "1.2.3"
