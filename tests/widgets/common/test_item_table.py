"""The numpy-backed item table: formats, sorting (missing values last), filtering, callback
columns, and row <-> item linking both ways."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from widgets.common.item_table import ITEM_ID_ROLE, LEFT, Column, ItemTableView

N = 10_000


@pytest.fixture
def table(qtbot):
    names = {73: "seven"}
    columns = [Column("id", "Id"), Column("score", "Score", "{:.2f}"),
               Column("area", "Area", "{:,}", tip="pixels"),
               Column("name", "Name", align=LEFT, value=lambda i: names.get(i), blank="–")]
    view = ItemTableView(columns)
    qtbot.addWidget(view)
    view.resize(500, 300)
    view.show()
    rng = np.random.default_rng(0)
    ids = np.arange(N) * 10 + 3  # ids are not row numbers
    score = rng.random(N)
    score[[5, 50]] = np.nan
    view.item_model.set_items(ids, {"id": ids, "score": score,
                                    "area": rng.integers(1, 10**6, N)})
    view.names = names
    return view


def test_cells_are_formatted_with_blanks_for_missing_values(table):
    model = table.item_model
    assert model.rowCount() == N and model.columnCount() == 4
    assert table.cell_text(0, 0) == "3" and table.cell_text(5, 1) == ""
    assert "," in table.cell_text(0, 2) or int(table.cell_text(0, 2)) < 1000
    assert table.cell_text(0, 3) == "–"
    assert model.headerData(2, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == "pixels"
    assert model.data(model.index(4, 0), ITEM_ID_ROLE) == 43


def test_sorting_puts_missing_values_last_both_ways(table):
    model = table.item_model
    table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    shown = model.values["score"][model.order]
    assert np.all(np.diff(shown[:-2]) >= 0) and np.isnan(shown[-2:]).all()
    table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    shown = model.values["score"][model.order]
    assert np.all(np.diff(shown[:-2]) <= 0) and np.isnan(shown[-2:]).all()
    assert table.cell_text(0, 1) == f"{np.nanmax(model.values['score']):.2f}"


def test_sorting_a_callback_column_of_text(table):
    table.names.update({13: "alpha", 3: "beta"})
    table.sortByColumn(3, Qt.SortOrder.AscendingOrder)
    assert [table.item_model.item_at(r) for r in range(3)] == [13, 3, 73]
    table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    assert [table.item_model.item_at(r) for r in range(3)] == [73, 3, 13]
    assert table.cell_text(3, 3) == "–"  # unnamed rows last


def test_filtering_and_the_selection_kept_through_sorting(qtbot, table):
    model = table.item_model
    assert table.select_item(93) and table.current_item() == 93
    table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert table.current_item() == 93  # the selection follows its item
    keep = model.values["score"] > 0.5
    model.set_mask(keep)
    assert model.rowCount() == int(keep.sum())
    assert set(model.visible_ids().tolist()) == set(model.ids[keep].tolist())
    hidden = int(model.ids[~keep][0])
    assert model.row_of(hidden) == -1 and model.has_item(hidden)
    assert not table.select_item(hidden)
    model.set_mask(None)
    assert model.rowCount() == N


def test_picking_a_row_emits_its_item_and_select_item_does_not(qtbot, table):
    table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    expected = table.item_model.item_at(2)
    with qtbot.waitSignal(table.itemActivated) as blocker:
        table.selectRow(2)
    assert blocker.args == [expected]
    with qtbot.assertNotEmitted(table.itemActivated):
        assert table.select_item(99_993)  # the last id: scrolled into view
    row = table.item_model.row_of(99_993)
    assert table.currentIndex().row() == row
    assert table.rowAt(table.visualRect(table.currentIndex()).center().y()) == row
    table.setFocus()
    with qtbot.waitSignal(table.itemActivated) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Up)
    assert blocker.args == [table.item_model.item_at(row - 1)]


def test_update_values_redraws_in_place(qtbot, table):
    model = table.item_model
    table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    first = model.item_at(0)
    with qtbot.waitSignal(model.dataChanged):
        model.update_values({"score": np.full(N, 0.25)})
    assert model.item_at(0) == first and table.cell_text(0, 1) == "0.25"
    with pytest.raises(ValueError, match="values for"):
        model.update_values({"score": np.zeros(3)})
