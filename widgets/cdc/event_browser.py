"""The event list: sortable columns (event, hits, occupancy, signal hits, purity, retention,
fitted p_T) and a search by event number. Rows are events of the open file; sorting reorders a view of
them with numpy, so files of many thousand events sort instantly."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engines.cdc.analysis import EventTable
from engines.core.errors import InputError
from widgets.common.item_table import Column, ItemTableModel

COLUMNS = (
    Column("event", "Event", lambda v: str(int(v)), tip="Event number"),
    Column("hits", "Hits", "{:,}", tip="Hits in the event"),
    Column("occupancy", "Occ.", lambda v: f"{100 * v:.1f} %",
           tip="Occupancy: hit read-out cells / 4482"),
    Column("signal", "Signal", lambda v: str(int(v)), tip="Signal hits (truth)", blank="–"),
    Column("purity", "Purity", "{:.3f}", tip="Purity at the threshold (cell level)"),
    Column("retention", "Ret.", "{:.3f}", tip="Retention at the threshold (cell level)"),
    Column("pt", "pT", "{:.1f}", tip="Transverse momentum of the fitted track, MeV/c "
           "(p_T = 0.3·B·R; blank: no track found)"),
)


class EventTableModel(ItemTableModel):
    """Table over an :class:`EventTable` plus per-event purity/retention (NaN = blank); the
    item ids are the events' indices in the file."""

    def __init__(self) -> None:
        super().__init__(COLUMNS)
        self.table: EventTable | None = None

    def set_table(self, table: EventTable | None) -> None:
        self.table = table
        self.sort_column = -1
        if table is None:
            self.set_items(np.zeros(0, dtype=np.int64))
            return
        blank = np.full(len(table), np.nan)
        self.set_items(np.arange(len(table)), {
            "event": table.event_number, "hits": table.n_hits, "occupancy": table.occupancy,
            "signal": np.where(table.has_truth, table.n_signal_hits, np.nan),
            "purity": blank, "retention": blank, "pt": blank})

    def set_figures(self, purity: np.ndarray | None, retention: np.ndarray | None,
                    pt: np.ndarray | None = None) -> None:
        """Per-event purity, retention and fitted p_T (N,) or None to blank the columns."""
        n = len(self.ids)

        def column(values: np.ndarray | None) -> np.ndarray:
            return np.full(n, np.nan) if values is None else np.asarray(values, float)

        self.update_values({"purity": column(purity), "retention": column(retention),
                            "pt": column(pt)})


class EventBrowser(QWidget):
    """The event table; emits :attr:`eventSelected` with the event's index in the file (the
    toolbar's navigator finds events by number through :meth:`find_event`)."""

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
        self.summary = QLabel("No file open.")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        self._selecting = False

    def set_table(self, table: EventTable | None, summary: str = "") -> None:
        self.model.set_table(table)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.summary.setText(summary)

    def set_figures(self, purity: np.ndarray | None, retention: np.ndarray | None,
                    pt: np.ndarray | None = None, resort: bool = False) -> None:
        """Fill the purity/retention/p_T columns; ``resort`` re-applies a sort on them."""
        self.model.set_figures(purity, retention, pt)
        if resort and self.model.sort_column in (4, 5, 6):
            current = self.current_event()
            self.model.sort(self.model.sort_column, self.model.sort_order)
            self.select(current)

    def current_event(self) -> int:
        row = self.view.currentIndex().row()
        event = self.model.item_at(row)
        return -1 if event is None else event

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

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._selecting and current.isValid():
            self.eventSelected.emit(self.model.item_at(current.row()))

    def row_count(self) -> int:
        return self.model.rowCount()

    def cell_text(self, row: int, column: int) -> str:
        return self.model.data(self.model.index(row, column)) or ""
