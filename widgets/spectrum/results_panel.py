"""The call with its confidence, class probability bars, the short-measurement choice and the
table of predictions made in this session."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engines.spectrum.analysis import MAX_DRAW_COUNTS, SpectrumAnalysis
from engines.spectrum.rsm import PAPER_COUNTS, live_time_for_counts

IN_LIBRARY_STYLE = ("background: #dff3e4; color: #14532d; border: 1px solid #7bc68f; "
                    "border-radius: 4px; padding: 4px; font-size: 11pt; font-weight: 600;")
NOT_IN_LIBRARY_STYLE = ("background: #fdebd3; color: #7c2d12; border: 2px solid #e08a2c; "
                        "border-radius: 4px; padding: 4px; font-size: 13pt; font-weight: 700;")


def verdict_text(in_library: bool | None, closest: str, scores: dict | None) -> str:
    """Banner text of the open-set verdict with its two p-values."""
    if in_library is None or scores is None:
        return ""
    values = f"fit p = {scores['p_fit']:.2g}"
    if scores.get("p_network") is not None:
        values += f", features p = {scores['p_network']:.2g}"
    if in_library:
        return f"In the library ({values})"
    reason = scores.get("reason")
    return (f"Not in the library (closest: {closest}) — "
            f"{reason + '; ' if reason else ''}{values}")


BAR_BRUSH = pg.mkBrush(150, 170, 200)
TOP_BRUSH = pg.mkBrush(20, 50, 140)
NO_MODEL = "No model loaded — train one or load a model"


class ProbabilityBars(pg.PlotWidget):
    """Horizontal bars of class probabilities (0-1) with the class names on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("bottom", "Probability")
        item.invertY(True)
        item.setXRange(0, 1.0, padding=0.02)
        self.bars: pg.BarGraphItem | None = None
        self.texts: list[pg.TextItem] = []
        self.classes: list[str] = []
        self.values = np.zeros(0)

    def set_probabilities(self, classes: Sequence[str], values: np.ndarray) -> None:
        """Bars for ``values`` (n_classes,) in [0, 1]; items are reused while the classes stay
        the same (live updates arrive up to 20 times a second)."""
        item = self.getPlotItem()
        values = np.asarray(values, dtype=np.float64)
        if list(classes) != self.classes or self.bars is None:
            self._rebuild(list(classes))
        self.values = values
        top = int(np.argmax(values)) if values.size else -1
        self.bars.setOpts(width=values, brushes=[TOP_BRUSH if i == top else BAR_BRUSH
                                                 for i in range(values.size)])
        for i, (text, value) in enumerate(zip(self.texts, values, strict=True)):
            text.setText(f"{value:.1%}" if value >= 0.001 else "<0.1%")
            inside = value > 0.8  # white on the bar, else dark beside it
            text.setColor((255, 255, 255) if inside else (30, 30, 30))
            text.setAnchor((1, 0.5) if inside else (0, 0.5))
            text.setPos(float(value) + (-0.01 if inside else 0.01), i)
        item.setXRange(0, 1.0, padding=0.02)

    def _rebuild(self, classes: list[str]) -> None:
        item = self.getPlotItem()
        if self.bars is not None:
            item.removeItem(self.bars)
        for text in self.texts:
            item.removeItem(text)
        self.classes = classes
        n = len(classes)
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(n), height=0.7, width=np.zeros(n),
                                    brush=BAR_BRUSH)
        item.addItem(self.bars)
        self.texts = [pg.TextItem("", anchor=(0, 0.5)) for _ in classes]
        for text in self.texts:
            item.addItem(text)
        axis = item.getAxis("left")
        axis.setTicks([[(i, name) for i, name in enumerate(classes)]])
        metrics = QFontMetrics(axis.font())
        axis.setWidth(max((metrics.horizontalAdvance(c) for c in classes), default=40) + 14)
        item.setYRange(-0.6, max(n, 1) - 0.4, padding=0)

    def reset(self) -> None:
        self.set_probabilities([], np.zeros(0))


