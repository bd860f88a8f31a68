"""Export of plots (PNG/SVG) and result tables (CSV), written atomically."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters

from engines.core.errors import InputError
from engines.core.files import atomic_write_bytes

PLOT_FILTER = "PNG image (*.png);;SVG image (*.svg)"
CSV_FILTER = "CSV table (*.csv)"


def export_plot(item: pg.GraphicsObject | pg.PlotWidget, path: str | Path, width: int = 1600) -> Path:
    """Save a pyqtgraph plot (PlotItem, PlotWidget or GraphicsLayout) as PNG or SVG."""
    path = Path(path)
    scene_item = item.getPlotItem() if isinstance(item, pg.PlotWidget) else item
    suffix = path.suffix.lower()
    if suffix == ".svg":
        exporter = _QtSvgExport(scene_item)
    elif suffix == ".png":
        exporter = pg_exporters.ImageExporter(scene_item)
        exporter.parameters()["width"] = width
    else:
        raise InputError(f"{path.name}: choose a .png or .svg file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=suffix)
    os.close(fd)
    try:
        exporter.export(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


class _QtSvgExport:
    """SVG through Qt's own generator: pyqtgraph's SVGExporter cannot parse the path data that
    Qt >= 6.10 writes (pyqtgraph issue #3485) and fails on every plot."""

    def __init__(self, item: pg.GraphicsObject) -> None:
        self.item = item

    def export(self, filename: str) -> None:
        from PySide6.QtCore import QRectF, QSize
        from PySide6.QtGui import QPainter
        from PySide6.QtSvg import QSvgGenerator

        source = self.item.sceneBoundingRect()
        target = QRectF(0, 0, source.width(), source.height())
        generator = QSvgGenerator()
        generator.setFileName(filename)
        generator.setSize(QSize(int(source.width()), int(source.height())))
        generator.setViewBox(target)
        generator.setTitle("LabLens plot")
        painter = QPainter(generator)
        try:
            painter.fillRect(target, pg.mkBrush(pg.getConfigOption("background")))
            self.item.scene().render(painter, target, source)
        finally:
            painter.end()


def export_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a CSV table (header + rows) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue().encode())
    return path
