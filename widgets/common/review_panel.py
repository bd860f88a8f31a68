"""The review panel: the current item, its properties, decision keys, undo/redo and counts.

Every edit goes through the panel's :class:`~widgets.common.undo.ReviewUndoStack`, so Ctrl+Z
and the document's history agree, and every edit autosaves through the document. Keys come
from a :class:`ReviewKeymap`: :func:`sem_keymap` (1–9 set the class, 0 = uncertain, Enter =
accept, N / P = next / previous unreviewed, lowest confidence first) or :func:`nodules_keymap`
(A / R / U accept / reject / uncertain, N / P = next / previous unreviewed, highest score
first). The workspace adds :attr:`ReviewPanel.shortcut_actions` to itself so the keys work
wherever the focus is inside it, and links the panel to its table and view::

    panel.currentChanged.connect(table.select_item)  # and centre the view on the item
    table.itemActivated.connect(panel.set_current)
    panel.include = table.includes  # N / P skip filtered-out rows
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engines.core.review import ItemState, ReviewDocument, ReviewItem
from engines.core.review_commands import Command, SetNote, decide
from widgets.common.actions import shortcut_action
from widgets.common.undo import ReviewUndoStack


@dataclass(frozen=True)
class ReviewKey:
    """One shortcut: ``action`` is ``"class"`` (value = class index), ``"state"`` (value = an
    :class:`ItemState`), ``"next"`` or ``"previous"``."""

    keys: tuple[str, ...]
    action: str
    value: int | str | None = None
    text: str = ""


@dataclass(frozen=True)
class ReviewKeymap:
    """Keys and navigation order of a review.

    Attributes
    ----------
    order_key : str
        What next / previous order by (``"score"`` or an extras name).
    descending : bool
        False: lowest first ("least confident first"); True: highest first.
    class_state : ItemState or None
        The state a class key also sets (None: only the class).
    advance : bool
        Go to the next unreviewed item after each decision.
    """

    keys: tuple[ReviewKey, ...]
    order_key: str = "score"
    descending: bool = False
    class_state: ItemState | None = ItemState.ACCEPTED
    advance: bool = False


def sem_keymap(class_names: Sequence[str], advance: bool = False, first: int = 0
               ) -> ReviewKeymap:
    """1–9 set the class (and accept), 0 = uncertain, Enter = accept, R = reject, N / P =
    next / previous unreviewed, lowest confidence first. Key 1 sets class index ``first``
    (1 where class 0 is a background that objects are not given, e.g. a matrix)."""
    keys = [ReviewKey((str(n + 1),), "class", i, f"Class: {class_names[i]}")
            for n, i in enumerate(range(first, min(len(class_names), first + 9)))]
    keys += [ReviewKey(("0",), "state", ItemState.UNCERTAIN.value, "Uncertain"),
             ReviewKey(("Return", "Enter"), "state", ItemState.ACCEPTED.value, "Accept"),
             ReviewKey(("R",), "state", ItemState.REJECTED.value, "Reject"),
             ReviewKey(("N",), "next", None, "Next unreviewed"),
             ReviewKey(("P",), "previous", None, "Previous unreviewed")]
    return ReviewKeymap(tuple(keys), advance=advance)


def nodules_keymap(advance: bool = False) -> ReviewKeymap:
    """A / R / U = accept / reject / uncertain, N / P = next / previous unreviewed, highest
    score first."""
    keys = (ReviewKey(("A",), "state", ItemState.ACCEPTED.value, "Accept"),
            ReviewKey(("R",), "state", ItemState.REJECTED.value, "Reject"),
            ReviewKey(("U",), "state", ItemState.UNCERTAIN.value, "Uncertain"),
            ReviewKey(("N",), "next", None, "Next unreviewed (highest score first)"),
            ReviewKey(("P",), "previous", None, "Previous unreviewed"))
    return ReviewKeymap(keys, descending=True, class_state=None, advance=advance)


class _NoteEdit(QLineEdit):
    """A line edit that keeps Enter for itself (Enter is the Accept shortcut elsewhere)."""

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in (
                Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return True
        return super().event(event)


def _number(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class ReviewPanel(QWidget):
    """Shows and edits the current item of a review document.

    Attributes
    ----------
    undo_stack : ReviewUndoStack
        The only way the panel (and the workspace: :meth:`push`) edits the document.
    include : callable or None
        ``include(item)``: which items next / previous may visit (the table's filter).
    """

    currentChanged = Signal(int)  # the current item id, -1 for none

    def __init__(self, keymap: ReviewKeymap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keymap = keymap
        self.document: ReviewDocument | None = None
        self.current_id: int | None = None
        self.include: Callable[[ReviewItem], bool] | None = None
        self.undo_stack = ReviewUndoStack(parent=self)
        self.undo_action, self.redo_action = self.undo_stack.create_actions(self)
        self.key_actions: list[QAction] = []
        for key in keymap.keys:
            action = shortcut_action(self, key.text or key.action, list(key.keys),
                                     key.text or key.action)
            action.triggered.connect(lambda _=False, k=key: self.trigger(k))
            self.key_actions.append(action)
        self.addActions(self.shortcut_actions)
        self._build()
        self.undo_stack.historyChanged.connect(lambda _index: self._refresh_status())
        self._refresh()

    @property
    def shortcut_actions(self) -> list[QAction]:
        return [*self.key_actions, self.undo_action, self.redo_action]

    def _build(self) -> None:
        self.title = QLabel("No item")
        self.title.setStyleSheet("font-weight: bold; font-size: 13pt")
        self.class_box = QComboBox()
        self.class_box.activated.connect(self._class_chosen)
        self.state_label, self.score_label = QLabel(), QLabel()
        self.geometry_label, self.extras_label = QLabel(), QLabel()
        for label in (self.geometry_label, self.extras_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = _NoteEdit()
        self.note.setPlaceholderText("Note (Enter to keep)")
        self.note.editingFinished.connect(self._note_edited)
        form = QFormLayout()
        for name, widget in (("Class", self.class_box), ("State", self.state_label),
                             ("Score", self.score_label), ("Where", self.geometry_label),
                             ("Extras", self.extras_label), ("Note", self.note)):
            form.addRow(name, widget)
        buttons = QGridLayout()
        for n, action in enumerate([*self.key_actions, self.undo_action, self.redo_action]):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            buttons.addWidget(button, n // 4, n % 4)
        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        self.status_label = QLabel()
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b03000")
        self.warning_label.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

    # -- document and current item -----------------------------------------------------------
    def set_document(self, document: ReviewDocument | None, notice: str = "",
                     warning: bool = False) -> None:
        """Review ``document``; ``notice`` (e.g. ``RestoreResult.message``) is shown under the
        counts, in red when ``warning``."""
        if self.document is not None and self._observe in self.document.observers:
            self.document.observers.remove(self._observe)
        self.document = document
        if document is not None:
            document.observers.append(self._observe)
        self.undo_stack.set_document(document)
        self.class_box.clear()
        if document is not None:
            self.class_box.addItems(list(document.class_names))
        self.warning_label.setText(notice)
        self.warning_label.setStyleSheet("color: #b03000" if warning else "color: #555")
        self.warning_label.setVisible(bool(notice))
        self.set_current(None)

    def set_current(self, item_id: int | None) -> None:
        """Show ``item_id`` (None or an unknown id: no item); emits :attr:`currentChanged` when
        the current item changes."""
        if item_id is not None and (self.document is None or item_id not in self.document):
            item_id = None
        changed = item_id != self.current_id
        self.current_id = item_id
        self._refresh()
        if changed:
            self.currentChanged.emit(-1 if item_id is None else item_id)

    def current_item(self) -> ReviewItem | None:
        if self.document is None or self.current_id is None:
            return None
        return self.document.get(self.current_id)

    # -- edits and navigation ----------------------------------------------------------------
    def push(self, command: Command) -> bool:
        """Run an edit through the undo stack (the workspace's edits too: boxes, new items);
        an invalid edit is shown in the status line and changes nothing."""
        try:
            return self.undo_stack.push(command)
        except (KeyError, ValueError) as error:
            self.status_label.setText(f"not done: {error}")
            return False

    def trigger(self, key: ReviewKey) -> None:
        """Do what ``key`` stands for on the current item."""
        if key.action in ("next", "previous"):
            self.go(1 if key.action == "next" else -1)
            return
        item = self.current_item()
        if item is None or self.document is None:
            return
        if key.action == "class":
            command = decide([item.id], label=int(key.value), state=self.keymap.class_state,
                             text=f"{self.document.class_name(int(key.value))}: item {item.id}")
        else:
            command = decide([item.id], state=ItemState(key.value))
        self.push(command)
        if self.keymap.advance:
            self.go(1)

    def go(self, step: int) -> int | None:
        """Move to the next (1) or previous (-1) unreviewed item in the keymap's order."""
        if self.document is None:
            return None
        target = self.document.navigate(self.current_id, key=self.keymap.order_key,
                                        descending=self.keymap.descending, step=step,
                                        include=self.include)
        if target is not None:
            self.set_current(target)
        return target

    def _class_chosen(self, index: int) -> None:
        item = self.current_item()
        if item is not None and index != item.label:
            self.push(decide([item.id], label=index, state=self.keymap.class_state))

    def _note_edited(self) -> None:
        item = self.current_item()
        if item is not None and self.note.text() != item.note:
            self.push(SetNote(item.id, self.note.text()))

    # -- display -----------------------------------------------------------------------------
    def _observe(self, ids: frozenset[int]) -> None:
        if self.current_id is not None and self.current_id not in self.document:
            self.set_current(None)  # an undo removed it
        elif self.current_id in ids:
            self._refresh()
        self._refresh_status()

    def _refresh(self) -> None:
        item = self.current_item()
        for widget in (self.class_box, self.note):
            widget.setEnabled(item is not None)
        if item is None:
            self.title.setText("No item" if self.document is not None else "No review open")
            for label in (self.state_label, self.score_label, self.geometry_label,
                          self.extras_label):
                label.setText("")
            self.note.setText("")
        else:
            self.title.setText(f"Item {item.id} · {self.document.class_name(item.label)}")
            self.class_box.setCurrentIndex(item.label)
            reviewed = "reviewed" if item.reviewed else "not reviewed"
            self.state_label.setText(f"{item.state.value} ({reviewed})")
            self.score_label.setText("–" if item.score is None else f"{item.score:.3f}")
            self.geometry_label.setText(self._where(item))
            self.extras_label.setText(" · ".join(f"{k} {_number(v)}"
                                                 for k, v in item.extras.items()))
            if not self.note.hasFocus() or self.note.text() == item.note:
                self.note.setText(item.note)
        self._refresh_status()

    @staticmethod
    def _where(item: ReviewItem) -> str:
        parts = []
        if item.mask_id is not None:
            parts.append(f"object {item.mask_id} of the mask")
        if item.box is not None:
            z0, y0, x0, z1, y1, x1 = item.box
            parts.append(f"slices {z0:g}–{z1:g}, rows {y0:g}–{y1:g}, columns {x0:g}–{x1:g}")
        if item.world_xyz is not None:
            x, y, z = item.world_xyz
            parts.append(f"centre ({x:.1f}, {y:.1f}, {z:.1f}) mm")
        if item.size_mm is not None:
            parts.append("size " + " × ".join(f"{v:.1f}" for v in item.size_mm) + " mm")
        return "; ".join(parts) or "–"

    def _refresh_status(self) -> None:
        document = self.document
        if document is None:
            self.counts_label.setText("")
            self.status_label.setText("")
            return
        self.counts_label.setText(document.counts().describe())
        if document.autosave is None:
            self.status_label.setText("not autosaved")
        else:
            self.status_label.setText(document.autosave.status)
