"""Reviewing the objects: keys 1–9 / 0 / Enter / R / N, undo and redo (the object map follows
every edit), autosave after every edit, and the review restored on reopening, also after the
process was killed mid-review."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from engines.core.autosave import RestoreStatus, sidecar_path
from engines.core.review import ItemState


def _press(qtbot, ws, key) -> None:
    qtbot.keyClick(ws.review_panel, key)


def _pixels(ws, item) -> np.ndarray:
    inside = ws.object_map.objects == item.mask_id
    return np.unique(ws.view.overlay.classes[inside])


def test_keys_set_class_and_state_and_undo_redo_recolour_the_object(qtbot, analyzed):
    ws = analyzed
    panel = ws.review_panel
    item = panel.current_item()
    _press(qtbot, ws, Qt.Key.Key_3)  # key 3 = class 3 (bainite); key 1 is the first phase
    edited = panel.current_item()
    assert (edited.label, edited.state, edited.reviewed) == (3, ItemState.ACCEPTED, True)
    assert list(_pixels(ws, item)) == [3]
    _press(qtbot, ws, Qt.Key.Key_R)  # rejected: not a second-phase object, drawn as matrix
    assert panel.current_item().state is ItemState.REJECTED
    assert list(_pixels(ws, item)) == [0]
    _press(qtbot, ws, Qt.Key.Key_0)
    assert panel.current_item().state is ItemState.UNCERTAIN
    assert list(_pixels(ws, item)) == [3]
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.current_item().state is ItemState.ACCEPTED and list(_pixels(ws, item)) == [3]
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.current_item() == item and list(_pixels(ws, item)) == [item.label]
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert panel.current_item().label == 3
    # Enter accepts, N goes to the next unreviewed object with the lowest vote share
    _press(qtbot, ws, Qt.Key.Key_N)
    following = panel.current_item()
    assert not following.reviewed and following.id != item.id
    assert following.score == min(i.score for i in panel.document if not i.reviewed)
    _press(qtbot, ws, Qt.Key.Key_Return)
    assert panel.current_item().state is ItemState.ACCEPTED
    assert ws.table.current_item() == following.id


def test_reopening_restores_the_autosaved_review_without_analyzing(qtbot, host, analyzed):
    from widgets.sem.workspace import SemWorkspace

    ws = analyzed
    path = ws.opened.path
    item = ws.review_panel.current_item()
    _press(qtbot, ws, Qt.Key.Key_4)
    assert sidecar_path(path).is_file()  # written at once, not on close
    again = SemWorkspace(host)  # a second window; the first is never closed or saved
    qtbot.addWidget(again)
    again.show()
    with qtbot.waitSignal(again.reviewOpened, timeout=30000) as blocker:
        again.open_path(path)
    assert blocker.args[0].status is RestoreStatus.RESTORED
    restored = again.review_panel.document.get(item.id)
    assert (restored.label, restored.reviewed) == (4, True)
    assert list(_pixels(again, restored)) == [4]  # the object map of the mask, as reviewed
    assert "restored the review" in again.review_panel.warning_label.text()
    # Analyze again keeps the reviewed classes (same objects)
    again.set_model(ws.model)
    with qtbot.waitSignal(again.analysisFinished, timeout=60000) as finished:
        again.analyze()
    assert finished.args[0].review.status is RestoreStatus.RESTORED
    assert again.review_panel.document.get(item.id).label == 4


CHILD = textwrap.dedent("""
    import os, signal, sys, time
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from tests.widgets.conftest import FakeHost
    from widgets.sem.workspace import SemWorkspace

    app = QApplication([])
    host = FakeHost()
    ws = SemWorkspace(host)
    ws.show()
    ws.open_path(sys.argv[1])
    deadline = time.monotonic() + 120
    while ws.review_panel.document is None:  # the restore of the review
        if host.errors or time.monotonic() > deadline:
            sys.exit(f"no review restored: {host.errors}")
        app.processEvents()
        time.sleep(0.01)
    panel = ws.review_panel
    first = panel.current_id
    QTest.keyClick(panel, Qt.Key.Key_2)
    QTest.keyClick(panel, Qt.Key.Key_N)
    second = panel.current_id
    QTest.keyClick(panel, Qt.Key.Key_0)
    print("edited", first, second, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)   # a crash mid-review: nothing closed or flushed
""")


def test_a_review_survives_the_process_being_killed(qtbot, host, analyzed):
    from widgets.sem.workspace import SemWorkspace

    image = analyzed.opened.path
    _press(qtbot, analyzed, Qt.Key.Key_1)  # one edit here: the review is autosaved beside it
    analyzed.close()
    root = Path(__file__).resolve().parents[3]
    run = subprocess.run([sys.executable, "-c", CHILD, str(image)], cwd=root, timeout=300,
                         capture_output=True, text=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == -signal.SIGKILL and "edited" in run.stdout, run.stderr
    first, second = (int(v) for v in run.stdout.split()[1:3])
    ws = SemWorkspace(host)
    qtbot.addWidget(ws)
    ws.show()
    with qtbot.waitSignal(ws.reviewOpened, timeout=30000):
        ws.open_path(image)
    document = ws.review_panel.document
    assert (document.get(first).label, document.get(first).state) == (2, ItemState.ACCEPTED)
    assert document.get(second).state is ItemState.UNCERTAIN
    assert document.counts().reviewed == 3
