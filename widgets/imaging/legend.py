"""A class legend with a show/hide check box per class (a plain pyqtgraph item).

Each row is a check box, a colour swatch and the class name; clicking a row toggles it and
emits :attr:`ClassLegend.classToggled`. The item draws in screen pixels: anchor it inside any
``ViewBox`` (``legend.setParentItem(view_box); legend.anchor((1, 0), (1, 0), (-8, 8))``) or add
it to a ``GraphicsLayout``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

Colour = tuple[int, int, int]
PADDING = 6.0
BOX = 11.0       # check box and swatch size, px
GAP = 6.0


class ClassLegend(pg.GraphicsWidgetAnchor, pg.GraphicsWidget):
    """Rows of ``[✓] ■ name``; emits ``classToggled(index, visible)`` when a row is clicked."""

    classToggled = Signal(int, bool)

    def __init__(self, title: str = "", font_size_pt: float = 9.0) -> None:
        pg.GraphicsWidget.__init__(self)
        pg.GraphicsWidgetAnchor.__init__(self)
        self.setZValue(100)
        self.title = title
        self.text_font = QFont()
        self.text_font.setPointSizeF(font_size_pt)
        self.names: list[str] = []
        self.colours: list[Colour] = []
        self.visible: list[bool] = []
        self._row_height = 0.0
        self._relayout()

    # -- content ---------------------------------------------------------------------------------
    def set_classes(self, names: Sequence[str], colours: Sequence[Colour],
                    visible: Sequence[bool] | None = None) -> None:
        """Rows for ``names`` with ``colours`` ((r, g, b), 0–255); all shown unless ``visible``."""
        if len(names) != len(colours):
            raise ValueError(f"{len(names)} class names but {len(colours)} colours")
        self.names = [str(n) for n in names]
        self.colours = [tuple(int(v) for v in c[:3]) for c in colours]
        self.visible = [True] * len(names) if visible is None else [bool(v) for v in visible]
        self._relayout()

    def set_class_visible(self, index: int, visible: bool) -> None:
        """Tick or untick row ``index`` without emitting :attr:`classToggled`."""
        self.visible[index] = bool(visible)
        self.update()

    def toggle(self, index: int) -> None:
        """Flip row ``index`` and emit :attr:`classToggled`."""
        self.set_class_visible(index, not self.visible[index])
        self.classToggled.emit(index, self.visible[index])

    # -- geometry --------------------------------------------------------------------------------
    def _relayout(self) -> None:
        metrics = QFontMetricsF(self.text_font)
        self._row_height = max(BOX + 4.0, metrics.height() + 2.0)
        texts = self.names + ([self.title] if self.title else [])
        text_width = max((metrics.horizontalAdvance(t) for t in texts), default=0.0)
        rows = len(self.names) + (1 if self.title else 0)
        width = 2 * PADDING + 2 * BOX + 2 * GAP + text_width
        height = 2 * PADDING + rows * self._row_height
        size = QSizeF(width, height) if self.names else QSizeF(0.0, 0.0)
        self.prepareGeometryChange()
        self.setMinimumSize(size)
        self.setMaximumSize(size)
        self.resize(size)
        self.update()

    def _first_row_y(self) -> float:
        return PADDING + (self._row_height if self.title else 0.0)

    def row_at(self, pos: QPointF) -> int:
        """The class row under ``pos`` (item coordinates), -1 if none."""
        row = int((pos.y() - self._first_row_y()) // self._row_height)
        inside = 0.0 <= pos.x() <= self.size().width()
        return row if inside and pos.y() >= self._first_row_y() and row < len(self.names) else -1

    def row_centre(self, index: int) -> QPointF:
        """Centre of row ``index``'s check box, item coordinates (for tests and tooling)."""
        y = self._first_row_y() + (index + 0.5) * self._row_height
        return QPointF(PADDING + BOX / 2, y)

    # -- drawing and mouse -----------------------------------------------------------------------
    def paint(self, painter: QPainter, *args) -> None:
        if not self.names:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0.0, 0.0, self.size().width(), self.size().height())
        painter.setPen(QPen(QColor(120, 120, 120, 200), 1))
        painter.setBrush(QColor(255, 255, 255, 225))
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.setFont(self.text_font)
        text_x = PADDING + 2 * BOX + 2 * GAP
        if self.title:
            painter.setPen(QColor(20, 20, 20))
            painter.drawText(QRectF(PADDING, PADDING, rect.width(), self._row_height),
                             Qt.AlignmentFlag.AlignVCenter, self.title)
        for index, (name, colour) in enumerate(zip(self.names, self.colours, strict=True)):
            top = self._first_row_y() + index * self._row_height
            box = QRectF(PADDING, top + (self._row_height - BOX) / 2, BOX, BOX)
            painter.setPen(QPen(QColor(60, 60, 60), 1))
            painter.setBrush(QColor(255, 255, 255))
            painter.drawRect(box)
            if self.visible[index]:
                tick = QPen(QColor(20, 20, 20), 2)
                painter.setPen(tick)
                painter.drawPolyline([QPointF(box.left() + 2, box.center().y()),
                                      QPointF(box.left() + 4.5, box.bottom() - 2.5),
                                      QPointF(box.right() - 2, box.top() + 2)])
            swatch = box.translated(BOX + GAP, 0)
            alpha = 255 if self.visible[index] else 60
            painter.setPen(QPen(QColor(40, 40, 40, alpha), 1))
            painter.setBrush(QColor(*colour, alpha))
            painter.drawRect(swatch)
            painter.setPen(QColor(20, 20, 20) if self.visible[index] else QColor(140, 140, 140))
            painter.drawText(QRectF(text_x, top, rect.width() - text_x, self._row_height),
                             Qt.AlignmentFlag.AlignVCenter, name)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        row = self.row_at(ev.pos())
        if row < 0:
            ev.ignore()
            return
        ev.accept()
        self.toggle(row)

    def mouseDragEvent(self, ev) -> None:   # a drag on the legend does not pan the view
        ev.accept() if self.row_at(ev.buttonDownPos()) >= 0 else ev.ignore()
