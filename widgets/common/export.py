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


RASTER_TYPES = (pg.ScatterPlotItem, pg.ImageItem)
RASTER_SCALE = 2  # raster layer pixels per scene pixel (sharp on print and zoom)
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"


def _raster_items(root: pg.GraphicsObject) -> list:
    """The visible scatter and image items of ``root``'s plot (drawn as one raster layer)."""
    items = [root, *root.childItems()]
    found, stack = [], list(items)
    while stack:
        item = stack.pop()
        if isinstance(item, RASTER_TYPES) and item.isVisible():
            found.append(item)
        else:
            stack.extend(item.childItems())
    return found


class _QtSvgExport:
    """SVG with the axes, curves and text as vectors and the scatter points and images as one
    embedded PNG layer beneath them.

    Drawn point by point, Qt's generator writes every scatter symbol as its own embedded
    pixmap (tens of MB for a drift-chamber event) and, at its default 72 dpi, sets text at a
    different size than the screen and the PNG export do, so the axes' labels land in the wrong
    places. Here the generator draws at the resolution of a QImage (the PNG export's), with the
    scatter and image items hidden; those are rendered once, alone and transparent, at
    ``RASTER_SCALE`` times the resolution and placed under the vectors at the same coordinates.
    (pyqtgraph's own SVGExporter cannot parse the path data that Qt >= 6.10 writes, pyqtgraph
    issue #3485.)
    """

    def __init__(self, item: pg.GraphicsObject) -> None:
        self.item = item

    def _render(self, device, target, source, hide: list, show_only: list | None = None):
        from PySide6.QtGui import QPainter

        scene = self.item.scene()
        changed = []
        if show_only is not None:
            keep = set()
            for item in show_only:  # the items, their ancestors and their descendants
                parent = item
                while parent is not None:
                    keep.add(parent)
                    parent = parent.parentItem()
                keep.update(item.childItems())
            hide = [i for i in scene.items() if i not in keep]
        for item in hide:
            if item.isVisible():
                item.setVisible(False)
                changed.append(item)
        painter = QPainter(device)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            scene.render(painter, target, source)
        finally:
            painter.end()
            for item in changed:
                item.setVisible(True)

    def export(self, filename: str) -> None:
        import base64
        import xml.etree.ElementTree as ET

        from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize
        from PySide6.QtGui import QColor, QImage
        from PySide6.QtSvg import QSvgGenerator

        source = self.item.sceneBoundingRect()
        width, height = max(1, round(source.width())), max(1, round(source.height()))
        target = QRectF(0, 0, width, height)
        raster = _raster_items(self.item)
        svg_bytes = QByteArray()
        buffer = QBuffer(svg_bytes)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setResolution(QImage(1, 1, QImage.Format.Format_ARGB32).logicalDpiX())
        generator.setSize(QSize(width, height))
        generator.setViewBox(target)
        generator.setTitle("LabLens plot")
        self._render(generator, target, source, raster)
        buffer.close()
        ET.register_namespace("", SVG_NS)
        ET.register_namespace("xlink", XLINK_NS)
        root = ET.fromstring(bytes(svg_bytes))
        root.set("width", f"{width}px")   # the generator writes mm at its own resolution
        root.set("height", f"{height}px")
        layers = [ET.Element(f"{{{SVG_NS}}}rect", x="0", y="0", width=str(width),
                             height=str(height), fill=QColor(pg.mkColor(
                                 pg.getConfigOption("background"))).name())]
        if raster:
            image = QImage(width * RASTER_SCALE, height * RASTER_SCALE,
                           QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(0)
            for item in raster:  # symbols are sized in device pixels: scale them along
                item.setExportMode(True, {"antialias": True, "resolutionScale": RASTER_SCALE})
            try:
                self._render(image, QRectF(0, 0, image.width(), image.height()), source, [],
                             show_only=raster)
            finally:
                for item in raster:
                    item.setExportMode(False)
            png = QByteArray()
            png_buffer = QBuffer(png)
            png_buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            image.save(png_buffer, "PNG")
            png_buffer.close()
            href = "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")
            layers.append(ET.Element(f"{{{SVG_NS}}}image", {
                "x": "0", "y": "0", "width": str(width), "height": str(height),
                f"{{{XLINK_NS}}}href": href, "preserveAspectRatio": "none"}))
        first = next((i for i, child in enumerate(root)
                      if child.tag not in (f"{{{SVG_NS}}}title", f"{{{SVG_NS}}}desc")),
                     len(root))
        for offset, element in enumerate(layers):
            root.insert(first + offset, element)
        Path(filename).write_bytes(b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
                                   + ET.tostring(root))


def export_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a CSV table (header + rows) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue().encode())
    return path
