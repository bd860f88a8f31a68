"""One orthogonal slice view: the image in a world-mm scene, crosshair, orientation letters and
a corner read-out, with the mouse and keys of Slicer / ITK-SNAP.

Mouse: left click or drag moves the crosshair; right-drag changes window (horizontal) and
level (vertical); middle-drag pans; the wheel steps through slices, Ctrl+wheel zooms; a right
click opens pyqtgraph's view menu. Keys: Up / Right / PageUp step one slice forward (towards
the next voxel plane), Down / Left / PageDown back; with Shift, ten slices.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QTransform
from PySide6.QtWidgets import QWidget

from engines.imaging.views import SliceGeometry

#: Slicer's view colours (axial red, coronal green, sagittal yellow); a view's crosshair lines
#: take the colours of the views whose planes they are.
VIEW_COLOURS = {"axial": (231, 76, 60), "coronal": (46, 204, 113), "sagittal": (241, 196, 15)}
#: the views whose planes a view's vertical and horizontal crosshair lines are
CROSSHAIR_PLANES = {"axial": ("sagittal", "coronal"), "coronal": ("sagittal", "axial"),
                    "sagittal": ("coronal", "axial")}
FORWARD_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Right, Qt.Key.Key_PageUp)
BACK_KEYS = (Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_PageDown)
LETTER_MARGIN_PX = 4
WHEEL_NOTCH = 120


class SliceViewBox(pg.ViewBox):
    """A ViewBox whose mouse picks positions, steps slices and drags the window."""

    picked = Signal(float, float)  # scene u, v (mm)
    stepped = Signal(int)
    windowDragged = Signal(float, float, bool)  # dx, dy up (px since the press), finished

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapToView(ev.pos())
            self.picked.emit(point.x(), point.y())
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapToView(ev.pos())
            self.picked.emit(point.x(), point.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            moved = ev.screenPos() - ev.buttonDownScreenPos(Qt.MouseButton.RightButton)
            self.windowDragged.emit(moved.x(), -moved.y(), ev.isFinish())
        else:
            super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        # one slice per notch (120 eighths of a degree); touchpads' small deltas add up
        self._wheel_rest = getattr(self, "_wheel_rest", 0) + ev.delta()
        steps = int(self._wheel_rest / WHEEL_NOTCH)
        if steps:
            self._wheel_rest -= steps * WHEEL_NOTCH
            self.stepped.emit(steps)


class SlicePane(pg.GraphicsLayoutWidget):
    """A single orthogonal view (``axial``, ``coronal`` or ``sagittal``).

    The scene is in world mm (see :mod:`engines.imaging.views`), so the aspect ratio is
    locked at 1 and anisotropic voxels are drawn at their true size.
    """

    def __init__(self, view: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setBackground("k")
        self.setMinimumSize(120, 120)
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.view_box = SliceViewBox(lockAspect=True, enableMenu=True)
        self.view_box.setBorder(pg.mkPen(*VIEW_COLOURS[view], width=2))
        self.addItem(self.view_box)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image)
        self.geometry: SliceGeometry | None = None
        vertical, horizontal = (pg.mkPen(*VIEW_COLOURS[plane], 200, width=1)
                                for plane in CROSSHAIR_PLANES[view])
        self.v_line = pg.InfiniteLine(angle=90, movable=False, pen=vertical)
        self.h_line = pg.InfiniteLine(angle=0, movable=False, pen=horizontal)
        for line in (self.v_line, self.h_line):
            line.setZValue(50)
            self.view_box.addItem(line, ignoreBounds=True)
        font = QFont()
        font.setPointSize(10)
        font.setBold(True)
        self.letters = {}
        for edge in ("left", "right", "top", "bottom"):
            text = pg.TextItem("", color=(255, 235, 160), fill=pg.mkBrush(0, 0, 0, 140))
            text.setFont(font)
            text.setParentItem(self.view_box)
            self.letters[edge] = text
        self.corner = pg.TextItem("", color=VIEW_COLOURS[view], fill=pg.mkBrush(0, 0, 0, 140))
        self.corner.setParentItem(self.view_box)
        self.view_box.sigResized.connect(self._place_texts)

    # -- geometry ------------------------------------------------------------------------------
    def set_geometry(self, geometry: SliceGeometry) -> None:
        """Place the image in the world-mm scene and show the edge letters of ``geometry``."""
        self.geometry = geometry
        sx, sy, tx, ty = geometry.image_transform()
        self.image.setTransform(QTransform(sx, 0.0, 0.0, sy, tx, ty))
        self.view_box.invertY(geometry.invert_y)
        for edge, letter in geometry.edge_letters().items():
            self.letters[edge].setText(letter)
        self.reset_zoom()
        self._place_texts()

    def reset_zoom(self) -> None:
        """Fit the whole slice in the view."""
        if self.geometry is not None:
            self.view_box.setRange(QRectF(*self.geometry.scene_rect()), padding=0.02)

    def scene_extent(self) -> QRectF:
        """The image's bounds in scene mm (as drawn)."""
        return self.image.mapRectToView(self.image.boundingRect())

    # -- content -------------------------------------------------------------------------------
    def show_slice(self, image, levels: tuple[float, float]) -> None:
        self.image.setImage(image, autoLevels=False, levels=levels)

    def set_levels(self, levels: tuple[float, float]) -> None:
        self.image.setLevels(levels)

    def set_crosshair(self, u: float, v: float) -> None:
        self.v_line.setValue(u)
        self.h_line.setValue(v)

    def set_corner_text(self, text: str) -> None:
        self.corner.setText(text)
        self._place_texts()

    # -- keys and texts ------------------------------------------------------------------------
    def keyPressEvent(self, ev) -> None:  # noqa: N802 (Qt)
        step = 10 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
        if ev.key() in FORWARD_KEYS:
            self.view_box.stepped.emit(step)
        elif ev.key() in BACK_KEYS:
            self.view_box.stepped.emit(-step)
        else:
            super().keyPressEvent(ev)
            return
        ev.accept()

    def _place_texts(self) -> None:
        rect = self.view_box.boundingRect()
        margin = LETTER_MARGIN_PX
        anchors = {"left": ((0, 0.5), QPointF(rect.left() + margin, rect.center().y())),
                   "right": ((1, 0.5), QPointF(rect.right() - margin, rect.center().y())),
                   "top": ((0.5, 0), QPointF(rect.center().x(), rect.top() + margin)),
                   "bottom": ((0.5, 1), QPointF(rect.center().x(), rect.bottom() - margin))}
        for edge, (anchor, point) in anchors.items():
            self.letters[edge].setAnchor(anchor)
            self.letters[edge].setPos(point)
        self.corner.setAnchor((0, 0))
        self.corner.setPos(QPointF(rect.left() + margin, rect.top() + margin))
