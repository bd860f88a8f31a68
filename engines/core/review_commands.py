"""Undoable edits of a :class:`~engines.core.review.ReviewDocument`.

Each command is a small object with ``apply(document)`` and ``revert(document)``, both
returning the ids of the items they touched, and a ``text`` for the Undo/Redo menu entries.
Run them with ``document.execute(command)``; ``document.undo()`` and ``document.redo()`` call
``revert`` and ``apply``. A command records the items it replaced when it is applied, so redo
after undo gives exactly the same result. Items the command would not change are left out, and
a command that changes nothing is not recorded.

Decisions usually set a value and mark the item reviewed in one undo step::

    document.execute(decide([12], state=ItemState.ACCEPTED))
    document.execute(Batch([SetState(ids, ItemState.ACCEPTED), SetReviewed(ids)],
                           "Accept 37 items above 0.9"))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from engines.core.review import Box, ItemState, ReviewDocument, ReviewItem


class Command(ABC):
    """Base class: ``text`` names the edit; subclasses implement apply and revert."""

    text = ""

    @abstractmethod
    def apply(self, document: ReviewDocument) -> frozenset[int]:
        """Make the edit; returns the ids that changed."""

    @abstractmethod
    def revert(self, document: ReviewDocument) -> frozenset[int]:
        """Undo the edit; returns the ids that changed."""


class ItemEdit(Command):
    """A command that replaces some items by new versions (None deletes, a new id adds).

    Subclasses implement :meth:`changes`; the items they replace are kept for :meth:`revert`.
    """

    def __init__(self) -> None:
        self._before: dict[int, ReviewItem | None] = {}

    @abstractmethod
    def changes(self, document: ReviewDocument) -> dict[int, ReviewItem | None]:
        """The new version of every item this command edits (validated, not yet stored)."""

    def apply(self, document: ReviewDocument) -> frozenset[int]:
        after = {i: new for i, new in self.changes(document).items()
                 if new != document.get(i)}
        self._before = {i: document.get(i) for i in after}
        document.replace_items(after)
        return frozenset(after)

    def revert(self, document: ReviewDocument) -> frozenset[int]:
        document.replace_items(self._before)
        return frozenset(self._before)


def _existing(document: ReviewDocument, ids: Iterable[int]) -> list[ReviewItem]:
    return [document[int(i)] for i in ids]


def _count_text(ids: Sequence[int]) -> str:
    return f"item {ids[0]}" if len(ids) == 1 else f"{len(ids)} items"


class SetFields(ItemEdit):
    """Set the same fields on several items: ``SetFields(ids, label=2, reviewed=True)``."""

    def __init__(self, ids: Iterable[int], text: str = "", **fields: Any) -> None:
        super().__init__()
        self.ids = tuple(int(i) for i in ids)
        self.fields = fields
        self.text = text or f"Edit {_count_text(self.ids)}"

    def changes(self, document: ReviewDocument) -> dict[int, ReviewItem | None]:
        return {item.id: item.edited(**self.fields) for item in _existing(document, self.ids)}


class SetClass(SetFields):
    """Give items class ``label`` (an index into the document's class names)."""

    def __init__(self, ids: Iterable[int], label: int, text: str = "") -> None:
        ids = tuple(ids)
        super().__init__(ids, text or f"Set class {label} on {_count_text(ids)}", label=label)


class SetState(SetFields):
    def __init__(self, ids: Iterable[int], state: ItemState | str, text: str = "") -> None:
        ids, state = tuple(ids), ItemState(state)
        super().__init__(ids, text or f"Mark {_count_text(ids)} {state.value}", state=state)


class SetReviewed(SetFields):
    def __init__(self, ids: Iterable[int], reviewed: bool = True, text: str = "") -> None:
        ids = tuple(ids)
        verb = "reviewed" if reviewed else "unreviewed"
        super().__init__(ids, text or f"Mark {_count_text(ids)} {verb}", reviewed=reviewed)


class SetNote(SetFields):
    def __init__(self, item_id: int, note: str, text: str = "") -> None:
        super().__init__((item_id,), text or f"Note on item {item_id}", note=note)


class EditGeometry(SetFields):
    """Change where an item is: its box, mask id, world centre and/or size (keywords)."""

    _FIELDS = ("box", "mask_id", "world_xyz", "size_mm")

    def __init__(self, item_id: int, text: str = "", *, box: Box | None = None,
                 **geometry: Any) -> None:
        unknown = set(geometry) - set(self._FIELDS)
        if unknown:
            raise ValueError(f"not geometry fields: {sorted(unknown)}")
        if box is not None:
            geometry["box"] = box
        super().__init__((item_id,), text or f"Edit geometry of item {item_id}", **geometry)


class AddItem(ItemEdit):
    """Add a new item (e.g. a nodule the detector missed); its id must be unused."""

    def __init__(self, item: ReviewItem, text: str = "") -> None:
        super().__init__()
        self.item = item
        self.text = text or f"Add item {item.id}"

    def changes(self, document: ReviewDocument) -> dict[int, ReviewItem | None]:
        if self.item.id in document and document[self.item.id] != self.item:
            raise ValueError(f"item id {self.item.id} is already used")
        return {self.item.id: self.item}


class DeleteItems(ItemEdit):
    def __init__(self, ids: Iterable[int], text: str = "") -> None:
        super().__init__()
        self.ids = tuple(int(i) for i in ids)
        self.text = text or f"Delete {_count_text(self.ids)}"

    def changes(self, document: ReviewDocument) -> dict[int, ReviewItem | None]:
        return {item.id: None for item in _existing(document, self.ids)}


class Batch(Command):
    """Several commands as one undo step (applied in order, reverted in reverse order)."""

    def __init__(self, commands: Iterable[Command], text: str) -> None:
        self.commands = list(commands)
        self.text = text

    def apply(self, document: ReviewDocument) -> frozenset[int]:
        changed: set[int] = set()
        for done, command in enumerate(self.commands):
            try:
                changed |= command.apply(document)
            except Exception:
                for applied in reversed(self.commands[:done]):  # leave the document as it was
                    applied.revert(document)
                raise
        return frozenset(changed)

    def revert(self, document: ReviewDocument) -> frozenset[int]:
        changed: set[int] = set()
        for command in reversed(self.commands):
            changed |= command.revert(document)
        return frozenset(changed)


_VERBS = {ItemState.PROPOSED: "Reset", ItemState.ACCEPTED: "Accept",
          ItemState.REJECTED: "Reject", ItemState.UNCERTAIN: "Mark uncertain"}


def decide(ids: Iterable[int], *, state: ItemState | str | None = None,
           label: int | None = None, text: str = "") -> Command:
    """Set the class and/or state of items and mark them reviewed, as one undo step."""
    ids = tuple(int(i) for i in ids)
    fields: dict[str, Any] = {"reviewed": True}
    parts = []
    if label is not None:
        fields["label"] = int(label)
        parts.append(f"set class {label}")
    if state is not None:
        fields["state"] = ItemState(state)
        parts.append(_VERBS[fields["state"]].lower())
    verb = " and ".join(parts) or "mark reviewed"
    return SetFields(ids, text or f"{verb[0].upper()}{verb[1:]}: {_count_text(ids)}", **fields)
