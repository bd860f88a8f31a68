"""Live training curves, one widget for every workspace.

Each plot is described by a :class:`CurvePlot` naming the metrics it draws from the recorded
progress reports (see :func:`widgets.common.tasks.recording`): per-step series such as ``loss``
and per-validation series such as ``val_accuracy``, which only validation steps carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

from widgets.common.log_axis import DecadeAxis

STEP_PEN = (150, 170, 200)
COLOURS = ((213, 94, 0), (0, 114, 178), (0, 158, 115), (204, 121, 167))
LOG_FLOOR = 1e-6  # smallest value a log-scale curve draws


@dataclass(frozen=True)
class Series:
    """One curve: ``metric`` of every report that carries it, against the plot's x metric.
    ``validation`` series are drawn bold with markers; the others thin, as per-step noise."""

    metric: str
    name: str
    validation: bool = False


@dataclass(frozen=True)
class CurvePlot:
    title: str
    y_label: str
    series: tuple[Series, ...]
    x: str = "step"
    log_y: bool = False
    y_range: tuple[float, float] | None = None


class TrainingCurves(pg.GraphicsLayoutWidget):
    """Plots side by side; :meth:`update_history` redraws them from every recorded report."""

    def __init__(self, plots: Sequence[CurvePlot], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.specs = tuple(plots)
        self.plots: list[pg.PlotItem] = []
        self.curves: dict[str, pg.PlotDataItem] = {}
        for column, spec in enumerate(self.specs):
            axes = {"left": DecadeAxis("left")} if spec.log_y else None
            plot = self.addPlot(row=0, col=column, title=spec.title, axisItems=axes)
            plot.setLabel("bottom", spec.x.capitalize())
            plot.setLabel("left", spec.y_label)
            plot.setLogMode(y=spec.log_y)
            plot.getAxis("left").enableAutoSIPrefix(False)  # an AUC of 0.04, never "40 (x0.001)"
            plot.showGrid(x=True, y=True, alpha=0.15)
            if spec.y_range is not None:
                plot.setYRange(*spec.y_range, padding=0)
            if len(spec.series) > 1:
                plot.addLegend(offset=(-10, -10))
            colours = iter(COLOURS)
            for series in spec.series:
                if series.validation:
                    colour = next(colours)
                    curve = plot.plot(pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6,
                                      symbolBrush=colour, name=series.name)
                else:
                    curve = plot.plot(pen=pg.mkPen(STEP_PEN, width=1), name=series.name)
                self.curves[series.metric] = curve
            self.plots.append(plot)

    def update_history(self, history: Sequence[dict[str, Any]]) -> None:
        """Redraw every curve from the recorded reports (dicts of metrics)."""
        for spec in self.specs:
            for series in spec.series:
                rows = [h for h in history if series.metric in h and spec.x in h]
                values = np.array([h[series.metric] for h in rows], dtype=np.float64)
                if spec.log_y:  # a loss of exactly 0 sits at the floor, not at log(0)
                    values = np.maximum(values, LOG_FLOOR)
                self.curves[series.metric].setData(
                    np.array([h[spec.x] for h in rows], dtype=np.float64), values)

    def reset(self) -> None:
        self.update_history([])
