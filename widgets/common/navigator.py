"""One previous / next / position / find control for toolbars: events, spectra, items, slices.

The :class:`Navigator` owns the actions (with their shortcuts), the "i / n" position label and
a find box; a toolbar places them with :meth:`Navigator.add_to`, and the workspace adds
:attr:`Navigator.shortcut_actions` to itself so the keys work anywhere inside it (text fields
keep their own keys). It only counts positions ``0 … count − 1``; what a position means (an
event index, a spectrum, an item in the table's order) is up to the workspace::

    self.navigator = Navigator(self, noun="event", find_tip="Event number")
    self.navigator.add_to(toolbar)
    self.addActions(self.navigator.shortcut_actions)
    self.navigator.positionChanged.connect(self.show_event)
    self.navigator.findRequested.connect(self.find_event)  # -> go_to(index) or show_find_error
    self.navigator.set_count(len(events))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QLineEdit, QToolBar, QWidget

from widgets.common.actions import shortcut_action


class Navigator(QObject):
    """Steps through ``count`` positions.

    Parameters
    ----------
    parent
        Widget the actions and the label belong to (the workspace).
    noun
        What is stepped through, for tooltips and the label (``"event"``).
    describe
        ``describe(index)`` -> text before the ``(i / n)`` counter in the label, e.g.
        ``"event 1234"``; default: nothing.
    ends
        Also offer first / last (Home / End).
    find_tip
        Placeholder of the find box; None: no find box and no Ctrl+F.
    previous_keys, next_keys
        Shortcuts of the step actions.
    """

    positionChanged = Signal(int)  # the user moved to this index
    findRequested = Signal(str)  # Enter in the find box, with its text

    def __init__(self, parent: QWidget, noun: str = "item",
                 describe: Callable[[int], str] | None = None, ends: bool = True,
                 find_tip: str | None = None,
                 previous_keys: Sequence[str] = ("Left", "PgUp"),
                 next_keys: Sequence[str] = ("Right", "PgDown")) -> None:
        super().__init__(parent)
        self.noun = noun
        self.describe = describe
        self.count = 0
        self.index = -1
        self.previous = shortcut_action(parent, "◀", list(previous_keys), f"Previous {noun}")
        self.next = shortcut_action(parent, "▶", list(next_keys), f"Next {noun}")
        self.first = shortcut_action(parent, "|◀", ["Home"], f"First {noun}") if ends else None
        self.last = shortcut_action(parent, "▶|", ["End"], f"Last {noun}") if ends else None
        self.position = QLabel("", parent)
        self.position.setMinimumWidth(120)
        self.position.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.find: QAction | None = None
        self.find_box: QLineEdit | None = None
        if find_tip is not None:
            self.find = shortcut_action(parent, "Find", ["Ctrl+F"], f"Go to an {noun}"
                                        if noun[:1] in "aeiou" else f"Go to a {noun}")
            self.find_box = QLineEdit(parent)
            self.find_box.setPlaceholderText(f"{find_tip} (Ctrl+F)")
            self.find_box.setToolTip(f"{find_tip}: type it and press Enter to go there")
            self.find_box.setClearButtonEnabled(True)
            self.find_box.setMinimumWidth(150)
            self.find_box.setMaximumWidth(200)
            self.find_box.returnPressed.connect(self._find_entered)
            self.find.triggered.connect(self.focus_find)
        self.previous.triggered.connect(lambda: self.step(-1))
        self.next.triggered.connect(lambda: self.step(1))
        if self.first is not None and self.last is not None:
            self.first.triggered.connect(lambda: self.go_to(0))
            self.last.triggered.connect(lambda: self.go_to(self.count - 1))
        self._update()

    @property
    def shortcut_actions(self) -> list[QAction]:
        """Every action with a shortcut, for ``workspace.addActions``."""
        actions = [self.first, self.previous, self.next, self.last, self.find]
        return [a for a in actions if a is not None]

    def add_to(self, toolbar: QToolBar) -> None:
        """Place |◀ ◀ label ▶ ▶| and the find box on ``toolbar``."""
        for action in (self.first, self.previous):
            if action is not None:
                toolbar.addAction(action)
        toolbar.addWidget(self.position)
        for action in (self.next, self.last):
            if action is not None:
                toolbar.addAction(action)
        if self.find_box is not None:
            toolbar.addWidget(self.find_box)

    # -- state ---------------------------------------------------------------------------------
    def set_count(self, count: int, index: int | None = None) -> None:
        """Number of positions, and the current one (default: the first, or -1 when empty);
        does not emit :attr:`positionChanged`."""
        self.count = max(int(count), 0)
        if not self.count:
            self.index = -1
        else:
            self.index = min(max(0 if index is None else int(index), 0), self.count - 1)
        self._update()

    def set_index(self, index: int) -> None:
        """Show ``index`` as current (the workspace moved there itself); does not emit."""
        if 0 <= index < self.count:
            self.index = int(index)
            self._update()

    def go_to(self, index: int) -> bool:
        """Move to ``index`` (clamped) and emit :attr:`positionChanged` if it changed."""
        if not self.count:
            return False
        index = min(max(int(index), 0), self.count - 1)
        if index == self.index:
            return False
        self.index = index
        self._update()
        self.positionChanged.emit(index)
        return True

    def step(self, delta: int) -> bool:
        """Move by ``delta`` positions (stops at the ends)."""
        return self.go_to(self.index + delta)

    # -- find ----------------------------------------------------------------------------------
    def focus_find(self) -> None:
        if self.find_box is not None:
            self.find_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.find_box.selectAll()

    def show_find_error(self, message: str) -> None:
        """Mark the find box as not found, with ``message`` as its tooltip."""
        if self.find_box is not None:
            self.find_box.setStyleSheet("QLineEdit { color: #b03000; }")
            self.find_box.setToolTip(message)

    def _find_entered(self) -> None:
        assert self.find_box is not None
        self.find_box.setStyleSheet("")
        self.find_box.setToolTip("")
        self.findRequested.emit(self.find_box.text().strip())

    def _update(self) -> None:
        if self.count and self.index >= 0:
            described = self.describe(self.index) if self.describe else ""
            counter = f"{self.index + 1} / {self.count}"
            self.position.setText(f" {described}  ({counter}) " if described else f" {counter} ")
        else:
            self.position.setText(f" no {self.noun}s ")
        for action, enabled in ((self.previous, self.index > 0), (self.first, self.index > 0),
                                (self.next, 0 <= self.index < self.count - 1),
                                (self.last, 0 <= self.index < self.count - 1)):
            if action is not None:
                action.setEnabled(enabled)
