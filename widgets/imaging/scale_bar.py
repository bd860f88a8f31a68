"""A scale bar in screen space: a "nice" length (1, 2 or 5 × 10^k µm) that follows the zoom.

Unlike ``pg.ScaleBar`` (a fixed length in data units) this bar keeps a readable size: at every
zoom it shows the longest nice length that fits in ``max_length_px`` screen pixels, so its
screen length stays between 40 % and 100 % of that. It is anchored inside the view box (a
child of the box, not of the zoomed content), so it is never clipped or scaled.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

NICE_STEPS = (1.0, 2.0, 5.0)
PADDING = 5.0
BAR_HEIGHT = 5.0


def nice_length(max_length: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``max_length`` (> 0)."""
    exponent = math.floor(math.log10(max_length))
    for step in reversed(NICE_STEPS):
        value = step * 10.0 ** exponent
        if value <= max_length * (1 + 1e-9):
            return value
    return 5.0 * 10.0 ** (exponent - 1)


def format_length_um(length_um: float) -> str:
    """``"500 nm"``, ``"20 µm"`` or ``"2 mm"`` for a length in µm."""
    if length_um >= 1000.0:
        return f"{length_um / 1000.0:g} mm"
    if length_um < 1.0:
        return f"{length_um * 1000.0:g} nm"
    return f"{length_um:g} µm"


def image_px_per_screen_px(view_box: pg.ViewBox) -> float:
    """View units per screen pixel along x, from the requested range (``viewPixelSize()`` can
    return a value cached before a pending range change)."""
    return view_box.viewRect().width() / max(view_box.width(), 1.0)


class ScaleBar(pg.GraphicsWidgetAnchor, pg.GraphicsWidget):
    """A black bar with its length above it on a light box; hidden without a pixel size."""

    def __init__(self, max_length_px: float = 160.0, font_size_pt: float = 9.0) -> None:
        pg.GraphicsWidget.__init__(self)
        pg.GraphicsWidgetAnchor.__init__(self)
        self.setZValue(100)
        self.max_length_px = float(max_length_px)
        self.text_font = QFont()
        self.text_font.setPointSizeF(font_size_pt)
        self.text_font.setBold(True)
        self.pixel_size_um: float | None = None
        self.length_um = 0.0
        self.bar_px = 0.0
        self.text = ""
        self._view: pg.ViewBox | None = None
        self.setVisible(False)

    def attach(self, view_box: pg.ViewBox, offset: tuple[float, float] = (10.0, -10.0)) -> None:
        """Put the bar in ``view_box``'s bottom-left corner and follow its zoom."""
        self._view = view_box
        self.setParentItem(view_box)
        self.anchor(itemPos=(0, 1), parentPos=(0, 1), offset=offset)
        view_box.sigRangeChanged.connect(self.refresh)
        view_box.sigResized.connect(self.refresh)
        self.refresh()

    def set_pixel_size(self, pixel_size_um: float | None) -> None:
        """Image pixel size, µm/px (None or not positive: no bar)."""
        valid = pixel_size_um is not None and math.isfinite(pixel_size_um) and pixel_size_um > 0
        self.pixel_size_um = float(pixel_size_um) if valid else None
        self.refresh()

    def refresh(self, *args) -> None:
        """Choose the length for the current zoom and resize the bar."""
        view = self._view
        if self.pixel_size_um is None or view is None:
            self.setVisible(False)
            return
        pixel = image_px_per_screen_px(view)
        if not pixel > 0 or not math.isfinite(pixel):
            self.setVisible(False)
            return
        um_per_screen_px = self.pixel_size_um * pixel
        self.length_um = nice_length(self.max_length_px * um_per_screen_px)
        self.bar_px = self.length_um / um_per_screen_px
        self.text = format_length_um(self.length_um)
        metrics = QFontMetricsF(self.text_font)
        width = max(self.bar_px, metrics.horizontalAdvance(self.text)) + 2 * PADDING
        height = metrics.height() + BAR_HEIGHT + 3 * PADDING
        size = QSizeF(math.ceil(width), math.ceil(height))
        if size != self.size():
            self.prepareGeometryChange()
            self.setMinimumSize(size)
            self.setMaximumSize(size)
            self.resize(size)
        self.setVisible(True)
        self.update()

    def paint(self, painter: QPainter, *args) -> None:
        if not self.text:
            return
        rect = QRectF(0.0, 0.0, self.size().width(), self.size().height())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 210))
        painter.drawRoundedRect(rect, 3, 3)
        metrics = QFontMetricsF(self.text_font)
        painter.setFont(self.text_font)
        painter.setPen(QPen(QColor(0, 0, 0)))
        painter.drawText(QRectF(0.0, PADDING, rect.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignHCenter, self.text)
        left = (rect.width() - self.bar_px) / 2
        bar = QRectF(left, rect.height() - PADDING - BAR_HEIGHT, self.bar_px, BAR_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0))
