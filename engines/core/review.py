"""The review model: items a person accepts, rejects or relabels, with undo and autosave.

A :class:`ReviewDocument` holds the class names and the :class:`ReviewItem` s of one data
file: second-phase objects of a micrograph (a mask id each) or nodule boxes of a CT scan (a
box in voxel coordinates, optionally with its world position). Every edit is a command
(:mod:`engines.core.review_commands`) run through :meth:`ReviewDocument.execute`, so it can be
undone; after each edit, undo and redo the document is written to its sidecar
(:mod:`engines.core.autosave`) and the observers are told which item ids changed. No Qt here:
the GUI, the CLI and the tests drive the same object.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from engines.core.review_items import (
    Box,
    Geometry,
    ItemState,
    ReviewItem,
    Scalar,
    box_from_2d,
    box_world,
)

if TYPE_CHECKING:
    from engines.core.autosave import Autosaver, RestoreResult
    from engines.core.review_commands import Command

__all__ = ["Box", "Geometry", "ItemState", "ReviewCounts", "ReviewDocument", "ReviewItem",
           "Scalar", "SortKey", "box_from_2d", "box_world"]


@dataclass(frozen=True)
class ReviewCounts:
    """How far the review is: items in total, reviewed, per state and per class."""

    total: int
    reviewed: int
    by_state: Mapping[ItemState, int]
    by_class: tuple[int, ...]

    def describe(self) -> str:
        """E.g. ``"12 / 40 reviewed · 10 accepted · 1 rejected · 1 uncertain · 28 proposed"``."""
        parts = [f"{self.reviewed} / {self.total} reviewed"]
        order = (ItemState.ACCEPTED, ItemState.REJECTED, ItemState.UNCERTAIN, ItemState.PROPOSED)
        parts += [f"{self.by_state[s]} {s.value}" for s in order if self.by_state[s]]
        return " · ".join(parts)


SortKey = str | Callable[[ReviewItem], float | None]


def _key_function(key: SortKey) -> Callable[[ReviewItem], float | None]:
    if callable(key):
        return key
    if key in ("score", "id", "label", "mask_id"):
        return lambda item: getattr(item, key)

    def extra(item: ReviewItem) -> float | None:
        value = item.extras.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    return extra


class ReviewDocument:
    """Class names, items, source identity and the undo history of one review.

    Parameters
    ----------
    class_names
        Names of the class indices items carry.
    items
        Initial items (unique ids).
    kind
        The workspace the review belongs to (``"sem"``, ``"nodules"``); checked on restore.
    meta
        JSON-able extras saved with the review (model name, thresholds, ...).
    autosave
        Where every change is written (:func:`engines.core.autosave.open_review` sets it);
        None keeps the document in memory only.

    Attributes
    ----------
    observers : list of callables
        Each is called with the frozenset of item ids that changed, after every edit, undo
        and redo (after the autosave).
    """

    def __init__(self, class_names: Sequence[str], items: Iterable[ReviewItem] = (), *,
                 kind: str = "", meta: Mapping[str, Any] | None = None,
                 autosave: Autosaver | None = None, next_id: int | None = None) -> None:
        self.class_names = tuple(str(n) for n in class_names)
        if not self.class_names:
            raise ValueError("a review needs at least one class name")
        self.kind = kind
        self.meta = dict(meta or {})
        try:
            json.dumps(self.meta, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"meta must be JSON-able ({exc})") from None
        self._items: dict[int, ReviewItem] = {}
        for item in items:
            if item.id in self._items:
                raise ValueError(f"item id {item.id} appears twice")
            self._check_label(item)
            self._items[item.id] = item
        self._sorted_ids: list[int] | None = None
        top = max(self._items, default=-1) + 1
        self._next_id = max(top, next_id if next_id is not None else 0)
        self._history: list[Command] = []
        self._done = 0  # commands in the history that are applied
        self.autosave = autosave
        self.observers: list[Callable[[frozenset[int]], None]] = []

    @classmethod
    def open_or_restore(cls, source: str | Path, class_names: Sequence[str],
                        fresh_items: Iterable[ReviewItem], **options: Any) -> RestoreResult:
        """Restore the review of ``source`` from its sidecar, or start one from
        ``fresh_items``; see :func:`engines.core.autosave.open_review`."""
        from engines.core.autosave import open_review

        return open_review(source, class_names, fresh_items, **options)

    # -- items -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def __iter__(self) -> Iterator[ReviewItem]:
        """Items by increasing id."""
        return (self._items[i] for i in self.ids())

    def __getitem__(self, item_id: int) -> ReviewItem:
        try:
            return self._items[item_id]
        except KeyError:
            raise KeyError(f"no item with id {item_id}") from None

    def get(self, item_id: int) -> ReviewItem | None:
        return self._items.get(item_id)

    def ids(self) -> list[int]:
        """Item ids, increasing (a cached list: do not modify it)."""
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self._items)
        return self._sorted_ids

    @property
    def next_id(self) -> int:
        """An id no item of this document has had."""
        return self._next_id

    def class_name(self, label: int) -> str:
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)

    def _check_label(self, item: ReviewItem) -> None:
        if item.label >= len(self.class_names):
            raise ValueError(f"item {item.id}: class index {item.label} is not one of the "
                             f"{len(self.class_names)} classes")

    def replace_items(self, changes: Mapping[int, ReviewItem | None]) -> None:
        """Put new versions of items in place (None deletes). For commands only: direct use
        bypasses the history, the autosave and the observers."""
        for item_id, item in changes.items():
            if item is not None:
                self._check_label(item)
                if item.id != item_id:
                    raise ValueError(f"item {item.id} stored under id {item_id}")
        membership = False
        for item_id, item in changes.items():
            if item is None:
                membership |= self._items.pop(item_id, None) is not None
            else:
                membership |= item_id not in self._items
                self._items[item_id] = item
                self._next_id = max(self._next_id, item_id + 1)
        if membership:
            self._sorted_ids = None

    # -- history -----------------------------------------------------------------------------
    def execute(self, command: Command) -> bool:
        """Apply ``command``, record it for undo, autosave and notify.

        Returns
        -------
        bool
            False (and nothing recorded) when the command changed nothing.
        """
        changed = command.apply(self)
        if not changed:
            return False
        del self._history[self._done:]
        self._history.append(command)
        self._done += 1
        self._changed(changed)
        return True

    def undo(self) -> frozenset[int]:
        """Revert the last applied command; returns the ids it touched (empty if none)."""
        if not self.can_undo:
            return frozenset()
        self._done -= 1
        changed = self._history[self._done].revert(self)
        self._changed(changed)
        return changed

    def redo(self) -> frozenset[int]:
        """Re-apply the next undone command; returns the ids it touched (empty if none)."""
        if not self.can_redo:
            return frozenset()
        changed = self._history[self._done].apply(self)
        self._done += 1
        self._changed(changed)
        return changed

    @property
    def can_undo(self) -> bool:
        return self._done > 0

    @property
    def can_redo(self) -> bool:
        return self._done < len(self._history)

    @property
    def undo_text(self) -> str:
        return self._history[self._done - 1].text if self.can_undo else ""

    @property
    def redo_text(self) -> str:
        return self._history[self._done].text if self.can_redo else ""

    @property
    def history(self) -> tuple[Command, ...]:
        """Every recorded command, applied ones first (``history[:undo_count]``)."""
        return tuple(self._history)

    @property
    def undo_count(self) -> int:
        """How many commands of :attr:`history` are applied."""
        return self._done

    def _changed(self, ids: frozenset[int]) -> None:
        if self.autosave is not None:
            self.autosave.save(self)
        for observer in list(self.observers):
            observer(ids)

    # -- queries -----------------------------------------------------------------------------
    def counts(self) -> ReviewCounts:
        by_state = dict.fromkeys(ItemState, 0)
        by_class = [0] * len(self.class_names)
        reviewed = 0
        for item in self._items.values():
            by_state[item.state] += 1
            by_class[item.label] += 1
            reviewed += item.reviewed
        return ReviewCounts(len(self._items), reviewed, MappingProxyType(by_state),
                            tuple(by_class))

    def navigate(self, current: int | None, *, key: SortKey = "score", descending: bool = False,
                 step: int = 1, unreviewed_only: bool = True,
                 include: Callable[[ReviewItem], bool] | None = None,
                 wrap: bool = True) -> int | None:
        """The id to go to from ``current`` in the order of ``key``.

        Items are ordered by ``key`` (``"score"``, ``"id"``, ``"label"``, ``"mask_id"``, an
        extras name, or a function of the item), ascending or ``descending``, ties by id;
        items without a value come last either way. ``step=1`` goes to the next candidate
        after ``current``'s place in that order, ``step=-1`` to the previous one, where the
        candidates are the unreviewed items (all items with ``unreviewed_only=False``) that
        ``include`` accepts. ``current`` itself need not be a candidate (it was just reviewed,
        or filtered out). "Next unreviewed, lowest confidence first" is the default; "next /
        previous unreviewed, highest score first" is ``descending=True, step=±1``.

        Returns
        -------
        int or None
            The id, or None when there is no candidate (or none past ``current`` and not
            ``wrap``).
        """
        if step not in (1, -1):
            raise ValueError("step must be 1 or -1")
        value_of = _key_function(key)
        sign = -1.0 if descending else 1.0

        def rank(item: ReviewItem) -> tuple[bool, float, int]:
            value = value_of(item)
            missing = value is None or not math.isfinite(float(value))
            return (missing, 0.0 if missing else sign * float(value), item.id)

        here = None
        if current is not None and current in self._items:
            here = rank(self._items[current])
        best = first = None
        for item in self._items.values():
            if (unreviewed_only and item.reviewed) or item.id == current:
                continue
            if include is not None and not include(item):
                continue
            r = rank(item)
            if first is None or (r < first if step == 1 else r > first):
                first = r
            if here is not None and ((r > here) if step == 1 else (r < here)) and (
                    best is None or (r < best if step == 1 else r > best)):
                best = r
        if here is None:
            best = first
        elif best is None and wrap:
            best = first
        return None if best is None else best[2]
