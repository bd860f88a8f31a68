"""The item table of a review: one row per item of a ReviewDocument, kept in sync with it.

Cells are read from the document when drawn, so an edit only redraws its rows; adding or
deleting items reloads the rows (milliseconds for 10 000). Workspaces add their own columns
with :class:`ItemField` (e.g. the runner-up class of an object, the slices of a box).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from engines.core.review import ItemState, ReviewDocument, ReviewItem
from widgets.common.item_table import LEFT, RIGHT, Column, ItemTableView

STATE_COLOURS = {ItemState.ACCEPTED: QColor("#1a7f37"), ItemState.REJECTED: QColor("#b03000"),
                 ItemState.UNCERTAIN: QColor("#9a6700")}


@dataclass(frozen=True)
class ItemField:
    """A review-table column: ``get(document, item)`` gives the cell value."""

    name: str
    header: str
    get: Callable[[ReviewDocument, ReviewItem], Any]
    fmt: str | Callable[[Any], str] = "{}"
    align: Any = RIGHT
    tip: str = ""
    colour: Callable[[Any], QColor | None] | None = None


def extra_field(key: str, header: str, fmt: str | Callable[[Any], str] = "{}",
                tip: str = "") -> ItemField:
    """A column showing ``item.extras[key]`` (blank where an item has none)."""
    return ItemField(key, header, lambda _doc, item: item.extras.get(key), fmt, RIGHT, tip)


def _state_colour(value: Any) -> QColor | None:
    return STATE_COLOURS.get(ItemState(value)) if value else None


ID_FIELD = ItemField("id", "Id", lambda _doc, item: item.id, tip="Item id (stable)")
CLASS_FIELD = ItemField("class", "Class", lambda doc, item: doc.class_name(item.label),
                        align=LEFT, tip="Class (corrected by the reviewer, or proposed)")
STATE_FIELD = ItemField("state", "State", lambda _doc, item: item.state.value, align=LEFT,
                        tip="proposed / accepted / rejected / uncertain", colour=_state_colour)
REVIEWED_FIELD = ItemField("reviewed", "✓", lambda _doc, item: "✓" if item.reviewed else "",
                           align=LEFT, tip="Reviewed")
SCORE_FIELD = ItemField("score", "Score", lambda _doc, item: item.score, "{:.3f}",
                        tip="Model confidence (vote share or detection score)")
NOTE_FIELD = ItemField("note", "Note", lambda _doc, item: item.note, align=LEFT)
DEFAULT_FIELDS = (ID_FIELD, CLASS_FIELD, STATE_FIELD, REVIEWED_FIELD, SCORE_FIELD)


class ReviewTable(ItemTableView):
    """An :class:`ItemTableView` over a :class:`ReviewDocument`.

    Parameters
    ----------
    fields
        Columns; default id, class, state, reviewed, score, then ``extra`` and the note.
    """

    def __init__(self, extra: Sequence[ItemField] = (), fields: Sequence[ItemField] | None = None,
                 parent: QWidget | None = None) -> None:
        self.fields = list(fields) if fields is not None else [*DEFAULT_FIELDS, *extra,
                                                                NOTE_FIELD]
        self.document: ReviewDocument | None = None
        self._filter: Callable[[ReviewItem], bool] | None = None
        super().__init__([self._column(f) for f in self.fields], parent)

    def _column(self, spec: ItemField) -> Column:
        def value(item_id: int) -> Any:
            document = self.document
            item = document.get(item_id) if document is not None else None
            return None if item is None else spec.get(document, item)

        return Column(spec.name, spec.header, spec.fmt, spec.align, spec.tip, value,
                      spec.colour)

    def set_document(self, document: ReviewDocument | None) -> None:
        if self.document is not None and self._observe in self.document.observers:
            self.document.observers.remove(self._observe)
        self.document = document
        if document is not None:
            document.observers.append(self._observe)
        self.reload()

    def set_filter(self, accept: Callable[[ReviewItem], bool] | None) -> None:
        """Show only items ``accept`` keeps (None: all); evaluated now and on reload, so an
        item that stops matching after an edit stays until the filter is set again."""
        self._filter = accept
        current = self.current_item()
        self.item_model.set_mask(self._mask())
        self.select_item(current)

    def includes(self, item: ReviewItem) -> bool:
        """Whether ``item`` is shown (pass as ``include`` to ``ReviewDocument.navigate``)."""
        return self.item_model.row_of(item.id) >= 0

    def reload(self) -> None:
        """Re-read every row (after items were added or deleted)."""
        current = self.current_item()
        ids = self.document.ids() if self.document is not None else []
        self.item_model.set_items(np.asarray(ids, dtype=np.int64), mask=self._mask())
        self.select_item(current)

    def _mask(self) -> np.ndarray | None:
        if self._filter is None or self.document is None:
            return None
        return np.fromiter((self._filter(item) for item in self.document), dtype=bool,
                           count=len(self.document))

    def _observe(self, ids: frozenset[int]) -> None:
        model = self.item_model
        if any((i in self.document) != model.has_item(i) for i in ids):
            self.reload()
        else:
            model.refresh_rows(ids)
