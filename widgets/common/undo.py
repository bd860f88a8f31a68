"""A QUndoStack that mirrors a review document's own history.

The document (:class:`engines.core.review.ReviewDocument`) keeps the history that counts: its
commands, its undo position, its autosave. :class:`ReviewUndoStack` shows that history to Qt
(Undo/Redo actions with texts, a QUndoView if wanted): :meth:`ReviewUndoStack.push` executes a
command on the document and then records a wrapper whose ``redo``/``undo`` call the document's
``redo``/``undo``. GUI code edits only through :meth:`push`, so the two cannot diverge; should
anything edit the document directly, the stack is rebuilt from the document's history.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack

from engines.core.review import ReviewDocument
from engines.core.review_commands import Command

UNDO_KEYS = ("Ctrl+Z",)
REDO_KEYS = ("Ctrl+Shift+Z", "Ctrl+Y")


class _Mirror(QUndoCommand):
    """One document command on the QUndoStack."""

    def __init__(self, owner: ReviewUndoStack, command: Command) -> None:
        super().__init__(command.text)
        self.owner = owner
        self.command = command
        self.skip_redo = True  # push() has already executed it; QUndoStack.push calls redo()

    def redo(self) -> None:
        if self.skip_redo or self.owner.syncing:
            self.skip_redo = False
            return
        self.owner.run(self.owner.document.redo)

    def undo(self) -> None:
        if not self.owner.syncing:
            self.owner.run(self.owner.document.undo)


class ReviewUndoStack(QObject):
    """Undo/redo of a :class:`ReviewDocument` through a QUndoStack.

    Attributes
    ----------
    stack : QUndoStack
    document : ReviewDocument or None
    """

    historyChanged = Signal(int)  # the undo position or the history changed (the index)

    def __init__(self, document: ReviewDocument | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.stack.indexChanged.connect(self.historyChanged)
        self.document: ReviewDocument | None = None
        self.syncing = False
        self._busy = False
        self.set_document(document)

    def set_document(self, document: ReviewDocument | None) -> None:
        """Follow another document (its existing history becomes the stack)."""
        if self.document is not None and self._observe in self.document.observers:
            self.document.observers.remove(self._observe)
        self.document = document
        if document is not None:
            document.observers.append(self._observe)
        self.rebuild()

    def push(self, command: Command) -> bool:
        """Execute ``command`` on the document and record it; False when it changed nothing.

        Errors of the command (e.g. an unknown class) propagate and leave both unchanged.
        """
        if self.document is None:
            return False
        self._busy = True
        try:
            if not self.document.execute(command):
                return False
            self.stack.push(_Mirror(self, command))
        finally:
            self._busy = False
        self._check()
        return True

    def undo(self) -> None:
        self.stack.undo()

    def redo(self) -> None:
        self.stack.redo()

    def run(self, step: Callable[[], object]) -> None:
        """Call a document undo/redo from the stack without triggering a rebuild."""
        self._busy = True
        try:
            step()
        finally:
            self._busy = False

    def rebuild(self) -> None:
        """Make the stack mirror the document's history and undo position."""
        self.syncing = True
        try:
            self.stack.clear()
            if self.document is not None:
                for command in self.document.history:
                    self.stack.push(_Mirror(self, command))
                self.stack.setIndex(self.document.undo_count)
        finally:
            self.syncing = False
        self.historyChanged.emit(self.stack.index())

    def in_sync(self) -> bool:
        """The stack shows exactly the document's history and position."""
        if self.document is None:
            return self.stack.count() == 0
        history = self.document.history
        return (self.stack.count() == len(history)
                and self.stack.index() == self.document.undo_count
                and all(self.stack.command(i).command is c  # type: ignore[attr-defined]
                        for i, c in enumerate(history)))

    def _observe(self, _ids: frozenset[int]) -> None:
        if not self._busy:  # someone edited the document directly
            self._check()

    def _check(self) -> None:
        if not self.in_sync():
            self.rebuild()

    # -- actions -------------------------------------------------------------------------------
    def create_actions(self, parent: QObject) -> tuple[QAction, QAction]:
        """Undo (Ctrl+Z) and Redo (Ctrl+Shift+Z, Ctrl+Y) actions whose text names the edit;
        their shortcuts apply inside the widget they are added to."""
        undo = self.stack.createUndoAction(parent, "Undo")
        redo = self.stack.createRedoAction(parent, "Redo")
        for action, keys in ((undo, UNDO_KEYS), (redo, REDO_KEYS)):
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{action.text()} ({', '.join(keys)})")
        return undo, redo
