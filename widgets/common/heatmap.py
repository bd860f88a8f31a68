"""A labelled matrix view with a colour bar (confusion matrices, model-by-sample tables)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

MAX_ANNOTATED = 30  # write values into cells for matrices up to this size


class HeatmapView(pg.GraphicsLayoutWidget):
    """Matrix image with row/column tick labels, cell values and a colour bar legend."""

    def __init__(self, title: str = "", x_label: str = "", y_label: str = "",
                 colormap: str = "viridis", levels: tuple[float, float] = (0.0, 1.0),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot(title=title)
        self.plot.setLabel("bottom", x_label)
        self.plot.setLabel("left", y_label)
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(colormap),
                                        interactive=False, width=15)
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self._texts: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0))

    def set_matrix(self, matrix: np.ndarray, row_labels: Sequence[str],
                   column_labels: Sequence[str], fmt: str = "{:.2f}") -> None:
        """Show ``matrix`` (rows × columns) with its labels; values are written in the cells."""
        self.matrix = np.asarray(matrix, dtype=np.float64)
        rows, cols = self.matrix.shape
        self.image.setImage(self.matrix, autoLevels=False)
        self.image.setRect(0, 0, cols, rows)
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, str(s)) for i, s in enumerate(column_labels)]])
        self.plot.getAxis("left").setTicks([[(i + 0.5, str(s)) for i, s in enumerate(row_labels)]])
        self.plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0)
        for text in self._texts:
            self.plot.removeItem(text)
        self._texts = []
        if max(rows, cols) > MAX_ANNOTATED:
            return
        low, high = self.colorbar.levels()
        middle = (low + high) / 2
        for (r, c), value in np.ndenumerate(self.matrix):
            if not np.isfinite(value):
                continue
            color = "w" if value < middle else "k"
            text = pg.TextItem(fmt.format(value), color=color, anchor=(0.5, 0.5))
            text.setPos(c + 0.5, r + 0.5)
            self.plot.addItem(text)
            self._texts.append(text)
