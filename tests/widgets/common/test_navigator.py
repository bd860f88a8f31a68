"""The previous / next / position / find control, driven by keys on a toolbar."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QToolBar, QVBoxLayout, QWidget

from widgets.common.navigator import Navigator


def _host(qtbot, **options):
    host = QWidget()
    qtbot.addWidget(host)
    navigator = Navigator(host, noun="event", **options)
    bar = QToolBar()
    navigator.add_to(bar)
    body = QLabel("display")
    body.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    layout = QVBoxLayout(host)
    layout.addWidget(bar)
    layout.addWidget(body)
    host.addActions(navigator.shortcut_actions)
    with qtbot.waitActive(host):  # shortcuts need an active window
        host.show()
    body.setFocus()
    navigator.host = host  # qtbot only holds a weak reference
    return navigator, body


def test_keys_step_and_stop_at_the_ends(qtbot):
    navigator, body = _host(qtbot, describe=lambda i: f"event {100 + i}")
    moves = []
    navigator.positionChanged.connect(moves.append)
    navigator.set_count(4)
    assert navigator.index == 0 and navigator.position.text().strip() == "event 100  (1 / 4)"
    assert not navigator.previous.isEnabled() and navigator.next.isEnabled()
    qtbot.keyClick(body, Qt.Key.Key_Right)
    qtbot.keyClick(body, Qt.Key.Key_PageDown)
    assert navigator.index == 2 and "(3 / 4)" in navigator.position.text()
    qtbot.keyClick(body, Qt.Key.Key_End)
    qtbot.keyClick(body, Qt.Key.Key_Right)  # stays on the last
    qtbot.keyClick(body, Qt.Key.Key_Home)
    qtbot.keyClick(body, Qt.Key.Key_Left)  # stays on the first
    assert moves == [1, 2, 3, 0]
    navigator.set_index(2)  # the workspace moved: shown, not emitted
    assert moves == [1, 2, 3, 0] and "(3 / 4)" in navigator.position.text()


def test_empty_and_shrinking_counts(qtbot):
    navigator, _ = _host(qtbot, ends=False)
    assert navigator.first is None and navigator.position.text().strip() == "no events"
    assert not navigator.step(1)
    navigator.set_count(5, index=4)
    navigator.set_count(2, index=4)
    assert navigator.index == 1 and navigator.position.text().strip() == "2 / 2"


def test_find_box_focus_request_and_error(qtbot):
    navigator, body = _host(qtbot, find_tip="Event number")
    navigator.set_count(3)
    qtbot.keyClick(body, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert navigator.find_box.hasFocus()
    qtbot.keyClicks(navigator.find_box, "1234")
    qtbot.keyClick(navigator.find_box, Qt.Key.Key_Left)  # editing keys stay in the field
    assert navigator.index == 0
    with qtbot.waitSignal(navigator.findRequested) as blocker:
        qtbot.keyClick(navigator.find_box, Qt.Key.Key_Return)
    assert blocker.args == ["1234"]
    navigator.show_find_error("event 1234 is not in this file")
    assert "not in this file" in navigator.find_box.toolTip()
