"""End view of the COMET CDC: every cell at its wire position, the walls, the CTH rings.

Two scatter layers over the read-out end-plate (cm, equal aspect): all 4986 cells as small
hollow grey circles (guard layers dotted lighter), drawn once, and the hit cells of the shown
event as filled points on top, coloured by hit time, log10 charge, score (a colour bar whose
levels come from the file's data and can be dragged; its title shows the range) or outcome at
the threshold (a legend with counts). The fitted track's circle is drawn over the hits. The
fired CTH counter and its legend entry appear only for files with trigger counters, and the
time axis says whether times count from the trigger or are the file's own clock. Per event
only the hit layer's positions and brushes change, built with numpy from lookup tables of
brushes. Hovering a cell (or :meth:`hover_cell`) emits :attr:`hovered` with its hits.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QWidget

from engines.cdc.display import CellView, ColourScales
from engines.cdc.events import Event
from engines.cdc.features import log_charge
from engines.cdc.geometry import CELL_DEPTH_CM, LAYER_RADIUS_CM, get_geometry
from engines.cdc.outcomes import HIT, NO_HIT, OUTCOME_NAMES, outcome_classes, outcome_codes
from widgets.cdc.hover import cell_report
from widgets.cdc.palette import (
    COLOUR_MODES,
    OUTCOME_COLOURS,
    OUTCOME_SIZES,
    TIME_LABEL_NO_TRIGGER,
    brush_table,
    lut_index,
)

INNER_WALL_CM = float(LAYER_RADIUS_CM[0] - CELL_DEPTH_CM)    # about 49.8 cm (TDR: 49.7)
OUTER_WALL_CM = float(LAYER_RADIUS_CM[-1] + CELL_DEPTH_CM)   # about 83.4 cm (TDR: 83.5)
TARGET_RADIUS_CM = 10.0  # aluminium stopping-target discs
CTH_HALF_DEPTH_CM = 0.5
HOVER_RADIUS_CM = 1.0
EMPTY_PEN = pg.mkPen(175, 175, 175, 255, width=1)
GUARD_PEN = pg.mkPen(205, 205, 205, 255, width=1, style=Qt.PenStyle.DotLine)
HIT_PEN = pg.mkPen(40, 40, 40, 110, width=0.6)
WALL_PEN = pg.mkPen(90, 90, 90, width=1.5)
CTH_PEN = pg.mkPen(120, 120, 120, width=1)
FIRED_BRUSH = pg.mkBrush(213, 94, 0, 230)
TRACK_PEN = pg.mkPen(20, 20, 20, 220, width=2, style=Qt.PenStyle.DashLine)
HIT_SIZE = 6.5


def _counter_path(radius: float, phi: float, span: float,
                  half_depth: float = CTH_HALF_DEPTH_CM) -> QPainterPath:
    """Outline of one CTH counter: a thin annular sector (cm)."""
    path = QPainterPath()
    angles = np.linspace(phi - 0.46 * span, phi + 0.46 * span, 5)
    inner = [(radius - half_depth) * np.array([np.cos(a), np.sin(a)]) for a in angles]
    outer = [(radius + half_depth) * np.array([np.cos(a), np.sin(a)]) for a in angles]
    points = inner + outer[::-1]
    path.moveTo(QPointF(*points[0]))
    for point in points[1:]:
        path.lineTo(QPointF(*point))
    path.closeSubpath()
    return path


def _circle(plot: pg.PlotItem, radius: float, pen: QPen) -> None:
    angle = np.linspace(0.0, 2.0 * np.pi, 721)
    item = pg.PlotCurveItem(radius * np.cos(angle), radius * np.sin(angle), pen=pen)
    item.setZValue(-5)
    plot.addItem(item)


class EventDisplay(pg.PlotWidget):
    """The chamber and one event; emits :attr:`hovered` (HTML) and :attr:`cellHovered`."""

    hovered = Signal(str)
    cellHovered = Signal(int)  # cell index, -1 when the mouse left the cells

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.geo = get_geometry()
        plot = self.plot_item
        plot.setAspectLocked(True)
        plot.setLabel("bottom", "x", units="cm")
        plot.setLabel("left", "y", units="cm")
        for axis in ("bottom", "left"):
            plot.getAxis(axis).enableAutoSIPrefix(False)
        plot.hideButtons()
        limit = OUTER_WALL_CM + 3.0
        plot.setRange(xRange=(-limit, limit), yRange=(-limit, limit), padding=0)
        self._draw_detector()
        geo = self.geo
        guard = geo.is_guard
        self.cells_item = pg.ScatterPlotItem(
            x=geo.cell_x, y=geo.cell_y, size=np.where(guard, 2.5, 3.2), brush=None,
            pen=[GUARD_PEN if g else EMPTY_PEN for g in guard], pxMode=True)
        self.cells_item.setZValue(0)
        plot.addItem(self.cells_item)
        self.hits_item = pg.ScatterPlotItem(pxMode=True, pen=HIT_PEN, size=HIT_SIZE)
        self.hits_item.setZValue(5)
        plot.addItem(self.hits_item)
        self.marker = pg.ScatterPlotItem(pxMode=True, size=15, brush=None,
                                         pen=pg.mkPen(0, 0, 0, width=2))
        self.marker.setZValue(10)
        plot.addItem(self.marker)
        self.track_item = pg.PlotCurveItem(pen=TRACK_PEN)
        self.track_item.setZValue(8)
        plot.addItem(self.track_item)
        self.track_text = ""
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), width=14, interactive=True,
                                        colorMap=pg.colormap.get("viridis"))
        self.colorbar.getAxis("right").enableAutoSIPrefix(False)
        plot.layout.addItem(self.colorbar, 2, 5)
        self.colorbar.sigLevelsChanged.connect(self._levels_dragged)
        # below the plot, so it never hides a cell (and is part of an exported image)
        self.legend = pg.LegendItem(labelTextSize="9pt", colCount=2, verSpacing=-6,
                                    horSpacing=18)
        # title and legend span every column: over the plot's column alone, their width would
        # widen the plot past a narrow display and push the colour bar out of sight
        columns = plot.layout.columnCount()
        plot.layout.addItem(self.legend, 4, 0, 1, columns)
        plot.layout.removeItem(plot.titleLabel)
        plot.layout.addItem(plot.titleLabel, 0, 0, 1, columns)

        self.mode = "outcome"
        self.levels = {name: spec.levels for name, spec in COLOUR_MODES.items()}
        self.trigger_times = True   # the file's times count from a trigger
        self.trigger_counters = True  # the file names the firing CTH counter
        self.threshold = 0.5
        self.shown_event: Event | None = None
        self.cells: CellView | None = None
        self.has_truth = False
        self.codes = np.zeros(0, dtype=np.int8)
        self.shown_cells = np.zeros(0, dtype=np.int64)
        self.hover_cell_index = -1
        self._legend_key: tuple[int, ...] | None = None
        self._brush_tables = {name: brush_table(spec.colormap)
                              for name, spec in COLOUR_MODES.items()}
        self._outcome_brushes = np.array([pg.mkBrush(*c) for c in OUTCOME_COLOURS], dtype=object)
        self._mouse = pg.SignalProxy(self.scene().sigMouseMoved, rateLimit=30,
                                     slot=self._mouse_moved)
        self._apply_mode_decorations()
        self._update_legend([])

    @property
    def plot_item(self) -> pg.PlotItem:
        return self.getPlotItem()

    # -- static detector -------------------------------------------------------------------------
    def _draw_detector(self) -> None:
        plot = self.plot_item
        for radius in (INNER_WALL_CM, OUTER_WALL_CM):
            _circle(plot, radius, WALL_PEN)
        _circle(plot, TARGET_RADIUS_CM, pg.mkPen(150, 150, 150, width=1,
                                                 style=Qt.PenStyle.DashLine))
        geo = self.geo
        path = QPainterPath()
        for radius, phi in zip(geo.cth_radius_cm, geo.cth_phi_center, strict=True):
            path.addPath(_counter_path(float(radius), float(phi), geo.cth_phi_span))
        self.cth_item = QGraphicsPathItem(path)
        self.cth_item.setPen(CTH_PEN)
        self.cth_item.setBrush(QBrush(pg.mkColor(235, 235, 235)))
        plot.addItem(self.cth_item)
        self.fired_item = QGraphicsPathItem()
        self.fired_item.setPen(pg.mkPen(150, 50, 0, width=1.5))
        self.fired_item.setBrush(FIRED_BRUSH)
        self.fired_item.setZValue(3)
        plot.addItem(self.fired_item)
        self.fired_label = pg.TextItem("", color=(150, 50, 0), anchor=(0.5, 0.5))
        self.fired_label.setZValue(11)
        plot.addItem(self.fired_label)
        for cosmetic in (self.cth_item, self.fired_item):
            pen = cosmetic.pen()
            pen.setCosmetic(True)
            cosmetic.setPen(pen)

    # -- file and event ----------------------------------------------------------------------------
    def set_file_scales(self, scales: ColourScales, trigger_counters: bool) -> None:
        """Colour levels from the file's data, and whether it has trigger times / counters
        (the time axis title and the CTH legend entry follow)."""
        self.levels["time"] = scales.time_ns
        self.levels["charge"] = scales.log10_charge
        self.trigger_times = scales.trigger_times
        self.trigger_counters = trigger_counters
        self._legend_key = None
        self._apply_mode_decorations()
        self.recolour()

    def set_track(self, centre_cm: tuple[float, float] | None, radius_cm: float = 0.0,
                  label: str = "") -> None:
        """Draw the fitted circle (None hides it); ``label`` names it in the legend."""
        if centre_cm is None or not np.isfinite(radius_cm):
            self.track_item.setData([], [])
            text = ""
        else:
            angle = np.linspace(0.0, 2.0 * np.pi, 361)
            self.track_item.setData(centre_cm[0] + radius_cm * np.cos(angle),
                                    centre_cm[1] + radius_cm * np.sin(angle))
            text = label
        if text != self.track_text:
            self.track_text = text
            self._legend_key = None
            self.recolour()

    def set_event(self, event: Event, view: CellView, title: str = "") -> None:
        """Show ``event`` reduced to ``view`` (see :func:`engines.cdc.display.cell_view`)."""
        self.shown_event, self.cells, self.has_truth = event, view, bool(event.has_truth)
        self.shown_cells = np.flatnonzero(view.shown)
        geo = self.geo
        brushes, sizes = self._styles()
        self.hits_item.setData(x=geo.cell_x[self.shown_cells], y=geo.cell_y[self.shown_cells],
                               pen=HIT_PEN, brush=brushes, size=sizes)
        counter = event.trigger_counter
        if counter >= 0:
            radius, phi = float(geo.cth_radius_cm[counter]), float(geo.cth_phi_center[counter])
            self.fired_item.setPath(_counter_path(radius, phi, geo.cth_phi_span, 1.2))
            ring = "inner" if geo.cth_ring[counter] == 0 else "outer"
            self.fired_label.setText(f"CTH {counter} ({ring})")
            label_radius = min(radius, float(geo.cth_radius_cm[0])) - 6.5
            self.fired_label.setPos(label_radius * np.cos(phi), label_radius * np.sin(phi))
        else:
            self.fired_item.setPath(QPainterPath())
            self.fired_label.setText("")
        self.plot_item.setTitle(title, size="10pt")
        if self.hover_cell_index >= 0:
            self.hover_cell(self.hover_cell_index)

    # -- colouring -------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """Colour hits by ``"time"``, ``"adc"``, ``"score"`` or ``"outcome"``."""
        if mode not in COLOUR_MODES:
            raise ValueError(f"unknown colour mode {mode!r}")
        self.mode = mode
        self._apply_mode_decorations()
        self.recolour()

    def set_threshold(self, threshold: float) -> None:
        self.threshold = float(threshold)
        if self.mode == "outcome":
            self.recolour()

    def _apply_mode_decorations(self) -> None:
        spec = COLOUR_MODES[self.mode]
        continuous = spec.colormap is not None
        self.colorbar.setVisible(continuous)
        if continuous:
            self.colorbar.blockSignals(True)
            self.colorbar.setColorMap(pg.colormap.get(spec.colormap))
            self.colorbar.setLevels(self.levels[self.mode])
            self.colorbar.blockSignals(False)
            self.colorbar.getAxis("right").setLabel(self.colour_label())

    def colour_label(self) -> str:
        """The colour bar's title: what is coloured and the levels' range."""
        spec = COLOUR_MODES[self.mode]
        label = (TIME_LABEL_NO_TRIGGER if self.mode == "time" and not self.trigger_times
                 else spec.label)
        low, high = self.levels[self.mode]
        digits = 2 if self.mode == "score" else (1 if self.mode == "charge" else 0)
        return f"{label}: {low:.{digits}f} … {high:.{digits}f}"

    def _levels_dragged(self, bar: pg.ColorBarItem) -> None:
        if COLOUR_MODES[self.mode].colormap is not None:
            self.levels[self.mode] = tuple(float(v) for v in bar.levels())
            self.colorbar.getAxis("right").setLabel(self.colour_label())
            self.recolour()

    def recolour(self) -> None:
        """Recolour the hit layer for the current mode, threshold and levels."""
        brushes, sizes = self._styles()
        self.hits_item.setBrush(brushes, update=False)
        self.hits_item.setSize(sizes)

    def _styles(self) -> tuple[list, np.ndarray]:
        """Brushes and sizes of the shown hit cells (and the legend to match)."""
        view = self.cells
        cells = self.shown_cells
        if view is None:
            self._update_legend([])
            return [], np.zeros(0)
        if self.mode == "outcome":
            codes = outcome_classes(view, self.threshold, self.has_truth)
            self.codes = codes
            shown = np.maximum(codes[cells], 0)
            counts = np.bincount(codes[codes >= 0], minlength=len(OUTCOME_NAMES))
            self._update_legend([(code, f"{OUTCOME_NAMES[code]} ({counts[code]} cells)")
                                 for code in outcome_codes(self.has_truth, view.has_scores)])
            return (list(self._outcome_brushes[shown]),
                    np.asarray(OUTCOME_SIZES, dtype=np.float64)[shown])
        values = {"time": view.time_ns, "charge": log_charge(view.adc),
                  "score": view.score}[self.mode][cells]
        table = self._brush_tables[self.mode]
        index = lut_index(values, self.levels[self.mode], len(table) - 1)
        unscored = self.mode == "score" and not view.has_scores
        self._update_legend([(HIT, "hit, not scored (press Analyze)")] if unscored else [])
        brushes = np.where(np.isfinite(values), table[index], self._outcome_brushes[HIT])
        return list(brushes), np.full(cells.size, HIT_SIZE)

    def _update_legend(self, entries: list[tuple[int, str]]) -> None:
        """Legend: ``(code, text)`` entries, then the empty cell and the trigger counter.
        Rebuilt only when the entries change; otherwise just the texts (counts) change."""
        key = (*(code for code, _ in entries), self.trigger_counters, self.track_text)
        if key == self._legend_key:
            for (_sample, label), (_code, text) in zip(self.legend.items, entries, strict=False):
                if label.text != text:
                    label.setText(text)
            return
        self._legend_key = key
        self.legend.clear()
        for code, text in entries:
            sample = pg.ScatterPlotItem(brush=self._outcome_brushes[code], pen=HIT_PEN,
                                        size=OUTCOME_SIZES[code] + 1)
            self.legend.addItem(sample, text)
        empty = pg.ScatterPlotItem(brush=None, pen=EMPTY_PEN, size=5)
        self.legend.addItem(empty, "cell without hit")
        if self.trigger_counters:
            fired = pg.ScatterPlotItem(symbol="s", brush=FIRED_BRUSH, pen=pg.mkPen(150, 50, 0),
                                       size=9)
            self.legend.addItem(fired, "CTH trigger")
        if self.track_text:
            self.legend.addItem(pg.PlotDataItem(pen=TRACK_PEN), self.track_text)
        self.plot_item.layout.invalidate()  # a shorter legend lets the plot shrink again

    # -- hover -----------------------------------------------------------------------------------
    def cell_at(self, x_cm: float, y_cm: float) -> int:
        """The cell whose wire is nearest to (x, y) within 1 cm, -1 if none."""
        geo = self.geo
        distance = (geo.cell_x - x_cm) ** 2 + (geo.cell_y - y_cm) ** 2
        cell = int(np.argmin(distance))
        return cell if distance[cell] <= HOVER_RADIUS_CM ** 2 else -1

    def hover_cell(self, cell: int) -> str:
        """Mark ``cell`` and emit (and return) its readout; -1 clears it."""
        self.hover_cell_index = int(cell)
        if cell < 0:
            self.marker.setData(x=[], y=[])
            self.cellHovered.emit(-1)
            return ""
        geo = self.geo
        self.marker.setData(x=[geo.cell_x[cell]], y=[geo.cell_y[cell]])
        code = NO_HIT
        if self.cells is not None:
            code = int(outcome_classes(self.cells, self.threshold, self.has_truth)[cell])
        text = cell_report(cell, self.shown_event, self.cells, code)
        self.hovered.emit(text)
        self.cellHovered.emit(int(cell))
        return text

    def _mouse_moved(self, args) -> None:
        position = args[0]
        if not self.plot_item.vb.sceneBoundingRect().contains(position):
            return
        point = self.plot_item.vb.mapSceneToView(position)
        cell = self.cell_at(point.x(), point.y())
        if cell >= 0 and cell != self.hover_cell_index:
            self.hover_cell(cell)
