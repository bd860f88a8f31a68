"""An image item that draws only what is on screen, at the resolution the zoom needs.

For an 8000 × 7000 image a plain ``ImageItem`` converts all 56 MP to a QImage whenever the
levels, the colour table or the data change (and at 1:1 zoom it paints a 224 MB ARGB buffer).
:class:`PyramidImageItem` holds a list of levels (level ``k`` has pixels ``2^k`` image pixels
wide: the box-averaged pyramid of :func:`engines.imaging.image_display.build_pyramid`, or
strided views for label images) and shows, in one child ``ImageItem``, the crop of the level
that fits the zoom (level pixels about one screen pixel) over the visible rectangle plus a
margin. Panning inside the margin is a repaint only; the crop is redone when the view leaves
it, when the level changes or when the data under it change (:meth:`invalidate_rows`). A crop
is at most about 2 × 1.5² screen sizes, so a frame costs the same at any image size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

MARGIN = 0.25  # crop margin on each side, as a fraction of the visible extent

# fetch(level, rows, cols) -> the (h, w[, C]) array to show for that crop of that level
Fetch = Callable[[int, slice, slice], np.ndarray]


class PyramidImageItem(pg.GraphicsObject):
    """Shows the visible part of the right pyramid level of a ``(H, W[, C])`` image."""

    def __init__(self) -> None:
        super().__init__()
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setParentItem(self)
        self.image_shape: tuple[int, int] = (0, 0)   # not `shape`: that is QGraphicsItem.shape()
        self.level_shapes: list[tuple[int, int]] = []
        self._fetch: Fetch | None = None
        self._display: dict = {"levels": None, "lut": None}
        self.crop: tuple[int, int, int, int, int] | None = None   # level, y0, y1, x0, x1
        self._last_view: tuple[QRectF, float] | None = None

    # -- data ------------------------------------------------------------------------------------
    def set_levels_data(self, shape: tuple[int, int], level_shapes: Sequence[tuple[int, int]],
                        fetch: Fetch) -> None:
        """Show a new image of ``shape = (H, W)`` whose pyramid levels have ``level_shapes``
        (level 0 = ``shape``); ``fetch`` returns the array to draw for a crop of a level."""
        self.prepareGeometryChange()
        self.image_shape = (int(shape[0]), int(shape[1]))
        self.level_shapes = [(int(h), int(w)) for h, w in level_shapes]
        self._fetch = fetch
        self.crop = None
        self._redraw()

    def set_arrays(self, levels: Sequence[np.ndarray]) -> None:
        """Show plain arrays: ``levels[k]`` is drawn as is, cropped (``levels[0]`` full size)."""
        levels = list(levels)
        self.set_levels_data(levels[0].shape[:2], [lvl.shape[:2] for lvl in levels],
                             lambda k, rows, cols: levels[k][rows, cols])

    def clear(self) -> None:
        self.prepareGeometryChange()
        self.image_shape, self.level_shapes, self._fetch, self.crop = (0, 0), [], None, None
        self.image_item.clear()

    def set_display(self, levels: tuple[float, float] | None = None,
                    lut: np.ndarray | None = None) -> None:
        """Black/white ``levels`` (None: data used as is, uint8 only) and colour table
        ``lut`` ((256, 4) uint8 RGBA for indexed data, or None)."""
        self._display = {"levels": levels, "lut": lut}
        if self.crop is not None:
            self.image_item.setLevels(levels, update=False)
            self.image_item.setLookupTable(lut)

    def invalidate_rows(self, y0: int, y1: int) -> None:
        """Image rows ``[y0, y1)`` changed: redraw if the current crop shows any of them."""
        if self.crop is None:
            return
        level, cy0, cy1, _, _ = self.crop
        scale = 1 << level
        if y0 < cy1 * scale and y1 > cy0 * scale:
            self.crop = None
            self._redraw()

    def invalidate(self) -> None:
        """The data changed everywhere: redraw the current view."""
        self.crop = None
        self._redraw()

    # -- view ------------------------------------------------------------------------------------
    def level_for(self, image_px_per_screen_px: float) -> int:
        """The level whose pixels are closest to one screen pixel (log scale)."""
        if not self.level_shapes or not image_px_per_screen_px > 0:
            return 0
        level = math.floor(math.log2(image_px_per_screen_px) + 0.5)
        return min(max(level, 0), len(self.level_shapes) - 1)

    def show_view(self, view_rect: QRectF, image_px_per_screen_px: float) -> bool:
        """Make sure the visible ``view_rect`` (image px) is drawn; True when it re-cropped."""
        self._last_view = (QRectF(view_rect), float(image_px_per_screen_px))
        if self._fetch is None:
            return False
        level = self.level_for(image_px_per_screen_px)
        scale = float(1 << level)
        height, width = self.level_shapes[level]
        vx0, vx1 = view_rect.left() / scale, view_rect.right() / scale
        vy0, vy1 = view_rect.top() / scale, view_rect.bottom() / scale
        if self.crop is not None:
            c_level, cy0, cy1, cx0, cx1 = self.crop
            inside = (max(vx0, 0) >= cx0 and min(vx1, width) <= cx1
                      and max(vy0, 0) >= cy0 and min(vy1, height) <= cy1)
            if c_level == level and inside:
                return False
        mx, my = MARGIN * (vx1 - vx0), MARGIN * (vy1 - vy0)
        x0, x1 = max(0, math.floor(vx0 - mx)), min(width, math.ceil(vx1 + mx))
        y0, y1 = max(0, math.floor(vy0 - my)), min(height, math.ceil(vy1 + my))
        if x1 <= x0 or y1 <= y0:        # the view is beside the image
            self.crop = None
            self.image_item.clear()
            return False
        data = np.ascontiguousarray(self._fetch(level, slice(y0, y1), slice(x0, x1)))
        self.crop = (level, y0, y1, x0, x1)
        self.image_item.setImage(data, levels=self._display["levels"], lut=self._display["lut"])
        self.image_item.setRect(QRectF(x0 * scale, y0 * scale, (x1 - x0) * scale,
                                       (y1 - y0) * scale))
        return True

    def _redraw(self) -> None:
        if self._last_view is not None:
            self.show_view(*self._last_view)

    # -- QGraphicsItem ---------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        return QRectF(0.0, 0.0, float(self.image_shape[1]), float(self.image_shape[0]))

    def paint(self, painter, *args) -> None:  # the child ImageItem draws
        pass
