"""Tables of one analysed core: the porosity of every object over the crop (with the model's RMSE
on its object) and the pore metrics; and the overlay's legend with show/hide per label."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
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


def make_table(header: Sequence[str], stretch: int = 0) -> QTableWidget:
    """A read-only table whose column ``stretch`` takes the spare width."""
    table = QTableWidget(0, len(header))
    table.setHorizontalHeaderLabels(list(header))
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    table.setWordWrap(True)
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
    """The porosity table and the pore metrics table of the current core."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("No analysis yet: press Analyze (Ctrl+Enter).")
        self.summary.setWordWrap(True)
        self.porosity = make_table(POROSITY_HEADER)
        self.metrics = make_table(METRICS_HEADER)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("<b>Porosity of the crop per object</b>"))
        layout.addWidget(self.porosity, 2)
        layout.addWidget(QLabel("<b>Pore metrics</b>"))
        layout.addWidget(self.metrics, 3)

    def clear(self, message: str) -> None:
        self.summary.setText(message)
        fill_table(self.porosity, [])
        fill_table(self.metrics, [])

    def show_results(self, summary: str, porosity_rows, metric_rows) -> None:
        """``porosity_rows``: ``(object, HU range, porosity, RMSE or None)``;
        ``metric_rows``: ``(metric, value, unit)`` (see :class:`engines.soil.core_view.CoreView`)."""
        self.summary.setText(summary)
        fill_table(self.porosity, [(name, hu, f"{p:.4f}", "" if rmse is None else f"{rmse:.4f}")
                                   for name, hu, p, rmse in porosity_rows])
        fill_table(self.metrics, metric_rows or [("not computed: tick “Pore metrics” in the "
                                                  "settings and Analyze", "", "")])

    def cell_text(self, table: QTableWidget, row: int, column: int) -> str:
        item = table.item(row, column)
        return "" if item is None else item.text()


class OverlayLegend(QListWidget):
    """The slice overlay's labels, each a colour, a name and a tick box to show it."""

    labelToggled = Signal(int, bool)  # label, shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Labels of the slice overlay (tick to show); the 3-D view lists its "
                        "own surfaces")
        self.itemChanged.connect(self._legend_changed)

    def set_legend(self, entries: Sequence[tuple[int, str, tuple[int, int, int], bool]]) -> None:
        """Rows ``(label, name, colour, shown)``."""
        self.blockSignals(True)
        self.clear()
        for label, name, colour, shown in entries:
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(*colour))
            item = QListWidgetItem(QIcon(swatch), name)
            item.setData(Qt.ItemDataRole.UserRole, int(label))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if shown else Qt.CheckState.Unchecked)
            self.addItem(item)
        self.blockSignals(False)

    def _legend_changed(self, item: QListWidgetItem) -> None:
        self.labelToggled.emit(int(item.data(Qt.ItemDataRole.UserRole)),
                               item.checkState() == Qt.CheckState.Checked)
