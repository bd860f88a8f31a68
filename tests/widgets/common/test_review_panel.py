"""The review panel with its table, as a workspace wires them: keys decide, undo/redo keys
restore, the table and the document stay in sync, next/previous follow the review order,
and every edit autosaves."""

import os
import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engines.core.autosave import open_review, read_sidecar, sidecar_path
from engines.core.review import ItemState, ReviewItem
from engines.core.review_commands import AddItem, SetNote
from widgets.common.review_panel import ReviewPanel, nodules_keymap, sem_keymap
from widgets.common.review_table import ReviewTable, extra_field

CLASSES = ["ferrite", "martensite", "tempered martensite", "bainite", "pearlite"]
SCORES = [0.91, 0.42, 0.77, 0.55, 0.63, 0.30]
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


class Host(QWidget):
    """A table and a review panel wired as a workspace does."""

    def __init__(self, result, keymap):
        super().__init__()
        self.table = ReviewTable(extra=[extra_field("runner_up", "2nd")])
        self.panel = ReviewPanel(keymap)
        layout = QHBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.panel, 1)
        self.addActions(self.panel.shortcut_actions)
        self.table.set_document(result.document)
        self.panel.set_document(result.document, result.message, result.warning is not None)
        self.panel.include = self.table.includes
        self.table.itemActivated.connect(self.panel.set_current)
        self.panel.currentChanged.connect(self.table.select_item)
        self.document = result.document


def _show(qtbot, host):
    qtbot.addWidget(host)
    host.resize(1000, 500)
    with qtbot.waitActive(host):
        host.show()
    host.table.setFocus()
    return host


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "steel.png"
    path.write_bytes(os.urandom(2048))
    return path


def _items():
    return [ReviewItem(i, i % 3, score=s, mask_id=i + 1, extras={"runner_up": (i + 1) % 5})
            for i, s in enumerate(SCORES)]


@pytest.fixture
def sem(qtbot, image):
    result = open_review(image, CLASSES, _items(), kind="sem")
    host = _show(qtbot, Host(result, sem_keymap(CLASSES)))
    host.image = image
    return host


def _cell(host, item_id, header):
    table = host.table
    column = [f.header for f in table.fields].index(header)
    return table.cell_text(table.item_model.row_of(item_id), column)


def test_keys_set_class_and_state_of_the_current_item(qtbot, sem):
    doc, table, panel = sem.document, sem.table, sem.panel
    table.selectRow(table.item_model.row_of(3))  # the user picks a row
    assert panel.current_id == 3 and panel.title.text() == "Item 3 · ferrite"
    qtbot.keyClick(table, Qt.Key.Key_2)
    assert (doc[3].label, doc[3].state, doc[3].reviewed) == (1, ItemState.ACCEPTED, True)
    assert _cell(sem, 3, "Class") == "martensite" and _cell(sem, 3, "✓") == "✓"
    assert panel.title.text() == "Item 3 · martensite" and panel.class_box.currentIndex() == 1
    qtbot.keyClick(table, Qt.Key.Key_0)
    assert doc[3].state is ItemState.UNCERTAIN and _cell(sem, 3, "State") == "uncertain"
    qtbot.keyClick(table, Qt.Key.Key_Return)
    assert doc[3].state is ItemState.ACCEPTED
    qtbot.keyClick(table, Qt.Key.Key_R)
    assert doc[3].state is ItemState.REJECTED
    assert "1 / 6 reviewed · 1 rejected · 5 proposed" == panel.counts_label.text()
    assert re.fullmatch(r"saved \d\d:\d\d:\d\d", panel.status_label.text())
    assert read_sidecar(sidecar_path(sem.image)).document[3].state is ItemState.REJECTED


def test_undo_and_redo_keys_restore_and_stay_in_sync(qtbot, sem):
    doc, table, panel = sem.document, sem.table, sem.panel
    panel.set_current(1)
    assert table.current_item() == 1  # the panel selects the row
    qtbot.keyClick(table, Qt.Key.Key_4)
    qtbot.keyClick(table, Qt.Key.Key_0)
    assert doc[1].label == 3 and doc[1].state is ItemState.UNCERTAIN
    qtbot.keyClick(table, Qt.Key.Key_Z, CTRL)
    assert doc[1].label == 3 and doc[1].state is ItemState.ACCEPTED
    assert _cell(sem, 1, "State") == "accepted"
    qtbot.keyClick(table, Qt.Key.Key_Z, CTRL)
    assert (doc[1].label, doc[1].state, doc[1].reviewed) == (1, ItemState.PROPOSED, False)
    assert _cell(sem, 1, "Class") == "martensite" and panel.title.text().endswith("martensite")
    assert not panel.undo_action.isEnabled()
    qtbot.keyClick(table, Qt.Key.Key_Z, CTRL | SHIFT)
    assert doc[1].label == 3
    qtbot.keyClick(table, Qt.Key.Key_Y, CTRL)
    assert doc[1].state is ItemState.UNCERTAIN and not doc.can_redo
    assert panel.undo_stack.in_sync() and panel.undo_stack.stack.count() == 2
    # undo autosaves as well
    qtbot.keyClick(table, Qt.Key.Key_Z, CTRL)
    assert read_sidecar(doc.autosave.path).document[1].state is ItemState.ACCEPTED


