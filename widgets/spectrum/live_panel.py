"""Simulated live acquisition: settings, Start/Stop, readout and probability vs live time.

The workspace runs the engine's :func:`engines.spectrum.live.acquire` and feeds every recorded
update to :meth:`LivePanel.update_history`; the spectrum plot shows the accumulating counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from engines.spectrum.live import LiveConfig
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm

SHOW_ABOVE = 0.25  # a class gets a curve (and a legend entry) once its probability exceeds this
CLASS_COLORS = [(20, 50, 140), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0),
                (86, 180, 233), (120, 60, 160), (160, 40, 40), (60, 120, 40), (90, 90, 90),
                (0, 114, 178), (200, 180, 0)]
DECISION_PEN = pg.mkPen((200, 0, 0), width=2)


class ProbabilityTimePlot(pg.PlotWidget):
    """Class probabilities over live time with the threshold and the time-to-decision marker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLabel("bottom", "Live time (s)")
        item.setLabel("left", "Probability")
        item.setYRange(0, 1.02, padding=0)
        item.showGrid(x=False, y=True, alpha=0.2)
        self.legend = item.addLegend(offset=(-10, 45), labelTextSize="8pt")
        self.threshold_line = pg.InfiniteLine(0.95, angle=0, movable=False,
                                              pen=pg.mkPen((200, 0, 0), style=Qt.PenStyle.DashLine),
                                              label="threshold {value:.2f}",
                                              labelOpts={"position": 0.98, "color": (200, 0, 0),
                                                         "anchors": [(1, 0), (1, 0)]})
        item.addItem(self.threshold_line, ignoreBounds=True)
        self.decision_line = pg.InfiniteLine(0, angle=90, movable=False, pen=DECISION_PEN,
                                             label="", labelOpts={"position": 0.5,
                                                                  "color": (200, 0, 0),
                                                                  "fill": (255, 255, 255, 220),
                                                                  "anchors": [(0, 0.5),
                                                                              (0, 0.5)]})
        self.decision_line.setVisible(False)
        item.addItem(self.decision_line, ignoreBounds=True)
        self.curves: dict[int, pg.PlotDataItem] = {}

    def reset(self, threshold: float, max_time_s: float) -> None:
        for curve in self.curves.values():
            self.getPlotItem().removeItem(curve)
            self.legend.removeItem(curve)
        self.curves = {}
        self.threshold_line.setValue(threshold)
        self.decision_line.setVisible(False)
        self.getPlotItem().setXRange(0, max_time_s, padding=0.02)

    @property
    def decision_shown(self) -> bool:
        return self.decision_line.isVisible()

    def set_history(self, classes: list[str], times: np.ndarray, probabilities: np.ndarray,
                    decision_time_s: float | None, decided: str | None) -> None:
        """``probabilities`` (T, n_classes) at live ``times`` (T,) s."""
        if probabilities.size:
            peaks = probabilities.max(axis=0)
            for index in np.flatnonzero(peaks > SHOW_ABOVE):
                if index not in self.curves:
                    color = CLASS_COLORS[index % len(CLASS_COLORS)]
                    self.curves[index] = self.getPlotItem().plot(
                        pen=pg.mkPen(color, width=2), name=classes[index])
            for index, curve in self.curves.items():
                curve.setData(times, probabilities[:, index])
        if decision_time_s is not None:
            self.decision_line.setValue(decision_time_s)
            self.decision_line.label.setFormat(f"decision: {decided}\nat {decision_time_s:.2f} s")
        self.decision_line.setVisible(decision_time_s is not None)  # a withdrawn one goes


FIELDS = ["rate_cps", "threshold", "max_live_time_s", "update_interval_s", "realtime",
          "stop_at_decision"]
# the window watches an acquisition as it happens, for ten seconds at most by default
GUI_DEFAULTS = LiveConfig(max_live_time_s=10.0, realtime=True)


class LivePanel(QWidget):
    """Settings and readout of a simulated live acquisition."""

    startRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reference_combo = QComboBox()
        self.reference_combo.setToolTip("The sample the detector looks at: counts arrive as a "
                                        "Poisson stream following this spectrum")
        self.form = ConfigForm(GUI_DEFAULTS, FIELDS)
        self.rate_spin = self.form.editors["rate_cps"]
        self.run_buttons = RunButtons("Start", self.startRequested, self.stopRequested)
        self.start_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.readout = QLabel("Not acquiring.")
        self.readout.setWordWrap(True)
        self.readout.setStyleSheet("font-weight: 600;")
        self.plot = ProbabilityTimePlot()
        self.plot.setMinimumHeight(200)

        form = QFormLayout()
        form.addRow("Sample", self.reference_combo)
        form.addRow(self.form)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(self.run_buttons.row())
        layout.addWidget(self.readout)
        layout.addWidget(self.plot, 1)

    def set_references(self, labels: list[str]) -> None:
        """Entries of the sample choice (the workspace maps the index to a spectrum)."""
        current = self.reference_combo.currentText()
        self.reference_combo.clear()
        self.reference_combo.addItems(labels)
        index = self.reference_combo.findText(current)
        self.reference_combo.setCurrentIndex(max(index, 0))

    def config(self) -> LiveConfig:
        return self.form.value()

    def set_config(self, config: LiveConfig) -> None:
        self.form.set_value(config)

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)

    def start(self, config: LiveConfig) -> None:
        self.plot.reset(config.threshold, config.max_live_time_s)
        self.readout.setText("Acquiring…")

    def update_history(self, classes: list[str], history: list[dict[str, Any]]) -> None:
        """Redraw from every recorded update (``live_time_s``, ``total_counts``,
        ``probabilities``, ``decision_time_s``, ``decided``)."""
        rows = [h for h in history if "probabilities" in h]
        if not rows:
            return
        last = rows[-1]
        times = np.array([h["live_time_s"] for h in rows])
        probabilities = np.array([h["probabilities"] for h in rows])
        self.plot.set_history(classes, times, probabilities, last["decision_time_s"],
                              last["decided"])
        top = int(np.argmax(last["probabilities"]))
        if last["decided"] is not None:
            state = f"decided <b>{last['decided']}</b> at {last['decision_time_s']:.2f} s"
        elif last.get("in_library") is False:
            state = "<b>not in the library</b>: no decision"
        else:
            state = "no decision yet"
        self.readout.setText(f"{last['live_time_s']:.2f} s live, {last['total_counts']:,.0f} "
                             f"counts — top: {classes[top]} {last['probabilities'][top]:.1%}; "
                             f"{state}")
