"""A sortable, filterable table of items with stable integer ids, for 10 000 rows and more.

Columns are small specs (:class:`Column`): a name, a header, a format, an alignment, and either
a numpy array given to the model or a callback that returns the value of one item id. Sorting
and filtering keep a numpy index from view rows to source rows (``argsort``), so they cost
milliseconds and never copy the data. :class:`ItemTableView` links rows and items both ways:
a row the user picks emits :attr:`ItemTableView.itemActivated` with its id, and
:meth:`ItemTableView.select_item` selects and scrolls to an item's row without emitting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

_Index = QModelIndex | QPersistentModelIndex
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
ITEM_ID_ROLE = Qt.ItemDataRole.UserRole  # data(index, ITEM_ID_ROLE) is the row's item id


@dataclass(frozen=True)
class Column:
    """One column of an :class:`ItemTableModel`.

    Attributes
    ----------
    name : str
        Key of the column's array in :meth:`ItemTableModel.set_items`.
    header, tip : str
        Header text and its tooltip.
    fmt : str or callable
        ``str.format`` pattern for one value (``"{:.3f}"``, ``"{:,}"``) or a function of the
        value; NaN and None show as ``blank``.
    align : Qt.AlignmentFlag
    value : callable or None
        ``value(item_id)`` for columns without an array (e.g. read from a document).
    colour : callable or None
        ``colour(value)`` -> QColor or None: the text colour of a cell.
    blank : str
        Text of a missing value.
    """

    name: str
    header: str
    fmt: str | Callable[[Any], str] = "{}"
    align: Qt.AlignmentFlag = RIGHT
    tip: str = ""
    value: Callable[[int], Any] | None = None
    colour: Callable[[Any], QColor | None] | None = None
    blank: str = ""

    def text(self, value: Any) -> str:
        if value is None or (isinstance(value, (float, np.floating)) and not np.isfinite(value)):
            return self.blank
        return self.fmt(value) if callable(self.fmt) else self.fmt.format(value)


def _sortable(values: np.ndarray) -> np.ndarray:
    """Values as float (NaN for missing) when numeric, else as strings ("" for missing)."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64)
    try:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return np.array(["" if v is None else str(v) for v in values], dtype=str)


