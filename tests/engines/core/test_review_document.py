"""ReviewDocument in detail: ids, class names, the sorted-id cache after direct replacement,
redo of several commands, navigation by every kind of key and backwards, and open_or_restore."""

from __future__ import annotations

import pytest

from engines.core.autosave import RestoreStatus
from engines.core.review import ReviewDocument, ReviewItem
from engines.core.review_commands import SetClass, SetNote

NAMES = ("pore", "grain")


def _doc(**options):
    # ids 0..4: label and mask id run against the id order; "depth" is an extras value
    items = [ReviewItem(0, 1, score=0.9, mask_id=50, extras={"depth": 3.0}),
             ReviewItem(1, 0, score=0.2, mask_id=40, extras={"depth": 1.0}),
             ReviewItem(2, 1, score=0.5, mask_id=30),
             ReviewItem(3, 0, score=0.7, mask_id=20, extras={"depth": 2.0}),
             ReviewItem(4, 0, score=None, mask_id=10, extras={"depth": "deep"})]
    return ReviewDocument(NAMES, items, **options)


def test_construction_defaults_and_refusals():
    empty = ReviewDocument(NAMES)
    assert empty.kind == "" and empty.meta == {} and empty.next_id == 0 and len(empty) == 0
    assert ReviewDocument(NAMES, next_id=7).next_id == 7
    assert _doc().next_id == 5 and _doc(next_id=3).next_id == 5
    with pytest.raises(ValueError) as error:
        ReviewDocument([])
    assert str(error.value) == "a review needs at least one class name"
    with pytest.raises(ValueError, match="meta must be JSON-able"):
        ReviewDocument(NAMES, meta={"t": float("nan")})


def test_lookups_and_class_names():
    doc = _doc()
    with pytest.raises(KeyError) as error:
        doc[9]
    assert error.value.args == ("no item with id 9",)
    assert doc.get(9) is None and doc.get(2).score == 0.5
    assert [doc.class_name(i) for i in (0, 1, 2, -1)] == ["pore", "grain", "2", "-1"]


def test_direct_replacement_keeps_the_sorted_ids_current():
    doc = _doc()
    assert doc.ids() == [0, 1, 2, 3, 4]
    doc.replace_items({1: None, 99: None})  # one that exists, one that does not
    assert doc.ids() == [0, 2, 3, 4]
    doc.replace_items({10: ReviewItem(10, 0), 0: doc[0].edited(note="x")})  # new, then known
    assert doc.ids() == [0, 2, 3, 4, 10] and doc.next_id == 11
    with pytest.raises(ValueError) as error:
        doc.replace_items({4: ReviewItem(3, 0)})
    assert str(error.value) == "item 3 stored under id 4"


def test_redo_of_several_undone_commands():
    doc = _doc()
    doc.execute(SetNote(0, "first"))
    doc.execute(SetClass([1], 1))
    doc.undo()
    doc.undo()
    assert doc.undo_count == 0 and doc[0].note == "" and doc[1].label == 0
    doc.redo()
    doc.redo()
    assert doc.undo_count == 2 and not doc.can_redo
    assert doc[0].note == "first" and doc[1].label == 1


@pytest.mark.parametrize("key, descending, order", [
    ("score", False, [1, 2, 3, 0, 4]),          # no score: last either way
    ("score", True, [0, 3, 2, 1, 4]),
    ("id", True, [4, 3, 2, 1, 0]),
    ("label", False, [1, 3, 4, 0, 2]),          # ties by id
    ("mask_id", False, [4, 3, 2, 1, 0]),
    ("depth", False, [1, 3, 0, 2, 4]),          # extras; text and absent values last
    (lambda item: -item.id, False, [4, 3, 2, 1, 0]),
])
def test_navigation_follows_the_key(key, descending, order):
    doc = _doc()
    walked, current = [], None
    for _ in range(len(order)):
        current = doc.navigate(current, key=key, descending=descending,
                               unreviewed_only=False, wrap=False)
        walked.append(current)
    assert walked == order
    assert doc.navigate(current, key=key, descending=descending, unreviewed_only=False,
                        wrap=False) is None
    # backwards from the end visits the same items in reverse
    back, current = [], order[-1]
    for _ in range(len(order) - 1):
        current = doc.navigate(current, key=key, descending=descending, step=-1,
                               unreviewed_only=False, wrap=False)
        back.append(current)
    assert back == order[-2::-1]


def test_navigation_from_an_item_that_is_gone_and_bad_steps():
    doc = _doc()
    assert doc.navigate(42, unreviewed_only=False) == 1  # as from nowhere: the first
    with pytest.raises(ValueError) as error:
        doc.navigate(None, step=2)
    assert str(error.value) == "step must be 1 or -1"


def test_open_or_restore_starts_fresh_then_restores(tmp_path):
    source = tmp_path / "scan.tif"
    source.write_bytes(b"image bytes")
    items = [ReviewItem(0, 1, score=0.3)]
    first = ReviewDocument.open_or_restore(source, NAMES, items, kind="sem",
                                           meta={"model": "demo"})
    assert first.status is RestoreStatus.FRESH
    assert first.document.class_names == NAMES and first.document[0].label == 1
    first.document.execute(SetNote(0, "checked"))
    again = ReviewDocument.open_or_restore(source, NAMES, [], kind="sem")
    assert again.status is RestoreStatus.RESTORED
    assert again.document[0].note == "checked" and again.document.meta == {"model": "demo"}
