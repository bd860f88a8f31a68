"""The analysed crop box drawn as a rectangle in each of the three slice views."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engines.imaging.views import VIEWS
from engines.soil.preprocess import CropBox
from widgets.imaging.slice_view import SliceViews

CROP_PEN = (255, 255, 255)


class CropOutline:
    """One closed polyline per view through the box's in-plane corners (voxel edges)."""

    def __init__(self, views: SliceViews) -> None:
        self.views = views
        self.items: dict[str, pg.PlotCurveItem] = {}
        for view in VIEWS:
            item = pg.PlotCurveItem(pen=pg.mkPen(CROP_PEN, width=2,
                                                 style=pg.QtCore.Qt.PenStyle.DashLine))
            item.setZValue(30)
            views.view_box(view).addItem(item, ignoreBounds=True)
            self.items[view] = item

    def set_box(self, box: CropBox | None) -> None:
        """Outline ``box`` (None: hide)."""
        for view, item in self.items.items():
            if box is None:
                item.setData([], [])
                continue
            geo = self.views.geometries[view]
            low = np.asarray(box.start_zyx, dtype=np.float64) - 0.5
            high = np.asarray(box.stop_zyx, dtype=np.float64) - 0.5
            corners = []
            for row, col in ((0, 0), (0, 1), (1, 1), (1, 0), (0, 0)):
                zyx = low.copy()
                zyx[geo.row_axis] = (low, high)[row][geo.row_axis]
                zyx[geo.col_axis] = (low, high)[col][geo.col_axis]
                corners.append(self.views.index_to_view(view, tuple(zyx)))
            u, v = np.asarray(corners).T
            item.setData(u, v)
