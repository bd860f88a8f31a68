"""Toolbar actions with keyboard shortcuts that work anywhere inside their workspace."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget


def shortcut_action(parent: QWidget, text: str, keys: list[str], tip: str,
                    checkable: bool = False) -> QAction:
    """An action whose tooltip lists its ``keys``; the shortcuts apply while the focus is in
    the widget the action is added to (or its children)."""
    action = QAction(text, parent)
    action.setShortcuts([QKeySequence(k) for k in keys])
    action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    shown = f" ({', '.join(keys)})" if keys else ""
    action.setToolTip(f"{tip}{shown}")
    action.setCheckable(checkable)
    return action