class ResultsPanel(QWidget):
    """Shows what Analyze found and lets the user analyze a short measurement instead."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict_label = QLabel("")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setVisible(False)
        self.call_label = QLabel(NO_MODEL)
        self.call_label.setWordWrap(True)
        self.call_label.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.detail_label = QLabel("")
        self.detail_label.setWordWrap(True)
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color: #555;")
        self.bars = ProbabilityBars()
        self.bars.setMinimumHeight(220)

        self.as_recorded = QRadioButton("As recorded")
        self.as_short = QRadioButton("Short measurement (RSM-3 draw)")
        self.as_recorded.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.as_recorded)
        group.addButton(self.as_short)
        self.counts_spin = QSpinBox(minimum=1, maximum=MAX_DRAW_COUNTS, value=PAPER_COUNTS,
                                    singleStep=1000, suffix=" counts")
        self.counts_spin.setGroupSeparatorShown(True)
        self.seed_spin = QSpinBox(minimum=0, maximum=1_000_000)
        self.seed_spin.setToolTip("Seed of the random draw; change it for another measurement")
        self.live_hint = QLabel("")
        self.count_rate: float | None = None
        self.counts_spin.valueChanged.connect(self._update_hint)
        self.as_short.toggled.connect(self._update_hint)
        short_box = QGroupBox("Classify")
        form = QFormLayout(short_box)
        form.addRow(self.as_recorded)
        form.addRow(self.as_short)
        row = QHBoxLayout()
        row.addWidget(self.counts_spin, 1)
        row.addWidget(QLabel("seed"))
        row.addWidget(self.seed_spin)
        form.addRow(row)
        form.addRow(self.live_hint)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Spectrum", "Call", "Conf.", "Counts"])
        self.table.horizontalHeader().setMinimumSectionSize(40)
        self.table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)  # one line a row: long names are elided, not cut
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        metrics = QFontMetrics(header.font())
        self.table.setColumnWidth(0, metrics.horizontalAdvance("Spectrum") + 60)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.call_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.bars, 3)
        layout.addWidget(short_box)
        layout.addWidget(QLabel("Predictions this session"))
        layout.addWidget(self.table, 2)
        layout.addWidget(self.model_label)
        self._update_hint()

    # -- inputs --------------------------------------------------------------------------------
    def short_counts(self) -> int | None:
        """Counts of the short measurement to analyze, or None for the spectrum as recorded."""
        return int(self.counts_spin.value()) if self.as_short.isChecked() else None

    def seed(self) -> int:
        return int(self.seed_spin.value())

    def set_short_counts(self, counts: int | None, seed: int = 0) -> None:
        (self.as_short if counts is not None else self.as_recorded).setChecked(True)
        if counts is not None:
            self.counts_spin.setValue(int(counts))
        self.seed_spin.setValue(int(seed))

    def set_count_rate(self, rate_cps: float | None) -> None:
        """Counts per live second of the open spectrum (for the live-time hint)."""
        self.count_rate = rate_cps
        self._update_hint()

    def _update_hint(self) -> None:
        self.counts_spin.setEnabled(self.as_short.isChecked())
        self.seed_spin.setEnabled(self.as_short.isChecked())
        if not self.count_rate:
            self.live_hint.setText("live time unknown (the spectrum has none)")
            return
        seconds = live_time_for_counts(self.counts_spin.value(), self.count_rate)
        self.live_hint.setText(f"≈ {seconds:.3g} s live time at {self.count_rate:,.0f} counts/s")

    # -- outputs -------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.call_label.setText(text)
        self.detail_label.setText("")
        self.show_verdict(None)
        self.bars.reset()

    def show_verdict(self, in_library: bool | None, text: str = "") -> None:
        """The open-set banner: green "in the library", amber "not in the library", hidden
        when unknown."""
        self.verdict_label.setVisible(in_library is not None)
        if in_library is None:
            return
        colours = IN_LIBRARY_STYLE if in_library else NOT_IN_LIBRARY_STYLE
        self.verdict_label.setStyleSheet(colours)
        self.verdict_label.setText(text)

    def show_probabilities(self, classes: Sequence[str], probabilities: np.ndarray,
                           headline: str, detail: str = "") -> None:
        self.call_label.setText(headline)
        self.detail_label.setText(detail)
        self.bars.set_probabilities(classes, probabilities)

    def show_analysis(self, analysis: SpectrumAnalysis) -> None:
        seconds = analysis.live_time_s
        live = "" if seconds is None else (f", {seconds:,.0f} s live" if seconds >= 100
                                           else f", {seconds:.3g} s live")
        detail = (f"{analysis.name}: {analysis.mode}, {analysis.total_counts:,.0f} counts{live}"
                  f"; called by the {analysis.called_by}")
        if analysis.coverage < 0.95:
            detail += (f"; the spectrum covers only {analysis.coverage:.0%} of the model's "
                       "energy range")
        if analysis.in_library is False:
            headline = f"closest: {analysis.predicted} — {analysis.confidence:.1%}"
        else:
            headline = f"{analysis.predicted} — {analysis.confidence:.1%}"
        self.show_probabilities(analysis.classes, analysis.probabilities, headline, detail)
        self.show_verdict(analysis.in_library, verdict_text(analysis.in_library,
                                                            analysis.predicted,
                                                            analysis.open_set))

    def add_prediction(self, analysis: SpectrumAnalysis) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        call = (analysis.predicted if analysis.in_library is not False
                else f"not in library ({analysis.predicted})")
        cells = [analysis.name, call, f"{analysis.confidence:.1%}",
                 f"{analysis.total_counts:,.0f}"]
        for column, text in enumerate(cells):
            cell = QTableWidgetItem(text)
            cell.setToolTip(f"{analysis.name} ({analysis.mode})")
            if column >= 2:
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, cell)
        self.table.scrollToBottom()

    def clear_predictions(self) -> None:
        self.table.setRowCount(0)

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)
