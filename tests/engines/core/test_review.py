"""The review model: items, commands with undo/redo, observers, navigation and export."""

import csv
import json

import numpy as np
import pytest

from engines.core.review import (
    ItemState,
    ReviewDocument,
    ReviewItem,
    box_from_2d,
    box_world,
)
from engines.core.review_commands import (
    AddItem,
    Batch,
    DeleteItems,
    EditGeometry,
    SetClass,
    SetFields,
    SetNote,
    SetReviewed,
    SetState,
    decide,
)
from engines.core.review_export import export_review_csv, export_review_json
from engines.imaging.volume import Volume

CLASSES = ("ferrite", "martensite", "bainite")


def _doc(scores=(0.9, 0.4, 0.7, 0.55)):
    items = [ReviewItem(i, i % 3, score=s, mask_id=i + 1, extras={"area_px": 10 * (i + 1)})
             for i, s in enumerate(scores)]
    return ReviewDocument(CLASSES, items, kind="sem")


def test_items_are_validated_and_immutable():
    item = ReviewItem(np.int64(3), np.int32(1), score=np.float32(0.5), extras={"n": np.int64(4)})
    assert type(item.id) is int and type(item.extras["n"]) is int and item.state is \
        ItemState.PROPOSED
    with pytest.raises(TypeError):
        item.extras["n"] = 5
    with pytest.raises(AttributeError):
        item.label = 2
    for bad in ({"score": float("nan")}, {"label": -1}, {"box": (0, 0, 0, 1, 1)},
                {"box": (5, 0, 0, 4, 1, 1)}, {"extras": {"x": [1]}}, {"state": "maybe"}):
        with pytest.raises(ValueError):
            ReviewItem(**{"id": 0, "label": 0, **bad})
    with pytest.raises(ValueError):
        item.edited(score=float("inf"))
    assert item.edited(note="x").note == "x" and item.note == ""


def test_box_helpers_and_world_position():
    box = box_from_2d(10, 20, 14, 30, z0=5, z1=8)
    assert box == (5, 10, 20, 8, 14, 30)
    assert ReviewItem(0, 0, box=box).slices == range(5, 8)
    volume = Volume(np.zeros((10, 40, 40), np.int16), spacing_xyz=(0.5, 0.5, 2.0),
                    origin_xyz=(-10.0, 0.0, 100.0))
    centre, size = box_world(box, volume)
    # centre voxel (z, y, x) = (6, 11.5, 24.5)
    np.testing.assert_allclose(centre, (-10 + 24.5 * 0.5, 11.5 * 0.5, 100 + 6 * 2.0))
    assert size == (5.0, 2.0, 6.0)


def test_commands_undo_redo_and_texts():
    doc = _doc()
    assert not doc.can_undo and doc.undo_text == ""
    assert doc.execute(SetClass([1], 2))
    assert doc[1].label == 2 and doc.can_undo and "class 2" in doc.undo_text
    doc.execute(SetState([1, 2], ItemState.REJECTED))
    doc.execute(SetNote(2, "scratch"))
    assert doc[2].note == "scratch" and doc[2].state is ItemState.REJECTED
    doc.undo()
    assert doc[2].note == "" and doc.can_redo and doc.redo_text.startswith("Note")
    doc.undo()
    doc.undo()
    assert doc[1].label == 1 and doc[1].state is ItemState.PROPOSED and not doc.can_undo
    doc.redo()
    assert doc[1].label == 2
    doc.execute(SetReviewed([0]))  # a new edit drops the redo tail
    assert not doc.can_redo and len(doc.history) == 2 and doc.undo_count == 2


def test_no_op_commands_are_not_recorded():
    doc = _doc()
    assert not doc.execute(SetClass([0], doc[0].label))
    assert not doc.can_undo
    assert not doc.execute(Batch([SetState([0], ItemState.PROPOSED)], "nothing"))


def test_invalid_commands_change_nothing():
    doc = _doc()
    with pytest.raises(ValueError, match="not one of the 3 classes"):
        doc.execute(SetClass([0, 1], 7))
    with pytest.raises(KeyError):
        doc.execute(SetState([0, 99], ItemState.ACCEPTED))
    assert doc[0].state is ItemState.PROPOSED and not doc.can_undo
    with pytest.raises(ValueError, match="already used"):
        doc.execute(AddItem(ReviewItem(1, 0)))
    with pytest.raises(KeyError):  # a failing part of a batch rolls back the earlier parts
        doc.execute(Batch([SetState([0], ItemState.ACCEPTED), SetState([42], "rejected")], "x"))
    assert doc[0].state is ItemState.PROPOSED


