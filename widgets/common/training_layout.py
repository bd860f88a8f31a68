"""The layout every workspace's Training tab shares: settings on the left, live curves filling
the rest."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLayout, QVBoxLayout, QWidget


def group_box(title: str, *widgets: QWidget) -> QGroupBox:
    """A titled box holding ``widgets`` one below the other."""
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for widget in widgets:
        layout.addWidget(widget)
    return box


def lay_out_training_page(page: QWidget, column: list[QWidget | QLayout], curves: QWidget,
                          width: int = 440) -> None:
    """Give ``page`` a left column of ``column`` (boxes, button rows, a status label; at most
    ``width`` px wide, its spare height at the bottom) beside ``curves``, which take the rest."""
    left = QVBoxLayout()
    for item in column:
        if isinstance(item, QLayout):
            left.addLayout(item)
        else:
            left.addWidget(item)
    left.addStretch(1)
    holder = QWidget()
    holder.setLayout(left)
    holder.setMaximumWidth(width)
    layout = QHBoxLayout(page)
    layout.addWidget(holder)
    layout.addWidget(curves, 1)
