"""Review in the nodules workspace: boxes drawn on the slices that cut them, A / R / U / N / P
keys with the views jumping to the candidate, undo / redo, box edits and drawn nodules, the
autosave restored when the scan is opened again, truth colours, and exports that load back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engines.core.review import ItemState
from engines.nodules.luna16 import read_findings


def _key(qtbot, ws, key):
    qtbot.keyClick(ws.table, key)


def test_boxes_show_on_the_slices_that_cut_them(reviewing):
    ws = reviewing
    item = ws.document[ws.document.ids()[0]]
    ws.panel.set_current(item.id)
    z0, y0, x0, z1, y1, x1 = item.box
    z, y, x = ws.views.position
    assert z0 <= z < z1 and y0 <= y < y1 and x0 <= x < x1  # the views jumped to it
    axial = ws.boxes.overlays["axial"]
    assert item.id in axial.ids and axial.selected_id == item.id
    assert axial.rect_of(item.id) == pytest.approx((x0, y0, x1, y1))
    coronal = ws.boxes.overlays["coronal"]  # columns x, rows z
    assert coronal.rect_of(item.id) == pytest.approx((x0, z0, x1, z1))
    ws.views.set_position((z1 + 2, y, x))  # a slice beyond the box
    ws.boxes.refresh()
    assert item.id not in axial.ids and item.id in coronal.ids


def test_keys_decide_and_navigate_highest_score_first(qtbot, reviewing):
    ws = reviewing
    doc = ws.document
    order = sorted(doc.ids(), key=lambda i: -doc[i].score)
    _key(qtbot, ws, Qt.Key.Key_N)
    assert ws.panel.current_id == order[0]
    _key(qtbot, ws, Qt.Key.Key_A)
    assert doc[order[0]].state is ItemState.ACCEPTED and doc[order[0]].reviewed
    _key(qtbot, ws, Qt.Key.Key_N)
    assert ws.panel.current_id == order[1]
    item = doc[order[1]]
    assert ws.views.position[0] == int((item.box[0] + item.box[3]) / 2 - 0.5 + 0.5)
    _key(qtbot, ws, Qt.Key.Key_R)
    assert doc[order[1]].state is ItemState.REJECTED
    assert ws.boxes.overlays["axial"].states[
        ws.boxes.overlays["axial"].ids.index(order[1])] == "rejected"
    _key(qtbot, ws, Qt.Key.Key_U)
    assert doc[order[1]].state is ItemState.UNCERTAIN
    qtbot.keyClick(ws.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc[order[1]].state is ItemState.REJECTED
    qtbot.keyClick(ws.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert doc[order[1]].state is ItemState.UNCERTAIN


def test_edited_and_drawn_boxes_are_undoable_and_survive_reopening(qtbot, reviewing):
    ws = reviewing
    doc = ws.document
    first = doc.ids()[0]
    ws.panel.set_current(first)
    before = doc[first]
    x0, y0, x1, y1 = ws.boxes.overlays["axial"].rect_of(first)
    ws.boxes.overlays["axial"].boxEdited.emit(first, (x0 + 2, y0 + 1, x1 + 3, y1 + 1))
    moved = doc[first]
    assert moved.box[2] == pytest.approx(x0 + 2) and moved.box[5] == pytest.approx(x1 + 3)
    assert moved.box[0] == before.box[0] and moved.box[3] == before.box[3]  # slices kept
    assert moved.world_xyz[0] != pytest.approx(before.world_xyz[0])  # the centre follows
    ws.panel.undo_action.trigger()
    assert doc[first] == before
    ws.panel.redo_action.trigger()
    # a coronal edit changes the slice span
    cx0, cz0, cx1, cz1 = ws.boxes.overlays["coronal"].rect_of(first)
    ws.boxes.overlays["coronal"].boxEdited.emit(first, (cx0, cz0 - 1, cx1, cz1 + 1))
    assert doc[first].box[0] == pytest.approx(cz0 - 1) and doc[first].box[3] == cz1 + 1

    ws.toolbar.draw.setChecked(True)
    assert ws.boxes.overlays["axial"].draw_mode
    z = ws.views.position[0]
    ws.boxes.overlays["axial"].boxDrawn.emit((10.0, 12.0, 14.0, 16.0))
    assert not ws.toolbar.draw.isChecked()
    drawn = doc[ws.panel.current_id]
    assert drawn.extras["drawn"] and drawn.state is ItemState.ACCEPTED
    assert drawn.box[1:3] == (12.0, 10.0) and drawn.box[0] < z + 0.5 < drawn.box[3]
    _key(qtbot, ws, Qt.Key.Key_R)
    saved = {i: doc[i] for i in doc.ids()}

    path = ws.opened.path
    with qtbot.waitSignal(ws.scanOpened, timeout=30000):
        ws.open_path(path)  # reopened: the autosave is restored before any Analyze
    assert ws.document is not doc and {i: ws.document[i] for i in ws.document.ids()} == saved
    assert "restored" in ws.panel.warning_label.text().lower()
    assert ws.table.item_model.rowCount() == len(ws.shown_items())


def test_the_threshold_hides_weak_candidates_but_not_reviewed_ones(qtbot, reviewing):
    ws = reviewing
    doc = ws.document
    scores = sorted(doc[i].score for i in doc.ids())
    weakest = min(doc.ids(), key=lambda i: doc[i].score)
    ws.toolbar.set_threshold(scores[-1])
    assert ws.table.item_model.rowCount() == 1
    ws.panel.set_current(weakest)
    ws.toolbar.set_threshold(0.0)
    ws.panel.set_current(weakest)
    _key(qtbot, ws, Qt.Key.Key_A)
    ws.toolbar.set_threshold(scores[-1])
    assert ws.table.item_model.rowCount() == 2  # the reviewed one stays


def test_truth_colours_mark_hits_and_missed_nodules(reviewing):
    ws = reviewing
    ws.toolbar.colour_combo.setCurrentIndex(1)
    ws.toolbar.colour_combo.activated.emit(1)
    assert ws.boxes.mode == "outcome"
    first = ws.document.ids()[0]
    ws.panel.set_current(first)
    axial = ws.boxes.overlays["axial"]
    assert axial.states[axial.ids.index(first)] == "tp"
    column = [f.header for f in ws.table.fields].index("Truth")
    assert ws.table.cell_text(ws.table.item_model.row_of(first), column) == "TP"
    assert len(ws.boxes.missed) == 0
    ws.panel.trigger(next(k for k in ws.panel.keymap.keys if k.text == "Reject"))
    assert len(ws.boxes.missed) == 1  # a rejected hit no longer finds its nodule
    assert "missed" in ws.boxes.static["axial"].states


def test_exports_load_back(reviewing, tmp_path):
    ws = reviewing
    doc = ws.document
    ids = doc.ids()
    ws.panel.set_current(ids[0])
    ws.panel.trigger(next(k for k in ws.panel.keymap.keys if k.text == "Accept"))
    submission = read_findings(ws.export_submission(tmp_path / "sub.csv"), "probability")
    assert len(submission) == len(ids)
    assert np.allclose(sorted(submission.probability), sorted(doc[i].score for i in ids))
    assert set(submission.scan) == {ws.opened.scan.seriesuid}
    annotations = read_findings(ws.export_annotations(tmp_path / "ann.csv"), "diameter_mm")
    assert len(annotations) == 1
    truth = ws.opened.nodules
    distance = np.linalg.norm(truth.xyz_mm - annotations.xyz_mm[0], axis=1)
    assert distance.min() < truth.diameter_mm[np.argmin(distance)] / 2
    data = json.loads(ws.export_review(tmp_path / "review.json").read_text())
    assert len(data["items"]) == len(ids)
    report = ws.export_report(tmp_path / "report.png")
    assert report.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
