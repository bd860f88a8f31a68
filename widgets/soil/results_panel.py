"""Tables of one analysed core: the porosity of every object over the crop (with the model's RMSE
on its object) and the pore metrics; and the overlay's class legend with show/hide."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

POROSITY_HEADER = ("Object", "HU range", "Porosity", "Model RMSE")
METRICS_HEADER = ("Pore metric", "Value", "Unit")


def make_table(header: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(header))
    table.setHorizontalHeaderLabels(list(header))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def fill_table(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class ResultsPanel(QWidget):
    """The porosity table, the pore metrics table and the label legend of the current core."""

    labelToggled = Signal(int, bool)  # label, shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No analysis yet: press Analyze (Ctrl+Enter).")
        self.summary.setWordWrap(True)
        self.porosity = make_table(POROSITY_HEADER)
        self.metrics = make_table(METRICS_HEADER)
        self.legend = QListWidget()
        self.legend.setToolTip("Labels of the slice overlay (tick to show); the 3-D view has "
                               "its own list of surfaces")
        self.legend.itemChanged.connect(self._legend_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("<b>Porosity of the crop per object</b>"))
        layout.addWidget(self.porosity, 2)
        layout.addWidget(QLabel("<b>Pore metrics</b>"))
        layout.addWidget(self.metrics, 3)
        layout.addWidget(QLabel("<b>Overlay legend</b> (solid of each object)"))
        layout.addWidget(self.legend, 2)

    def clear(self, message: str) -> None:
        self.summary.setText(message)
        fill_table(self.porosity, [])
        fill_table(self.metrics, [])
        self.set_legend([])

    def show_results(self, summary: str, porosity_rows, metric_rows) -> None:
        """``porosity_rows``: ``(object, HU range, porosity, RMSE or None)``;
        ``metric_rows``: ``(metric, value, unit)`` (see :class:`engines.soil.core_view.CoreView`)."""
        self.summary.setText(summary)
        fill_table(self.porosity, [(name, hu, f"{p:.4f}", "" if rmse is None else f"{rmse:.4f}")
                              for name, hu, p, rmse in porosity_rows])
        fill_table(self.metrics, metric_rows or [("not computed", "tick “Pore metrics” in the "
                                             "settings and Analyze", "")])

    def set_legend(self, entries: Sequence[tuple[int, str, tuple[int, int, int], bool]]) -> None:
        """Rows ``(label, name, colour, shown)``."""
        self.legend.blockSignals(True)
        self.legend.clear()
        for label, name, colour, shown in entries:
            item = QListWidgetItem(f"■  {name}")
            item.setForeground(QColor(*colour))
            item.setData(Qt.ItemDataRole.UserRole, int(label))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)
            self.legend.addItem(item)
        self.legend.blockSignals(False)

    def _legend_changed(self, item: QListWidgetItem) -> None:
        self.labelToggled.emit(int(item.data(Qt.ItemDataRole.UserRole)),
                               item.checkState() == Qt.CheckState.Checked)

    def cell_text(self, table: QTableWidget, row: int, column: int) -> str:
        item = table.item(row, column)
        return "" if item is None else item.text()
