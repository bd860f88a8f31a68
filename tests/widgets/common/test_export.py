"""SVG export of plots: vectors for axes and text, one raster layer for scatter points, the
same picture as on screen, and a small file."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from engines.core.errors import InputError
from widgets.common.export import export_plot


def _grey(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_Grayscale8)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                               image.bytesPerLine())
    return rows[:, :image.width()].astype(np.float64)


@pytest.fixture
def plot(qtbot):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    item = widget.getPlotItem()
    item.setTitle("Event 12")
    item.setLabel("bottom", "x", units="cm")
    rng = np.random.default_rng(0)
    item.addItem(pg.ScatterPlotItem(x=rng.normal(size=6000), y=rng.normal(size=6000), size=6,
                                    brush=pg.mkBrush(200, 60, 60)))
    item.plot([-2, 2], [-2, 2], pen=pg.mkPen("w", width=2))
    widget.show()
    qtbot.waitExposed(widget)
    yield item
    widget.hide()  # the reference keeps the widget (and its plot item) alive until here


def test_svg_matches_the_screen_and_stays_small(plot, tmp_path):
    path = export_plot(plot, tmp_path / "plot.svg")
    text = path.read_text()
    assert path.stat().st_size < 3_000_000          # thousands of points, one raster layer
    assert text.count("<image") == 1 and "Event 12" in text and "x (cm)" in text
    renderer = QSvgRenderer(str(path))
    source = plot.sceneBoundingRect()
    size = renderer.defaultSize()
    assert (size.width(), size.height()) == (round(source.width()), round(source.height()))
    drawn = QImage(size, QImage.Format.Format_ARGB32)
    drawn.fill(0)
    painter = QPainter(drawn)
    renderer.render(painter)
    painter.end()
    direct = QImage(size, QImage.Format.Format_ARGB32)
    direct.fill(pg.mkColor(pg.getConfigOption("background")))
    painter = QPainter(direct)
    plot.scene().render(painter, QRectF(0, 0, size.width(), size.height()), source)
    painter.end()
    difference = np.abs(_grey(drawn) - _grey(direct))
    # the same picture: axes, labels and points where the screen has them (antialiasing aside)
    assert difference.mean() < 8.0
    assert np.percentile(difference, 99) < 120


def test_svg_of_a_plot_without_points_has_no_raster(qtbot, tmp_path):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.getPlotItem().plot([0, 1, 2], [1, 0, 1])
    text = export_plot(widget, tmp_path / "curve.svg").read_text()
    assert "<image" not in text and "<path" in text


def test_other_suffixes_are_refused(plot, tmp_path):
    with pytest.raises(InputError, match="png or .svg"):
        export_plot(plot, tmp_path / "plot.jpg")
