"""The evaluation tab: LUNA16 FROC curves of the model and the classical peer, with the CPM.

The x axis is false positives per scan on a log scale (decades labelled, LUNA16's seven
operating points 1/8 … 8 marked); the table beside it gives the sensitivities at those points,
the CPM with its bootstrap interval and, for the model, the per-slice counts with precision and
recall by their definitions (the paper's Table 3 swaps them; see
:data:`engines.nodules.evaluation.PAPER_NOTE`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.core.froc import OPERATING_POINTS
from engines.nodules.evaluation import PAPER_NOTE, Evaluation
from widgets.common.buttons import RunButtons
from widgets.common.log_axis import DecadeAxis

MODEL_PEN = (213, 94, 0)
PEER_PEN = (0, 114, 178)
X_RANGE = (1 / 16, 16.0)


def _fraction(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


class FrocPanel(QWidget):
    """Emits :attr:`evaluateRequested` / :attr:`stopRequested`; :meth:`show_results` draws."""

    evaluateRequested = Signal()
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(axisItems={"bottom": DecadeAxis("bottom")})
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLogMode(x=True)
        self.plot.setLabel("bottom", "False positives per scan")
        self.plot.setLabel("left", "Sensitivity")
        self.plot.setTitle("FROC (LUNA16: hit = candidate centre inside the nodule's sphere)")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setXRange(np.log10(X_RANGE[0]), np.log10(X_RANGE[1]), padding=0)
        self.plot.setYRange(0.0, 1.02, padding=0)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.addLegend(offset=(-10, 10))
        for point in OPERATING_POINTS:
            line = pg.InfiniteLine(np.log10(point), angle=90,
                                   pen=pg.mkPen(120, 120, 120, 90, style=Qt.PenStyle.DashLine))
            self.plot.addItem(line, ignoreBounds=True)
        self.curves = {
            "model": self.plot.plot(pen=pg.mkPen(MODEL_PEN, width=2), name="model"),
            "peer": self.plot.plot(pen=pg.mkPen(PEER_PEN, width=2), name="classical peer"),
        }
        self.points = {
            "model": self.plot.plot(pen=None, symbol="o", symbolSize=8, symbolBrush=MODEL_PEN),
            "peer": self.plot.plot(pen=None, symbol="s", symbolSize=7, symbolBrush=PEER_PEN),
        }
        self.table = QTableWidget(len(OPERATING_POINTS) + 2, 3)
        self.table.setHorizontalHeaderLabels(["FP / scan", "Model", "Peer"])
        self.table.verticalHeader().setVisible(False)
        labels = [f"{p:g}" for p in OPERATING_POINTS] + ["CPM", "95 % CI"]
        for row, text in enumerate(labels):
            self.table.setItem(row, 0, QTableWidgetItem(text))
        self.table.setMinimumWidth(300)
        self.peer_check = QCheckBox("Also score the classical peer")
        self.peer_check.setToolTip("Pre-deep-learning CAD: HU threshold, connected components, "
                                   "a sphericity and size filter")
        self.peer_check.setChecked(True)
        self.run_buttons = RunButtons("Evaluate on the dataset", self.evaluateRequested,
                                      self.stopRequested)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel(PAPER_NOTE)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555")
        side = QVBoxLayout()
        side.addWidget(self.peer_check)
        side.addLayout(self.run_buttons.row())
        side.addWidget(self.table, 1)
        side.addWidget(self.summary)
        side.addWidget(self.note)
        holder = QWidget()
        holder.setLayout(side)
        holder.setMaximumWidth(420)
        layout = QHBoxLayout(self)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(holder)
        self.results: tuple[Evaluation, Evaluation | None] | None = None
        self.show_results(None, None, "Open a dataset with annotations.csv and press "
                                      "“Evaluate on the dataset”.")

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)

    def show_results(self, model: Evaluation | None, peer: Evaluation | None,
                     message: str = "") -> None:
        """Draw the curves and fill the table (None: empty)."""
        self.results = None if model is None else (model, peer)
        for name, evaluation in (("model", model), ("peer", peer)):
            self._draw(name, evaluation)
            column = 1 if name == "model" else 2
            values = ([] if evaluation is None else
                      [*evaluation.curve.sensitivities, evaluation.cpm])
            for row in range(len(OPERATING_POINTS) + 1):
                text = _fraction(values[row]) if values else "–"
                self.table.setItem(row, column, QTableWidgetItem(text))
            ci = "–" if evaluation is None else (
                f"{_fraction(evaluation.interval.lower)}–{_fraction(evaluation.interval.upper)}")
            self.table.setItem(len(OPERATING_POINTS) + 1, column, QTableWidgetItem(ci))
        self.table.resizeColumnsToContents()
        self.summary.setText(message or self._summary(model, peer))

    def _draw(self, name: str, evaluation: Evaluation | None) -> None:
        if evaluation is None:
            self.curves[name].setData([], [])
            self.points[name].setData([], [])
            return
        curve = evaluation.curve
        x, y = curve.fps_per_scan, curve.sensitivity
        keep = x > 0  # log axis: the curve starts at its first false positive
        x = np.concatenate([[X_RANGE[0]], x[keep], [max(X_RANGE[1], x.max(initial=0))]])
        y = np.concatenate([[y[~keep].max(initial=0.0)], y[keep],
                            [y.max(initial=0.0)]])
        self.curves[name].setData(x, y, stepMode=None)
        self.points[name].setData(OPERATING_POINTS, curve.sensitivities)
        label = "model" if name == "model" else "classical peer"
        legend = self.plot.legend
        legend.removeItem(self.curves[name])
        legend.addItem(self.curves[name], f"{label}: CPM {evaluation.cpm:.3f}")

    @staticmethod
    def _summary(model: Evaluation | None, peer: Evaluation | None) -> str:
        if model is None:
            return ""
        lines = [f"{len(model.scans)} scans, {model.curve.n_nodules} nodules."]
        c = model.counts
        if c is not None:
            lines.append(f"Per slice (IoU ≥ 0.5, threshold {model.slice_threshold:.2f}): TP "
                         f"{c.tp}, FP {c.fp}, FN {c.fn}; precision {c.precision:.3f}, recall "
                         f"(sensitivity) {c.recall:.3f}, F1 {c.f1:.3f}.")
        lines.append(f"Model at probability {model.threshold:.2f}: sensitivity "
                     f"{_fraction(model.sensitivity)} at {model.fp_per_scan:.2f} FP/scan.")
        sizes = ", ".join(f"{r['min_mm']:g}–{r['max_mm']:g} mm {r['found']}/{r['nodules']}"
                          if r["max_mm"] is not None else
                          f"≥ {r['min_mm']:g} mm {r['found']}/{r['nodules']}"
                          for r in model.by_size)
        lines.append(f"Found by size: {sizes}.")
        if peer is not None:
            per_scan = peer.curve.n_false_positives / max(len(peer.scans), 1)
            lines.append(f"Peer: CPM {peer.cpm:.3f}; {per_scan:.1f} candidates per scan that "
                         "are not nodules.")
        return "\n".join(lines)
