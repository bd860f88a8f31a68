"""Event list, keys and search; unusable files give an error naming them and change nothing."""

from __future__ import annotations

import h5py
import numpy as np
from PySide6.QtCore import Qt

from tests.widgets.cdc.conftest import N_EVENTS


def test_browser_lists_sorts_and_selects_events(qtbot, workspace):
    ws = workspace
    table = ws.opened.table
    assert ws.browser.row_count() == N_EVENTS and ws.index == 0
    assert ws.browser.cell_text(0, 0) == str(table.event_number[0])
    assert ws.browser.cell_text(0, 3) == str(table.n_signal_hits[0])
    assert ws.browser.cell_text(0, 4) == ""  # no scores yet
    ws.browser.view.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # by hits
    shown = [int(ws.browser.cell_text(r, 1).replace(",", "")) for r in range(N_EVENTS)]
    assert shown == sorted(table.n_hits, reverse=True)
    with qtbot.waitSignal(ws.eventShown) as blocker:
        ws.browser.view.selectRow(0)
    assert blocker.args == [int(np.argmax(table.n_hits))]
    assert ws.shown_event.n_hits == table.n_hits.max()


def test_keys_step_through_events(qtbot, workspace):
    ws = workspace
    ws.display.setFocus()
    qtbot.keyClick(ws.display, Qt.Key.Key_Right)
    assert ws.index == 1
    qtbot.keyClick(ws.display, Qt.Key.Key_PageDown)
    assert ws.index == 2
    assert ws.toolbar.navigator.position.text().strip().startswith(
        f"event {ws.opened.table.event_number[2]}")
    qtbot.keyClick(ws.display, Qt.Key.Key_Left)
    assert ws.index == 1
    qtbot.keyClick(ws.display, Qt.Key.Key_End)
    assert ws.index == N_EVENTS - 1
    qtbot.keyClick(ws.display, Qt.Key.Key_Right)  # stays on the last event
    assert ws.index == N_EVENTS - 1
    qtbot.keyClick(ws.display, Qt.Key.Key_PageUp)
    assert ws.index == N_EVENTS - 2
    qtbot.keyClick(ws.display, Qt.Key.Key_Home)
    assert ws.index == 0 and ws.shown_event.event_number == ws.opened.table.event_number[0]
    # the focused threshold slider keeps the arrow keys for itself
    ws.threshold.slider.setFocus()
    before = ws.threshold.threshold
    qtbot.keyClick(ws.threshold.slider, Qt.Key.Key_Right)
    assert ws.index == 0 and ws.threshold.threshold == before + 0.001


def test_search_by_event_number(qtbot, workspace):
    ws = workspace
    ws.display.setFocus()
    qtbot.keyClick(ws.display, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    search = ws.toolbar.navigator.find_box
    assert search.hasFocus()
    target = int(ws.opened.table.event_number[4])
    qtbot.keyClicks(search, str(target))
    qtbot.keyClick(search, Qt.Key.Key_Left)  # editing keys stay in the field
    assert ws.index == 0
    qtbot.keyClick(search, Qt.Key.Key_Return)
    assert ws.index == 4 and ws.shown_event.event_number == target
    assert ws.browser.current_event() == 4
    search.setText("9999")
    with qtbot.waitSignal(ws.statusChanged) as blocker:
        qtbot.keyClick(search, Qt.Key.Key_Return)
    assert ws.index == 4 and "not in this file" in blocker.args[0]
    assert "not in this file" in search.toolTip()


def test_garbage_and_foreign_files_give_an_error_naming_them(qtbot, workspace, host, tmp_path):
    ws = workspace
    ws.show_event(2)
    garbage = tmp_path / "noise.h5"
    garbage.write_bytes(bytes(range(256)) * 16)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["data"] = np.arange(10)
    truncated = tmp_path / "cut.root"
    truncated.write_bytes(b"root" + b"\0" * 60)
    for path in (garbage, foreign, truncated):
        count = len(host.errors)
        ws.open_path(path)
        qtbot.waitUntil(lambda c=count: len(host.errors) > c, timeout=10000)
        assert path.name in str(host.errors[-1][0])
    assert ws.n_events == N_EVENTS and ws.index == 2  # the open file is still shown
    ws.step(1)
    assert ws.index == 3 and len(ws.display.hits_item.data) > 0
