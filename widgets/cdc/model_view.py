"""The event as the model sees it: its input image (time, ADC, Δφ as RGB) and its prediction.

Two linked image plots on the chosen grid ("reduced" 71×71: cells in index order, inner layers
at the top; "normal" 128×128: the end-plate binned in x, y). The prediction plot shows the
model's score on hit cells (empty cells light grey, no cell black) with the truth outlined:
every pixel of a cell holding a signal hit gets a green square. Hovering a pixel emits the cell.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engines.cdc.display import ModelImages
from engines.cdc.images import FORMATS

SCORE_MAP = "plasma"
EMPTY_RGBA = (225, 225, 225, 255)
TRUTH_PEN = pg.mkPen(0, 158, 115, width=1.6)
FORMAT_LABELS = {"reduced": "Reduced 71×71 (cell index order)",
                 "normal": "Normal 128×128 (x, y)",
                 "polar": "Polar 20×320 (layer × azimuth)"}


def _image_plot(layout: pg.GraphicsLayoutWidget, row: int, title: str) -> pg.PlotItem:
    plot = layout.addPlot(row=row, col=0, title=title)
    plot.invertY(True)
    plot.setAspectLocked(True)
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    plot.hideButtons()
    return plot


class ModelView(QWidget):
    """Input image and prediction of the shown event; :attr:`formatChosen` asks for a grid."""

    formatChosen = Signal(str)  # "reduced" or "normal"
    cellHovered = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.format_combo = QComboBox()
        for name in FORMATS:
            self.format_combo.addItem(FORMAT_LABELS[name], name)
        self.format_combo.setToolTip("Image format shown (the model's own format is used for "
                                     "its prediction; scores are mapped cell by cell)")
        self.format_combo.currentIndexChanged.connect(
            lambda _i: self.formatChosen.emit(self.format_combo.currentData()))
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.input_plot = _image_plot(self.layout_widget, 0, "Input")
        self.score_plot = _image_plot(self.layout_widget, 1, "Prediction")
        self.score_plot.setXLink(self.input_plot)
        self.score_plot.setYLink(self.input_plot)
        self.input_image = pg.ImageItem(axisOrder="row-major")
        self.score_image = pg.ImageItem(axisOrder="row-major")
        self.input_plot.addItem(self.input_image)
        self.score_plot.addItem(self.score_image)
        self.truth_item = pg.ScatterPlotItem(symbol="s", size=1.0, pxMode=False, brush=None,
                                             pen=TRUTH_PEN)
        self.score_plot.addItem(self.truth_item)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.caption = QLabel("Input: red = time from the trigger (or the window's start), "
                              "green = log charge from the event's median, blue = Δφ to the "
                              "trigger counter (mid-value without one); white = cell without "
                              "hit, black = no cell. Prediction: the U-Net's score on hit "
                              "cells; green squares = true signal cells.")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("color: #555; font-size: 9pt")
        self._lut = pg.colormap.get(SCORE_MAP).getLookupTable(0.0, 1.0, 256, alpha=True)
        self.images: ModelImages | None = None
        top = QHBoxLayout()
        top.addWidget(QLabel("Image"))
        top.addWidget(self.format_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.model_label)
        layout.addWidget(self.layout_widget, 1)
        layout.addWidget(self.caption)
        self._mouse = pg.SignalProxy(self.layout_widget.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._mouse_moved)

    @property
    def image_format(self) -> str:
        return self.format_combo.currentData()

    def set_images(self, images: ModelImages, model_text: str, scored: bool) -> None:
        """Draw ``images`` (see :func:`engines.cdc.display.model_images`)."""
        self.images = images
        height, width = images.score.shape
        self.input_image.setImage(images.rgb, levels=(0.0, 1.0), autoLevels=False)
        rgba = np.zeros((height, width, 4), dtype=np.uint8)
        rgba[..., 3] = 255
        rgba[images.cell >= 0] = EMPTY_RGBA
        finite = np.isfinite(images.score)
        index = np.clip(np.rint(images.score[finite] * 255), 0, 255).astype(np.int64)
        rgba[finite] = self._lut[index]
        self.score_image.setImage(rgba, levels=(0, 255), autoLevels=False)
        rows, cols = np.nonzero(images.truth)
        self.truth_item.setData(x=cols + 0.5, y=rows + 0.5)
        self.model_label.setText(f"As the model sees it: {model_text}")
        self.input_plot.setTitle("Input", size="9pt")
        self.score_plot.setTitle("Prediction and truth" if scored else
                                 "Prediction: none (Analyze)", size="9pt")
        square = height == width or width < 2 * height
        for plot in (self.input_plot, self.score_plot):  # a 20×320 strip fills its box
            plot.setAspectLocked(square)
        self.input_plot.setRange(xRange=(0, width), yRange=(0, height), padding=0.01)

    def cell_at(self, column: int, row: int) -> int:
        """The cell shown at pixel (column, row), -1 for none."""
        if self.images is None:
            return -1
        height, width = self.images.cell.shape
        if 0 <= row < height and 0 <= column < width:
            return int(self.images.cell[row, column])
        return -1

    def _mouse_moved(self, args) -> None:
        position = args[0]
        for plot in (self.input_plot, self.score_plot):
            if plot.vb.sceneBoundingRect().contains(position):
                point = plot.vb.mapSceneToView(position)
                cell = self.cell_at(int(np.floor(point.x())), int(np.floor(point.y())))
                if cell >= 0:
                    self.cellHovered.emit(cell)
                return
