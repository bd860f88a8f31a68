"""Mouse helpers for the image view tests: real QMouseEvents sent to the view's viewport, at
image (view) coordinates, so pyqtgraph's scene dispatches clicks and drags as for a user."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

# pyqtgraph's scene drops mouse moves closer than 1 / mouseRateLimit (100 Hz) apart
MOVE_INTERVAL_S = 0.012
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def screen_point(view, x: float, y: float) -> QPoint:
    """Viewport pixel of image point (x, y) in ``view`` (an ImageView)."""
    return view.mapFromScene(view.view.mapViewToScene(QPointF(x, y)))


def send(view, kind: QEvent.Type, point: QPoint, button=LEFT, buttons=LEFT) -> None:
    viewport = view.viewport()
    event = QMouseEvent(kind, QPointF(point), QPointF(viewport.mapToGlobal(point)), button,
                        buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, event)


def click(view, x: float, y: float) -> None:
    point = screen_point(view, x, y)
    send(view, QEvent.Type.MouseButtonPress, point)
    send(view, QEvent.Type.MouseButtonRelease, point, buttons=NONE)


def click_screen(view, point: QPoint) -> None:
    send(view, QEvent.Type.MouseButtonPress, point)
    send(view, QEvent.Type.MouseButtonRelease, point, buttons=NONE)


def drag(view, start: tuple[float, float], end: tuple[float, float], steps: int = 8,
         on_step=None) -> None:
    """Press at image point ``start``, move in ``steps`` to ``end``, release."""
    a, b = screen_point(view, *start), screen_point(view, *end)
    send(view, QEvent.Type.MouseButtonPress, a)
    for i in range(1, steps + 1):
        point = QPoint(round(a.x() + (b.x() - a.x()) * i / steps),
                       round(a.y() + (b.y() - a.y()) * i / steps))
        time.sleep(MOVE_INTERVAL_S)
        send(view, QEvent.Type.MouseMove, point, button=NONE)
        if on_step is not None:
            on_step(i)
    send(view, QEvent.Type.MouseButtonRelease, b, buttons=NONE)