def test_next_unreviewed_goes_lowest_confidence_first_and_the_table_follows(qtbot, sem):
    doc, table, panel = sem.document, sem.table, sem.panel
    table.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # the table's order does not matter
    visited = []
    for _ in range(3):
        qtbot.keyClick(table, Qt.Key.Key_N)
        visited.append(panel.current_id)
        assert table.current_item() == panel.current_id
    assert visited == [5, 1, 3]  # scores 0.30, 0.42, 0.55
    qtbot.keyClick(table, Qt.Key.Key_Return)  # accept 3, then go on from its place
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert panel.current_id == 4
    qtbot.keyClick(table, Qt.Key.Key_P)
    assert panel.current_id == 1  # 3 is reviewed now
    # a filtered table limits where N goes
    table.set_filter(lambda item: item.label == 2)  # ids 2 and 5
    panel.set_current(None)
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert panel.current_id == 5
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert panel.current_id == 2 and doc.navigate(2, include=table.includes) == 5


def test_editing_the_note_does_not_trigger_the_keys(qtbot, sem):
    doc, panel = sem.document, sem.panel
    panel.set_current(2)
    panel.note.setFocus()
    qtbot.keyClicks(panel.note, "N2 A0")
    qtbot.keyClick(panel.note, Qt.Key.Key_Return)
    assert doc[2].note == "N2 A0" and panel.current_id == 2
    assert (doc[2].label, doc[2].state) == (2, ItemState.PROPOSED)
    assert doc.undo_text == "Note on item 2"
    panel.class_box.activated.emit(4)  # the class chosen with the mouse
    assert doc[2].label == 4 and doc[2].reviewed


def test_items_added_and_removed_by_undo_keep_table_and_panel_in_sync(qtbot, sem):
    doc, table, panel = sem.document, sem.table, sem.panel
    new = ReviewItem(doc.next_id, 3, note="drawn by hand")
    assert panel.push(AddItem(new))
    assert table.item_model.rowCount() == 7 and _cell(sem, new.id, "Note") == "drawn by hand"
    panel.set_current(new.id)
    assert table.current_item() == new.id
    with qtbot.waitSignal(panel.currentChanged) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Z, CTRL)
    assert blocker.args == [-1] and panel.current_id is None
    assert table.item_model.rowCount() == 6 and new.id not in doc
    assert not panel.push(SetNote(99, "nothing there"))
    assert "not done" in panel.status_label.text()


def test_nodules_keys_accept_reject_and_walk_highest_score_first(qtbot, image):
    items = [ReviewItem(i, 0, score=s, box=(i, 10, 10, i + 2, 20, 20)) for i, s in
             enumerate(SCORES)]
    result = open_review(image, ["nodule"], items, kind="nodules")
    host = _show(qtbot, Host(result, nodules_keymap()))
    doc, table, panel = host.document, host.table, host.panel
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert panel.current_id == 0 and "slices 0–2" in panel.geometry_label.text()
    qtbot.keyClick(table, Qt.Key.Key_A)
    qtbot.keyClick(table, Qt.Key.Key_N)
    assert panel.current_id == 2
    qtbot.keyClick(table, Qt.Key.Key_R)
    qtbot.keyClick(table, Qt.Key.Key_N)
    qtbot.keyClick(table, Qt.Key.Key_U)
    assert [doc[i].state.value for i in (0, 2, 4)] == ["accepted", "rejected", "uncertain"]
    qtbot.keyClick(table, Qt.Key.Key_P)  # no unreviewed item scores higher: wraps to the lowest
    assert panel.current_id == 5
    qtbot.keyClick(table, Qt.Key.Key_P)
    assert panel.current_id == 1


def test_restore_warning_is_shown(qtbot, image):
    sidecar_path(image).write_text("{ not json")
    result = open_review(image, CLASSES, _items(), kind="sem")
    host = _show(qtbot, Host(result, sem_keymap(CLASSES)))
    label = host.panel.warning_label
    assert label.isVisible() and "corrupt-" in label.text() and "b03000" in label.styleSheet()
    assert "no edits yet" in host.panel.status_label.text()
