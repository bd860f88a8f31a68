"""Evaluation per count level: accuracy vs live time (CNN, ML bound, NCC, χ²) and confusion."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engines.core.errors import InputError
from engines.core.metrics import row_normalise
from engines.spectrum.evaluation import EvaluateConfig, EvaluationResult
from widgets.common.buttons import RunButtons
from widgets.common.config_form import ConfigForm
from widgets.common.heatmap import HeatmapView
from widgets.common.log_axis import DecadeAxis

# method -> (legend name, pen)
METHODS: dict[str, tuple[str, Any]] = {
    "cnn": ("CNN", pg.mkPen((20, 50, 140), width=2.5)),
    "ml": ("ML bound", pg.mkPen((0, 0, 0), width=1.6, style=Qt.PenStyle.DashLine)),
    "ncc": ("NCC", pg.mkPen((213, 94, 0), width=1.6)),
    "chi2": ("χ² matching", pg.mkPen((0, 158, 115), width=1.6)),
    # last, so it is drawn on top of the CNN and ML curves it coincides with
    "hybrid": ("As called (hybrid)", pg.mkPen((200, 40, 160), width=1.6,
                                              style=Qt.PenStyle.DotLine)),
}
SYMBOLS = {"cnn": "o", "hybrid": "x", "ml": "s", "ncc": "t", "chi2": "d"}
TABLE_HEADER = ["counts", "live_time_s", "n", "cnn_accuracy", "ml_accuracy", "ncc_accuracy",
                "chi2_accuracy", "hybrid_accuracy", "ml_called", "in_library_accepted",
                "open_set_auroc", "false_accept_at_95"]


class AccuracyPlot(pg.PlotWidget):
    """Accuracy over live time (log axis) for every method, counts on the top axis."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"bottom": DecadeAxis("bottom")})
        item = self.getPlotItem()
        item.setTitle("Accuracy vs live time", size="10pt")
        item.setLabel("bottom", "Live time (s)")
        item.setLabel("left", "Accuracy")
        item.showAxis("top")
        item.setLabel("top", "Counts per measurement")
        item.setLogMode(x=True, y=False)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setYRange(0, 1.02, padding=0)
        item.addLegend(offset=(-10, -10))
        self.curves = {m: item.plot(pen=pen, name=name, symbol=SYMBOLS[m], symbolSize=7,
                                    symbolPen=pen, symbolBrush=pen.color())
                       for m, (name, pen) in METHODS.items()}

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Rows with ``counts``, ``live_time_s`` and ``accuracy``/``<peer>_accuracy``."""
        rows = sorted(rows, key=lambda r: r["counts"])
        times = np.array([r["live_time_s"] for r in rows], dtype=np.float64)
        for method, curve in self.curves.items():
            key = "accuracy" if method == "cnn" else f"{method}_accuracy"
            values = np.array([np.nan if r.get(key) is None else r[key] for r in rows])
            shown = np.isfinite(values)
            curve.setData(times[shown], values[shown])
            curve.setVisible(bool(shown.any()))  # e.g. no hybrid without an ML fallback
        if times.size:
            low, high = np.log10(times.min()), np.log10(times.max())
            margin = 0.06 * max(high - low, 1.0)  # room for the first and last top labels
            self.getPlotItem().setXRange(low - margin, high + margin, padding=0)
        top = self.getPlotItem().getAxis("top")
        top.setTicks([[(float(np.log10(t)), f"{r['counts']:,}") for t, r in zip(times, rows,
                                                                                strict=True)
                       if t > 0]])


FIELDS = ["counts", "draws_per_class", "seed"]


class EvaluationPanel(QWidget):
    """Count levels and draws; accuracy curves; confusion matrix of a chosen level."""

    runRequested = Signal()
    stopRequested = Signal()
    exportRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: EvaluationResult | None = None
        self.form = ConfigForm(EvaluateConfig(draws_per_class=50), FIELDS)
        self.form.editors["counts"].setMinimumWidth(320)
        self.run_buttons = RunButtons("Run", self.runRequested, self.stopRequested)
        self.run_button, self.stop_button = self.run_buttons.start, self.run_buttons.stop
        self.export_button = QPushButton("Export table CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.exportRequested)
        self.status = QLabel("Evaluates the model on draws from the loaded reference library.")
        self.status.setWordWrap(True)
        self.level_combo = QComboBox()
        self.method_combo = QComboBox()
        self.method_combo.addItem("CNN", "cnn")
        self.method_combo.addItem("ML bound", "ml")
        self.level_combo.currentIndexChanged.connect(self._show_confusion)
        self.method_combo.currentIndexChanged.connect(self._show_confusion)
        self.accuracy = AccuracyPlot()
        self.heatmap = HeatmapView(title="Confusion (row-normalised)", x_label="Predicted class",
                                   y_label="True class")

        box = QGroupBox("Evaluation")
        form = QFormLayout(box)
        form.addRow(self.form)
        form.addRow(self.run_buttons.row(self.export_button))
        top = QHBoxLayout()
        top.addWidget(box)
        top.addWidget(self.status, 1)
        confusion = QWidget()
        confusion_layout = QVBoxLayout(confusion)
        confusion_layout.setContentsMargins(0, 0, 0, 0)
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Level"))
        chooser.addWidget(self.level_combo, 1)
        chooser.addWidget(QLabel("Method"))
        chooser.addWidget(self.method_combo)
        confusion_layout.addLayout(chooser)
        confusion_layout.addWidget(self.heatmap, 1)
        splitter = QSplitter()
        splitter.addWidget(self.accuracy)
        splitter.addWidget(confusion)
        splitter.setSizes([500, 600])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

    def config(self, peers: tuple[str, ...]) -> EvaluateConfig:
        return dataclasses.replace(self.form.value(), peers=peers)

    def set_config(self, config: EvaluateConfig) -> None:
        self.form.set_value(config)

    def set_running(self, running: bool) -> None:
        self.run_buttons.set_running(running)

    def reset(self) -> None:
        self.result = None
        self.accuracy.set_rows([])
        self.level_combo.clear()
        self.export_button.setEnabled(False)

    def update_history(self, history: list[dict[str, Any]]) -> None:
        """Draw the levels finished so far (reports carrying ``counts``)."""
        self.accuracy.set_rows([h for h in history if "counts" in h and "live_time_s" in h])

    def set_result(self, result: EvaluationResult) -> None:
        self.result = result
        rows = result.to_json()["results"]
        self.accuracy.set_rows(rows)
        self.level_combo.blockSignals(True)
        self.level_combo.clear()
        for level in result.levels:
            self.level_combo.addItem(f"{level.counts:,} counts (≈ {level.live_time_s:.3g} s)",
                                     level.counts)
        self.level_combo.blockSignals(False)
        self.level_combo.setCurrentIndex(len(result.levels) // 2)
        self.export_button.setEnabled(True)
        self._show_confusion()

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """The accuracy table for CSV export (empty cells for methods not run)."""
        if self.result is None:
            raise InputError("there is no evaluation to export yet; run one first")
        rows = []
        for row in self.result.to_json()["results"]:
            open_set = row["open_set"] or {}
            values = [row["counts"], row["live_time_s"], row["n"], row["accuracy"],
                      row["ml_accuracy"], row["ncc_accuracy"], row["chi2_accuracy"],
                      row["hybrid_accuracy"], row["ml_called"], open_set.get("true_accept"),
                      open_set.get("auroc"), open_set.get("false_accept_at_95")]
            rows.append(["" if v is None else v for v in values])
        return TABLE_HEADER, rows

    def _show_confusion(self, *_args) -> None:
        if self.result is None or self.level_combo.currentIndex() < 0:
            return
        level = self.result.levels[self.level_combo.currentIndex()]
        method = self.method_combo.currentData()
        matrix = level.cnn_confusion if method == "cnn" else level.peer_confusion.get(method)
        if matrix is None:
            self.heatmap.plot.setTitle(f"{self.method_combo.currentText()} was not run "
                                       "(the model stores no class templates)", size="10pt")
            return
        classes = self.result.classes
        rows = [f"{name} ({i + 1})" for i, name in enumerate(classes)]
        columns = [str(i + 1) for i in range(len(classes))]
        self.heatmap.set_matrix(row_normalise(matrix), rows, columns)
        self.heatmap.plot.setTitle(f"{self.method_combo.currentText()}, {level.counts:,} counts "
                                   f"(≈ {level.live_time_s:.3g} s): row-normalised", size="10pt")