def test_merged_batch_is_one_undo_step():
    doc = _doc()
    above = [item.id for item in doc if item.score > 0.6]
    doc.execute(Batch([SetState(above, ItemState.ACCEPTED), SetReviewed(above)],
                      "Accept all above 0.6"))
    assert {i for i in doc.ids() if doc[i].reviewed} == {0, 2}
    assert doc.undo_text == "Accept all above 0.6"
    assert doc.undo() == frozenset({0, 2})
    assert not any(item.reviewed for item in doc) and not doc.can_undo


def test_decide_sets_class_state_and_reviewed_at_once():
    doc = _doc()
    doc.execute(decide([3], label=2, state=ItemState.ACCEPTED))
    assert (doc[3].label, doc[3].state, doc[3].reviewed) == (2, ItemState.ACCEPTED, True)
    assert doc.undo_text == "Set class 2 and accept: item 3"
    doc.undo()
    assert (doc[3].label, doc[3].reviewed) == (0, False)


def test_add_delete_and_geometry_with_stable_ids():
    doc = _doc()
    new = ReviewItem(doc.next_id, 1, box=box_from_2d(0, 0, 4, 4, 2, 3), note="missed")
    doc.execute(AddItem(new))
    assert doc.ids() == [0, 1, 2, 3, 4]
    doc.execute(EditGeometry(4, box=(2, 1, 1, 4, 5, 5), world_xyz=(1, 2, 3)))
    assert doc[4].slices == range(2, 4) and doc[4].world_xyz == (1.0, 2.0, 3.0)
    doc.execute(DeleteItems([1, 4]))
    assert doc.ids() == [0, 2, 3] and doc.next_id == 5  # ids are not reused
    doc.undo()
    assert doc.ids() == [0, 1, 2, 3, 4] and doc[4].box == (2, 1, 1, 4, 5, 5)
    with pytest.raises(ValueError, match="not geometry"):
        EditGeometry(0, label=2)


def test_observers_get_the_changed_ids_on_edit_undo_and_redo():
    doc = _doc()
    seen = []
    doc.observers.append(seen.append)
    doc.execute(SetState([0, 3], ItemState.UNCERTAIN))
    doc.execute(SetClass([0], 0))  # no change: no call
    doc.undo()
    doc.redo()
    assert seen == [frozenset({0, 3})] * 3


def test_counts():
    doc = _doc()
    doc.execute(decide([0, 1], state=ItemState.ACCEPTED))
    doc.execute(decide([2], state=ItemState.UNCERTAIN))
    counts = doc.counts()
    assert (counts.total, counts.reviewed) == (4, 3)
    assert counts.by_state[ItemState.ACCEPTED] == 2 and counts.by_class == (2, 1, 1)
    assert counts.describe() == "3 / 4 reviewed · 2 accepted · 1 uncertain · 1 proposed"


def test_next_unreviewed_lowest_confidence_first():
    doc = _doc((0.9, 0.4, 0.7, 0.55, 0.4))  # ids 1 and 4 tie at 0.4
    order = []
    current = None
    for _ in range(5):
        current = doc.navigate(current)
        order.append(current)
    assert order == [1, 4, 3, 2, 0]  # then it wraps
    assert doc.navigate(0) == 1
    # the current item was just reviewed: its place still decides what comes next
    doc.execute(decide([4], state=ItemState.ACCEPTED))
    assert doc.navigate(4) == 3 and doc.navigate(None) == 1
    assert doc.navigate(0, wrap=False) is None


def test_next_and_previous_unreviewed_highest_score_first_with_a_filter():
    doc = _doc((0.9, 0.4, 0.7, 0.55, 0.8))
    nxt = dict(key="score", descending=True)
    assert doc.navigate(None, **nxt) == 0
    assert doc.navigate(0, **nxt) == 4
    assert doc.navigate(4, step=-1, **nxt) == 0
    assert doc.navigate(0, step=-1, **nxt) == 1  # wraps to the lowest score
    only_class_1 = dict(nxt, include=lambda item: item.label == 1)  # ids 1 and 4
    assert doc.navigate(None, **only_class_1) == 4 and doc.navigate(4, **only_class_1) == 1
    doc.execute(SetReviewed([1, 4]))
    assert doc.navigate(None, **only_class_1) is None
    assert doc.navigate(None, unreviewed_only=False, **only_class_1) == 4


def test_navigation_by_an_extra_puts_missing_values_last():
    doc = _doc()
    doc.execute(AddItem(ReviewItem(9, 0, score=None)))
    assert doc.navigate(None, key="area_px", descending=True) == 3
    assert doc.navigate(None, step=-1) == 9  # no score: last in either direction
    assert doc.navigate(None, step=-1, descending=True) == 9


