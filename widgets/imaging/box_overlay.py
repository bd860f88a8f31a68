"""Boxes over an image: many drawn cheaply, one selected with handles, and a draw-new mode.

:class:`BoxOverlay` is a plain pyqtgraph item for any ``ViewBox`` whose coordinates are image
pixels (the 2-D image view, the nodules slice views). Boxes are ``(x0, y0, x1, y1)`` in item
coordinates with an id and a state (any key of the pen map the caller gives: review states,
class indices). All boxes but the selected one are drawn as one ``QPainterPath`` per state, so
a thousand boxes cost a handful of draw calls; the selected box is drawn on top, thicker, with
eight handles.

Mouse (left button): a click on a box selects it (the smallest box under the cursor), a click
elsewhere clears the selection; dragging the selected box's handles or edges resizes it,
dragging inside a box moves it; in draw mode a press-drag-release draws a new box. The item
never changes any document: it emits :attr:`boxSelected`, :attr:`boxEdited` (once, on
release) and :attr:`boxDrawn`, and the caller answers with :meth:`set_boxes`. Drags that start
away from a box are left to the view (panning).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

Rect = tuple[float, float, float, float]
HANDLE_PX = 7.0      # handle square size, screen px
GRAB_PX = 6.0        # how near (screen px) a handle or edge must be to grab it
MIN_DRAWN_PX = 4.0   # a drawn box smaller than this (screen px) is taken as a click
DEFAULT_PEN = QPen(QColor(255, 200, 0), 1.5)
_CURSORS = {(0, 0): Qt.CursorShape.SizeFDiagCursor, (1, 1): Qt.CursorShape.SizeFDiagCursor,
            (0, 1): Qt.CursorShape.SizeBDiagCursor, (1, 0): Qt.CursorShape.SizeBDiagCursor,
            (0, None): Qt.CursorShape.SizeHorCursor, (1, None): Qt.CursorShape.SizeHorCursor,
            (None, 0): Qt.CursorShape.SizeVerCursor, (None, 1): Qt.CursorShape.SizeVerCursor}


def _cosmetic(spec) -> QPen:
    pen = QPen(spec) if isinstance(spec, QPen) else pg.mkPen(spec, width=1.5)
    pen.setCosmetic(True)
    return pen


class BoxOverlay(pg.GraphicsObject):
    """Boxes with ids and states; signals selection, edits and new boxes."""

    boxSelected = Signal(object)          # box id, or None when the selection is cleared
    boxEdited = Signal(object, object)    # box id, (x0, y0, x1, y1) after a move or resize
    boxDrawn = Signal(object)             # (x0, y0, x1, y1) of a box drawn in draw mode

    def __init__(self, pens: Mapping[Hashable, object] | None = None) -> None:
        super().__init__()
        self.setZValue(20)
        self.setAcceptHoverEvents(True)
        self.ids: list[Hashable] = []
        self.rects = np.zeros((0, 4), dtype=np.float64)
        self.states: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._pens: dict[Hashable, QPen] = {}
        self._paths: dict[Hashable, QPainterPath] = {}
        self.selected_id: Hashable | None = None
        self.draw_mode = False
        self.bounds: QRectF | None = None
        self._drag: dict | None = None
        self.preview: QRectF | None = None
        self._extent = QRectF()
        self.set_pens(pens or {})

    # -- content ---------------------------------------------------------------------------------
    def set_pens(self, pens: Mapping[Hashable, object]) -> None:
        """Pen per state: a ``QPen`` or anything ``pg.mkPen`` takes (colour tuple, name)."""
        self._pens = {state: _cosmetic(spec) for state, spec in pens.items()}
        self.update()

    def pen_for(self, state: Hashable) -> QPen:
        return self._pens.get(state, _cosmetic(DEFAULT_PEN))

    def set_boxes(self, ids: Sequence[Hashable], rects, states: Sequence[Hashable] | None = None
                  ) -> None:
        """Replace all boxes: ``rects`` (N, 4) ``(x0, y0, x1, y1)``; ``states`` pick the pens.
        The selection is kept when its id is still there."""
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        if len(ids) != len(rects) or (states is not None and len(states) != len(rects)):
            raise ValueError(f"{len(ids)} ids, {len(rects)} boxes and "
                             f"{len(states) if states is not None else len(rects)} states")
        self.ids = list(ids)
        self._index = {box_id: i for i, box_id in enumerate(self.ids)}
        if len(self._index) != len(self.ids):
            raise ValueError("box ids must be unique")
        self.rects = np.column_stack([np.minimum(rects[:, 0], rects[:, 2]),
                                      np.minimum(rects[:, 1], rects[:, 3]),
                                      np.maximum(rects[:, 0], rects[:, 2]),
                                      np.maximum(rects[:, 1], rects[:, 3])])
        self.states = list(states) if states is not None else [None] * len(self.ids)
        if self.selected_id not in self._index:
            self.selected_id = None
        self.prepareGeometryChange()
        self._drag, self.preview = None, None
        self._rebuild()

    def set_bounds(self, bounds: Rect | None) -> None:
        """Area boxes are kept in and where draw mode works (the image), or None."""
        self.prepareGeometryChange()
        self.bounds = None if bounds is None else QRectF(QPointF(*bounds[:2]),
                                                         QPointF(*bounds[2:]))
        self._rebuild()

    def rect_of(self, box_id: Hashable) -> Rect:
        return tuple(float(v) for v in self.rects[self._index[box_id]])

    def select(self, box_id: Hashable | None, emit: bool = False) -> None:
        """Select ``box_id`` (None clears); emits :attr:`boxSelected` only if ``emit``."""
        if box_id is not None and box_id not in self._index:
            raise KeyError(f"no box with id {box_id!r}")
        changed = box_id != self.selected_id
        self.selected_id = box_id
        self._rebuild()
        if emit and changed:
            self.boxSelected.emit(box_id)

    def set_draw_mode(self, on: bool) -> None:
        """In draw mode a left drag anywhere in the bounds draws a new box."""
        self.draw_mode = bool(on)
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def _rebuild(self) -> None:
        paths: dict[Hashable, QPainterPath] = {}
        for box_id, rect, state in zip(self.ids, self.rects, self.states, strict=True):
            if box_id == self.selected_id:
                continue
            path = paths.setdefault(state, QPainterPath())
            path.addRect(QRectF(rect[0], rect[1], rect[2] - rect[0], rect[3] - rect[1]))
        self.prepareGeometryChange()
        self._paths = paths
        extent = QRectF(self.bounds) if self.bounds is not None else QRectF()
        if len(self.rects):
            low, high = self.rects[:, :2].min(axis=0), self.rects[:, 2:].max(axis=0)
            extent = extent.united(QRectF(QPointF(*low), QPointF(*high)))
        self._extent = extent
        self.update()

    # -- geometry helpers ------------------------------------------------------------------------
    def _pixel(self) -> tuple[float, float]:
        """Item units per screen pixel (x, y); 1 before the item is shown."""
        return (self.pixelWidth() or 1.0), (self.pixelHeight() or 1.0)

    def box_at(self, x: float, y: float) -> Hashable | None:
        """The smallest box containing (x, y) (a grab distance around it counts), or None."""
        if not len(self.rects):
            return None
        px, py = self._pixel()
        tx, ty = GRAB_PX * px, GRAB_PX * py
        r = self.rects
        hit = (x >= r[:, 0] - tx) & (x <= r[:, 2] + tx) & (y >= r[:, 1] - ty) & (y <= r[:, 3] + ty)
        if not hit.any():
            return None
        area = (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])
        return self.ids[int(np.flatnonzero(hit)[np.argmin(area[hit])])]

    def grip_at(self, x: float, y: float) -> tuple | None:
        """What a drag at (x, y) grabs on the selected box: ``("resize", ex, ey)`` with ``ex``
        0 (left edge), 1 (right) or None and ``ey`` likewise, ``("move",)`` inside it, or None."""
        if self.selected_id is None:
            return None
        x0, y0, x1, y1 = self.rect_of(self.selected_id)
        px, py = self._pixel()
        tx, ty = GRAB_PX * px, GRAB_PX * py
        if not (x0 - tx <= x <= x1 + tx and y0 - ty <= y <= y1 + ty):
            return None
        ex = 0 if abs(x - x0) <= tx else 1 if abs(x - x1) <= tx else None
        ey = 0 if abs(y - y0) <= ty else 1 if abs(y - y1) <= ty else None
        if ex is None and ey is None:
            return ("move",) if x0 <= x <= x1 and y0 <= y <= y1 else None
        return ("resize", ex, ey)

    def _clip(self, rect: Rect, move: bool) -> Rect:
        x0, y0, x1, y1 = rect
        if self.bounds is None:
            return rect
        b = self.bounds
        if move:  # keep the size, slide back inside
            dx = max(b.left() - x0, 0.0) + min(b.right() - x1, 0.0)
            dy = max(b.top() - y0, 0.0) + min(b.bottom() - y1, 0.0)
            return x0 + dx, y0 + dy, x1 + dx, y1 + dy
        return (max(x0, b.left()), max(y0, b.top()), min(x1, b.right()), min(y1, b.bottom()))

    # -- mouse -----------------------------------------------------------------------------------
    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self.draw_mode:
            ev.ignore()
            return
        pos = ev.pos()
        box_id = self.box_at(pos.x(), pos.y())
        if box_id is None:
            if self.selected_id is not None:
                self.select(None, emit=True)
            ev.ignore()     # the view still sees a click on the image
            return
        ev.accept()
        self.select(box_id, emit=True)

    def mouseDragEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            start = ev.buttonDownPos()
            if self.draw_mode:
                inside = self.bounds is None or self.bounds.contains(start)
                self._drag = {"kind": "draw", "start": start} if inside else None
            else:
                grip = self.grip_at(start.x(), start.y())
                if grip is None:
                    box_id = self.box_at(start.x(), start.y())
                    if box_id is not None:
                        self.select(box_id, emit=True)
                        grip = ("move",)
                self._drag = None if grip is None else {
                    "kind": grip[0], "edges": grip[1:], "start": start,
                    "rect": self.rect_of(self.selected_id), "id": self.selected_id}
        if self._drag is None:
            ev.ignore()
            return
        ev.accept()
        self.prepareGeometryChange()
        self.preview = self._preview_rect(ev.pos())
        self.update()
        if ev.isFinish():
            self._finish_drag()

    def _dragged_rect(self, pos: QPointF) -> Rect:
        drag = self._drag
        if drag["kind"] == "draw":
            s = drag["start"]
            rect = (min(s.x(), pos.x()), min(s.y(), pos.y()), max(s.x(), pos.x()),
                    max(s.y(), pos.y()))
            return self._clip(rect, move=False)
        x0, y0, x1, y1 = drag["rect"]
        dx, dy = pos.x() - drag["start"].x(), pos.y() - drag["start"].y()
        if drag["kind"] == "move":
            return self._clip((x0 + dx, y0 + dy, x1 + dx, y1 + dy), move=True)
        ex, ey = drag["edges"]
        if ex == 0:
            x0 += dx
        elif ex == 1:
            x1 += dx
        if ey == 0:
            y0 += dy
        elif ey == 1:
            y1 += dy
        rect = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        return self._clip(rect, move=False)

    def _preview_rect(self, pos: QPointF) -> QRectF:
        x0, y0, x1, y1 = self._dragged_rect(pos)
        self._drag["last"] = (x0, y0, x1, y1)
        return QRectF(x0, y0, x1 - x0, y1 - y0)

    def _finish_drag(self) -> None:
        self.prepareGeometryChange()
        drag, self._drag, self.preview = self._drag, None, None
        rect = drag["last"]
        px, py = self._pixel()
        if drag["kind"] == "draw":
            if rect[2] - rect[0] >= MIN_DRAWN_PX * px and rect[3] - rect[1] >= MIN_DRAWN_PX * py:
                self.boxDrawn.emit(rect)
        elif rect != drag["rect"] and drag["id"] in self._index:
            self.rects[self._index[drag["id"]]] = rect       # shown until set_boxes answers
            self.boxEdited.emit(drag["id"], rect)
        self._rebuild()

    def hoverEvent(self, ev) -> None:
        if ev.isExit() or self.draw_mode:
            return
        grip = self.grip_at(ev.pos().x(), ev.pos().y())
        if grip is None:
            self.unsetCursor()
        elif grip[0] == "move":
            self.setCursor(Qt.CursorShape.SizeAllCursor)
        else:
            self.setCursor(_CURSORS[grip[1:]])

    # -- QGraphicsItem ---------------------------------------------------------------------------
    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()    # the handle margin is in screen pixels

    def boundingRect(self) -> QRectF:
        px, py = self._pixel()
        mx, my = (HANDLE_PX + GRAB_PX) * px, (HANDLE_PX + GRAB_PX) * py
        rect = QRectF(self._extent)
        if self.preview is not None:
            rect = rect.united(self.preview)
        return rect.adjusted(-mx, -my, mx, my)

    def paint(self, painter: QPainter, *args) -> None:
        for state, path in self._paths.items():
            painter.setPen(self.pen_for(state))
            painter.drawPath(path)
        editing = self._drag is not None and self._drag["kind"] != "draw"
        if self.selected_id is not None:
            i = self._index[self.selected_id]
            x0, y0, x1, y1 = self.rects[i]
            rect = self.preview if editing and self.preview is not None else \
                QRectF(x0, y0, x1 - x0, y1 - y0)
            self._paint_selected(painter, rect, self.pen_for(self.states[i]))
        if self._drag is not None and self._drag["kind"] == "draw" and self.preview is not None:
            for colour, style in ((QColor(0, 0, 0), Qt.PenStyle.SolidLine),
                                  (QColor(255, 255, 255), Qt.PenStyle.DashLine)):
                pen = QPen(colour, 1.5, style)
                pen.setCosmetic(True)
                painter.setPen(pen)
                painter.drawRect(self.preview)

    def _paint_selected(self, painter: QPainter, rect: QRectF, pen: QPen) -> None:
        halo = QPen(QColor(0, 0, 0, 200), pen.widthF() + 3.0)
        halo.setCosmetic(True)
        painter.setPen(halo)
        painter.drawRect(rect)
        strong = QPen(pen)
        strong.setWidthF(pen.widthF() + 1.0)
        painter.setPen(strong)
        painter.drawRect(rect)
        px, py = self._pixel()
        hw, hh = HANDLE_PX * px, HANDLE_PX * py
        border = QPen(QColor(0, 0, 0), 1.0)
        border.setCosmetic(True)
        painter.setPen(border)
        painter.setBrush(QColor(255, 255, 255))
        for fx in (0.0, 0.5, 1.0):
            for fy in (0.0, 0.5, 1.0):
                if fx == 0.5 and fy == 0.5:
                    continue
                cx, cy = rect.left() + fx * rect.width(), rect.top() + fy * rect.height()
                painter.drawRect(QRectF(cx - hw / 2, cy - hh / 2, hw, hh))
        painter.setBrush(Qt.BrushStyle.NoBrush)