class ItemTableModel(QAbstractTableModel):
    """Rows = items (ids in a numpy array), columns = :class:`Column` specs."""

    def __init__(self, columns: Sequence[Column], parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.ids = np.zeros(0, dtype=np.int64)  # source row -> item id
        self.values: dict[str, np.ndarray] = {}
        self.order = np.zeros(0, dtype=np.int64)  # view row -> source row
        self._row_of_id: dict[int, int] = {}
        self._view_row = np.zeros(0, dtype=np.int64)  # source row -> view row (-1: hidden)
        self.mask: np.ndarray | None = None
        self.sort_column, self.sort_order = -1, Qt.SortOrder.AscendingOrder

    # -- data --------------------------------------------------------------------------------
    def set_items(self, ids: Iterable[int], values: Mapping[str, np.ndarray] | None = None,
                  mask: np.ndarray | None = None) -> None:
        """Replace all rows. ``values`` maps column names to arrays (n,) in the order of
        ``ids``; ``mask`` (n,) bool shows only some rows. The sort column is re-applied."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        values = {k: np.asarray(v) for k, v in (values or {}).items()}
        for name, array in values.items():
            if len(array) != len(ids):
                raise ValueError(f"column {name!r} has {len(array)} values for {len(ids)} items")
        self.beginResetModel()
        self.ids, self.values = ids, values
        self._row_of_id = {int(i): r for r, i in enumerate(ids.tolist())}
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self._arrange()
        self.endResetModel()

    def update_values(self, values: Mapping[str, np.ndarray]) -> None:
        """New arrays for some columns (same rows); rows stay where they are."""
        for name, array in values.items():
            if len(array) != len(self.ids):
                raise ValueError(f"column {name!r} has {len(array)} values for {len(self.ids)}")
            self.values[name] = np.asarray(array)
        self.refresh_rows(None)

    def refresh_rows(self, ids: Iterable[int] | None) -> None:
        """Redraw the rows of ``ids`` (all rows for None) after their values changed."""
        if not len(self.order):
            return
        last = self.columnCount() - 1
        rows = None if ids is None else [r for r in map(self.row_of, ids) if r >= 0]
        if rows is None or len(rows) > 64:  # one signal for a bulk edit
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.order) - 1, last))
            return
        for row in rows:
            self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def column_values(self, column: int) -> np.ndarray:
        """All values of a column in source order (from its array or its callback)."""
        spec = self.columns[column]
        if spec.name in self.values:
            return self.values[spec.name]
        if spec.value is None:
            return np.full(len(self.ids), None, dtype=object)
        return np.array([spec.value(i) for i in self.ids.tolist()] + [None], dtype=object)[:-1]

    def cell_value(self, row: int, column: int) -> Any:
        spec = self.columns[column]
        source = int(self.order[row])
        if spec.name in self.values:
            return self.values[spec.name][source]
        return spec.value(int(self.ids[source])) if spec.value is not None else None

    # -- rows and items ----------------------------------------------------------------------
    def item_at(self, row: int) -> int | None:
        """Item id shown in view row ``row``."""
        return int(self.ids[self.order[row]]) if 0 <= row < len(self.order) else None

    def has_item(self, item_id: int) -> bool:
        """Whether the model has a row for ``item_id`` (shown or filtered out)."""
        return int(item_id) in self._row_of_id

    def row_of(self, item_id: int) -> int:
        """View row of an item, -1 when it is absent or filtered out."""
        source = self._row_of_id.get(int(item_id))
        return -1 if source is None else int(self._view_row[source])

    def visible_ids(self) -> np.ndarray:
        """Ids of the shown rows, in view order."""
        return self.ids[self.order]

    # -- sorting and filtering ---------------------------------------------------------------
    def set_mask(self, mask: np.ndarray | None) -> None:
        """Show only source rows where ``mask`` (n,) is True (None: all rows)."""
        if mask is not None and len(mask) != len(self.ids):
            raise ValueError(f"filter has {len(mask)} values for {len(self.ids)} items")
        self.beginResetModel()
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)
        self._arrange()
        self.endResetModel()

    def _arrange(self) -> None:
        n = len(self.ids)
        if 0 <= self.sort_column < len(self.columns) and n:
            keys = _sortable(self.column_values(self.sort_column))
            if keys.dtype.kind == "f":
                missing = ~np.isfinite(keys)
            else:  # text: sort by rank
                missing = keys == ""
                keys = np.unique(keys, return_inverse=True)[1].astype(np.float64)
            descending = self.sort_order == Qt.SortOrder.DescendingOrder
            keys = np.where(missing, 0.0, -keys if descending else keys)
            order = np.lexsort((keys, missing))  # stable; missing values last either way
        else:
            order = np.arange(n)
        if self.mask is not None:
            order = order[self.mask[order]]
        self.order = order.astype(np.int64)
        self._view_row = np.full(n, -1, dtype=np.int64)
        self._view_row[self.order] = np.arange(len(self.order))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old_order = self.order
        self.sort_column, self.sort_order = column, order
        self._arrange()
        persistent = self.persistentIndexList()  # keep the selection on the same items
        new = []
        for index in persistent:
            row = int(self._view_row[old_order[index.row()]]) if index.row() < len(old_order) \
                else -1
            new.append(self.index(row, index.column()) if row >= 0 else QModelIndex())
        self.changePersistentIndexList(persistent, new)
        self.layoutChanged.emit()

    # -- Qt model interface ------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.order)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section].tip or None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.order):
            return None
        spec = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return spec.text(self.cell_value(index.row(), index.column()))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(spec.align)
        if role == Qt.ItemDataRole.ForegroundRole and spec.colour is not None:
            return spec.colour(self.cell_value(index.row(), index.column()))
        if role == ITEM_ID_ROLE:
            return self.item_at(index.row())
        return None


class ItemTableView(QTableView):
    """A table of items: picking a row emits :attr:`itemActivated` (the item id);
    :meth:`select_item` selects and scrolls to an item without emitting it back."""

    itemActivated = Signal(int)

    def __init__(self, columns: Sequence[Column], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.item_model = ItemTableModel(columns, self)
        self.setModel(self.item_model)
        self.setSortingEnabled(True)
        self.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(36)
        self.setAlternatingRowColors(True)
        self.selectionModel().currentRowChanged.connect(self._row_changed)
        self._selecting = False

    def current_item(self) -> int | None:
        return self.item_model.item_at(self.currentIndex().row())

    def select_item(self, item_id: int | None) -> bool:
        """Select and scroll to ``item_id``'s row; False when it is not shown."""
        row = -1 if item_id is None else self.item_model.row_of(item_id)
        self._selecting = True
        try:
            if row < 0:
                self.clearSelection()
                self.setCurrentIndex(QModelIndex())
                return False
            index = self.item_model.index(row, max(self.currentIndex().column(), 0))
            self.setCurrentIndex(index)
            self.scrollTo(index)
        finally:
            self._selecting = False
        return True

    def cell_text(self, row: int, column: int) -> str:
        return self.item_model.data(self.item_model.index(row, column)) or ""

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._selecting and current.isValid():
            item = self.item_model.item_at(current.row())
            if item is not None:
                self.itemActivated.emit(item)