def test_export_csv_and_json(tmp_path):
    doc = _doc()
    doc.execute(AddItem(ReviewItem(4, 2, box=(1, 2, 3, 4, 5, 6), world_xyz=(7, 8, 9),
                                   extras={"runner_up": 1}, note='odd, "quoted"')))
    doc.execute(decide([0, 4], state=ItemState.ACCEPTED))
    path = export_review_csv(doc, tmp_path / "review.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["id"] for r in rows] == ["0", "1", "2", "3", "4"]
    last = rows[-1]
    assert (last["class"], last["state"], last["reviewed"], last["z1"], last["x_mm"]) == \
        ("bainite", "accepted", "true", "4.0", "7.0")
    assert last["note"] == 'odd, "quoted"' and last["runner_up"] == "1"
    assert rows[1]["score"] == "0.4" and rows[1]["z0"] == "" and rows[1]["area_px"] == "20"
    assert list(rows[0]).index("note") == len(rows[0]) - 1
    data = json.loads(export_review_json(doc, tmp_path / "r.json", only_reviewed=True)
                      .read_text())
    assert [r["id"] for r in data["items"]] == [0, 4]
    assert data["counts"]["reviewed"] == 2 and data["items"][1]["y1"] == 5


def test_documents_need_classes_unique_ids_and_json_meta():
    with pytest.raises(ValueError, match="class name"):
        ReviewDocument([])
    with pytest.raises(ValueError, match="twice"):
        ReviewDocument(CLASSES, [ReviewItem(1, 0), ReviewItem(1, 1)])
    with pytest.raises(ValueError, match="not one of"):
        ReviewDocument(CLASSES, [ReviewItem(1, 5)])
    with pytest.raises(ValueError, match="JSON"):
        ReviewDocument(CLASSES, meta={"threshold": float("nan")})
    assert ReviewDocument(CLASSES, [ReviewItem(4, 0)], next_id=2).next_id == 5


def test_every_command_names_its_edit_for_the_undo_menu():
    doc = _doc()
    texts = [
        (SetClass([1], 2), "Set class 2 on item 1"),
        (SetClass([3, 0, 2], 1), "Set class 1 on 3 items"),
        (SetState([2], "rejected"), "Mark item 2 rejected"),
        (SetState([0, 3], ItemState.UNCERTAIN), "Mark 2 items uncertain"),
        (SetReviewed([1, 2]), "Mark 2 items reviewed"),
        (SetReviewed([3], reviewed=False), "Mark item 3 unreviewed"),
        (SetNote(0, "dust"), "Note on item 0"),
        (EditGeometry(2, mask_id=9), "Edit geometry of item 2"),
        (AddItem(ReviewItem(7, 0)), "Add item 7"),
        (DeleteItems([3]), "Delete item 3"),
        (DeleteItems([0, 1]), "Delete 2 items"),
        (decide([2, 1]), "Mark reviewed: 2 items"),
        (decide([0], state="rejected"), "Reject: item 0"),
        (SetFields([0, 1], label=1), "Edit 2 items"),
        (SetFields([3], note="x", reviewed=True), "Edit item 3"),
    ]
    for command, text in texts:
        assert command.text == text
    given = [SetClass([1], 2, "c"), SetState([2], "accepted", "s"), SetReviewed([1], text="r"),
             SetNote(0, "n", "t"), EditGeometry(1, "g", mask_id=3), AddItem(ReviewItem(7, 0), "a"),
             DeleteItems([3], "d"), decide([1], label=0, text="k"), SetFields([2], "f", note="")]
    assert [c.text for c in given] == ["c", "s", "r", "t", "g", "a", "d", "k", "f"]
    doc.execute(SetReviewed([0, 2]))  # reviewed=True, then back to False
    assert doc.execute(SetReviewed([2, 3], reviewed=False))
    assert [doc[i].reviewed for i in range(4)] == [True, False, False, False]


def test_a_batch_reports_the_ids_of_all_its_parts():
    doc = _doc()
    seen = []
    doc.observers.append(seen.append)
    batch = Batch([SetState([0, 3], ItemState.ACCEPTED), SetNote(1, "edge"),
                   SetClass([2], 0)], "three parts")
    assert doc.execute(batch)
    assert doc.undo() == frozenset({0, 1, 2, 3})
    assert doc.redo() == frozenset({0, 1, 2, 3})
    assert seen == [frozenset({0, 1, 2, 3})] * 3
    # a later part that changes nothing does not hide what the earlier parts changed
    assert doc.execute(Batch([SetNote(1, "again"), SetState([0], ItemState.ACCEPTED)], "x"))
    assert doc.undo() == frozenset({1}) and doc[1].note == "edge"
