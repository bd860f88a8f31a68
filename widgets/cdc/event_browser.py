"""The event list: sortable columns (event, hits, occupancy, signal hits, purity, retention)
and a search by event number. Rows are events of the open file; sorting reorders a view of
them with numpy, so files of many thousand events sort instantly."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engines.cdc.analysis import EventTable
from engines.core.errors import InputError

COLUMNS = ("Event", "Hits", "Occ.", "Signal", "Purity", "Retention")
TIPS = ("Event number", "Hits in the event", "Occupancy: hit read-out cells / 4482",
        "Signal hits (truth)", "Purity at the threshold (cell level)",
        "Retention at the threshold (cell level)")
_Index = QModelIndex | QPersistentModelIndex


class EventTableModel(QAbstractTableModel):
    """Table over an :class:`EventTable` plus per-event purity/retention (NaN = blank)."""

    def __init__(self) -> None:
        super().__init__()
        self.table: EventTable | None = None
        self.purity = np.zeros(0)
        self.retention = np.zeros(0)
        self.order = np.zeros(0, dtype=np.int64)  # view row -> event index
        self.sort_column, self.sort_order = -1, Qt.SortOrder.AscendingOrder

    def set_table(self, table: EventTable | None) -> None:
        self.beginResetModel()
        self.table = table
        n = 0 if table is None else len(table)
        self.purity = np.full(n, np.nan)
        self.retention = np.full(n, np.nan)
        self.order = np.arange(n)
        self.sort_column = -1
        self.endResetModel()

    def set_figures(self, purity: np.ndarray | None, retention: np.ndarray | None) -> None:
        """Per-event purity and retention (N,) or None to blank the columns."""
        n = len(self.order)
        self.purity = np.full(n, np.nan) if purity is None else np.asarray(purity, float)
        self.retention = np.full(n, np.nan) if retention is None else np.asarray(retention,
                                                                                 float)
        if n:
            self.dataChanged.emit(self.index(0, 4), self.index(n - 1, 5))

    def column_values(self, column: int) -> np.ndarray:
        table = self.table
        values = (table.event_number, table.n_hits, table.occupancy,
                  np.where(table.has_truth, table.n_signal_hits, -1), self.purity,
                  self.retention)
        return np.asarray(values[column], dtype=np.float64)

    # Qt model interface
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.table is None:
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        event = int(self.order[index.row()])
        column = index.column()
        table = self.table
        if column == 0:
            return str(int(table.event_number[event]))
        if column == 1:
            return f"{int(table.n_hits[event]):,}"
        if column == 2:
            return f"{100 * table.occupancy[event]:.1f} %"
        if column == 3:
            return str(int(table.n_signal_hits[event])) if table.has_truth[event] else "–"
        value = (self.purity if column == 4 else self.retention)[event]
        return f"{value:.3f}" if np.isfinite(value) else ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if self.table is None:
            return
        self.layoutAboutToBeChanged.emit()
        values = self.column_values(column)
        values = np.where(np.isfinite(values), values, np.inf)  # blanks last
        if order == Qt.SortOrder.DescendingOrder:
            values = np.where(np.isfinite(values), -values, np.inf)
        old_order = self.order
        self.order = np.argsort(values, kind="stable")
        self.sort_column, self.sort_order = column, order
        row_of = np.empty(len(self.order), dtype=np.int64)
        row_of[self.order] = np.arange(len(self.order))
        persistent = self.persistentIndexList()  # keep the selection on the same events
        self.changePersistentIndexList(
            persistent, [self.index(int(row_of[old_order[p.row()]]), p.column())
                         for p in persistent])
        self.layoutChanged.emit()

    def row_of(self, event: int) -> int:
        rows = np.flatnonzero(self.order == event)
        return int(rows[0]) if rows.size else -1


class EventBrowser(QWidget):
    """Table and search box; emits :attr:`eventSelected` with the event's index in the file."""

    eventSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = EventTableModel()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.horizontalHeader().setMinimumSectionSize(40)
        self.view.setAlternatingRowColors(True)
        self.view.selectionModel().currentRowChanged.connect(self._row_changed)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Event number (Ctrl+F), Enter to go")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self._search_entered)
        self.summary = QLabel("No file open.")
        self.summary.setWordWrap(True)
        self.message = QLabel("")
        self.message.setStyleSheet("color: #b03000")
        self.message.setVisible(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Find"))
        row.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        self._selecting = False

    def set_table(self, table: EventTable | None, summary: str = "") -> None:
        self.model.set_table(table)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.summary.setText(summary)

    def set_figures(self, purity: np.ndarray | None, retention: np.ndarray | None,
                    resort: bool = False) -> None:
        """Fill the purity/retention columns; ``resort`` re-applies a sort on them."""
        self.model.set_figures(purity, retention)
        if resort and self.model.sort_column in (4, 5):
            current = self.current_event()
            self.model.sort(self.model.sort_column, self.model.sort_order)
            self.select(current)

    def current_event(self) -> int:
        row = self.view.currentIndex().row()
        return int(self.model.order[row]) if 0 <= row < len(self.model.order) else -1

    def select(self, event: int) -> None:
        """Select (and scroll to) the row of event index ``event`` without re-emitting."""
        row = self.model.row_of(event)
        if row < 0:
            return
        self._selecting = True
        try:
            index = self.model.index(row, 0)
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)
        finally:
            self._selecting = False

    def find_event(self, text: str) -> int:
        """Event index of event number ``text``; InputError when it is not in the file."""
        table = self.model.table
        if table is None:
            raise InputError("no file is open")
        try:
            number = int(text.strip())
        except ValueError:
            raise InputError(f"event number: expected an integer, got {text.strip()!r}") from None
        index = table.find(number)
        if index < 0:
            raise InputError(f"event {number} is not in this file (event numbers "
                             f"{int(table.event_number.min())}…{int(table.event_number.max())})")
        return index

    def _search_entered(self) -> None:
        try:
            index = self.find_event(self.search.text())
        except InputError as error:
            self.message.setText(str(error))
            self.message.setVisible(True)
            return
        self.message.setVisible(False)
        self.eventSelected.emit(index)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._selecting and current.isValid():
            self.eventSelected.emit(int(self.model.order[current.row()]))

    def row_count(self) -> int:
        return self.model.rowCount()

    def cell_text(self, row: int, column: int) -> str:
        return self.model.data(self.model.index(row, column)) or ""
