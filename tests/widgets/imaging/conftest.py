"""Fixtures and mouse helpers for the imaging widget tests."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.engines.imaging.phantoms import chest_phantom

SPACING = (0.7, 0.7, 2.5)


@pytest.fixture
def chest():
    """A small anisotropic chest CT (20 × 48 × 64, 0.7 × 0.7 × 2.5 mm) and its labels."""
    return chest_phantom(shape_zyx=(20, 48, 64), spacing_xyz=SPACING)


@pytest.fixture
def views(qtbot, chest):
    from widgets.imaging.slice_view import SliceViews

    widget = SliceViews(layout="row")
    qtbot.addWidget(widget)
    widget.resize(960, 420)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_volume(chest[0], window="lung")
    qtbot.wait(50)  # layouts settle before tests map voxels to pixels
    return widget


def widget_point(pane, u: float, v: float) -> QPoint:
    """The viewport pixel of scene point (u, v) mm in a slice pane."""
    scene = pane.view_box.mapViewToScene(QPointF(u, v))
    return pane.mapFromScene(scene)


def _mouse(widget, kind, point, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
    local = QPointF(point)
    event = QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(pane, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton, steps: int = 6):
    """Press at ``start``, move in ``steps`` to ``end`` with the button held, release (moves
    12 ms apart: pyqtgraph drops moves closer than its ``mouseRateLimit``)."""
    viewport = pane.viewport()
    none = Qt.MouseButton.NoButton
    _mouse(viewport, QEvent.Type.MouseButtonPress, start, button, button)
    for t in np.linspace(0, 1, steps + 1)[1:]:
        point = QPoint(round(start.x() + t * (end.x() - start.x())),
                       round(start.y() + t * (end.y() - start.y())))
        QTest.qWait(12)
        _mouse(viewport, QEvent.Type.MouseMove, point, none, button)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, end, button, none)


def click(pane, point: QPoint, button=Qt.MouseButton.LeftButton):
    viewport = pane.viewport()
    _mouse(viewport, QEvent.Type.MouseButtonPress, point, button, button)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, point, button, Qt.MouseButton.NoButton)


def wheel(pane, point: QPoint, clicks: int, modifiers=Qt.KeyboardModifier.NoModifier):
    viewport = pane.viewport()
    local = QPointF(point)
    event = QWheelEvent(local, viewport.mapToGlobal(local), QPoint(0, 0), QPoint(0, 120 * clicks),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)
