"""Autosave sidecars field by field: the strict item and header checks with their exact
messages, the written bytes, the per-item cache, write failures, set-aside names and the
restore messages (the crash tests are in test_review_autosave.py)."""

import errno
import json
import os
import re
from datetime import datetime

import pytest

import engines.core.autosave as autosave
from engines.core.autosave import (
    Autosaver,
    RestoreStatus,
    SidecarError,
    item_from_json,
    item_to_json,
    open_review,
    parse_sidecar,
    read_sidecar,
    sidecar_path,
)
from engines.core.files import fingerprint
from engines.core.review import ItemState, ReviewDocument, ReviewItem
from engines.core.review_commands import DeleteItems, SetNote, decide

CLASSES = ["ferrite", "martensite", "bainite"]


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "micrograph.tif"
    path.write_bytes(b"\x49\x49\x2a\x00" + bytes(range(256)) * 8)
    return path


def _items(n=4):
    return [ReviewItem(i, i % 3, score=(i + 1) / 10, mask_id=i + 7) for i in range(n)]


def _head(**changes):
    """A valid sidecar (as a dict) of one item, with ``changes`` applied (None deletes)."""
    head = {"format": "lablens-review", "schema_version": 1, "kind": "sem",
            "source": {"kind": "file", "name": "x.tif", "size": 3, "digest": "0" * 64},
            "saved_at": "2026-12-01T10:15:00+00:00", "class_names": ["a", "b"],
            "next_id": 50, "meta": {}, "items": [{"id": 4, "label": 1, "state": "accepted"}]}
    for key, value in changes.items():
        if value is None:
            del head[key]
        else:
            head[key] = value
    return head


def _parse_error(**changes):
    with pytest.raises(SidecarError) as info:
        parse_sidecar(json.dumps(_head(**changes)).encode())
    return str(info.value)


def test_sidecar_names_keep_the_source_name_whole():
    assert sidecar_path("scans/IMX") == sidecar_path("scans/IMX").parent / "IMX.review.json"
    assert sidecar_path("scans/notes ").name == "notes .review.json"
    assert sidecar_path("scans/series/").name == "series.review.json"


def test_every_field_round_trips_through_json_as_lists_not_tuples():
    item = ReviewItem(3, 1, state="uncertain", reviewed=True, score=0.25, mask_id=4,
                      box=(0, 1, 2, 3, 4, 5), world_xyz=(-1.5, 2, 3), size_mm=(1, 1, 2),
                      extras={"s": "x", "none": None, "flag": False, "n": 2, "f": 1.5},
                      note="edge")
    data = item_to_json(item)
    assert data == json.loads(json.dumps(data))  # tuples would compare unequal to lists
    assert data["box"] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and data["world_xyz"] == [-1.5, 2, 3]
    assert item_from_json(data) == item
    assert item_to_json(ReviewItem(0, 2)) == {"id": 0, "label": 2, "state": "proposed"}


@pytest.mark.parametrize("data, message", [
    ([1], "an item is not a JSON object"),
    ({"label": 0, "state": "proposed"}, "an item lacks its id, label or state"),
    ({"id": 4, "state": "proposed"}, "an item lacks its id, label or state"),
    ({"id": 4, "label": 0}, "an item lacks its id, label or state"),
    ({"id": 4, "label": 0, "state": "proposed", "colour": "red"},
     "item 4: unknown field 'colour'"),
    ({"id": 4, "label": 0, "state": "proposed", "score": True},
     "item 4: score has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "box": [0, 0, 0, 1, 1]},
     "item 4: box has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "box": {"z0": 0}},
     "item 4: box has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "box": [0, 0, 0, 1, 1, "2"]},
     "item 4: box has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "world_xyz": [0, 1, True]},
     "item 4: world_xyz has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "size_mm": [1, 2]},
     "item 4: size_mm has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "extras": [1]},
     "item 4: extras has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "extras": {"a": 1, "b": [1]}},
     "item 4: extras has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "extras": {"a": {"b": 1}}},
     "item 4: extras has the wrong type or value"),
    ({"id": 4, "label": 0, "state": "proposed", "box": [5, 0, 0, 4, 1, 1]},
     "item 4: box needs z0, y0, x0, z1, y1, x1 with each start <= its end, got "
     "(5.0, 0.0, 0.0, 4.0, 1.0, 1.0)"),
])
def test_items_are_checked_strictly_with_exact_messages(data, message):
    with pytest.raises(SidecarError) as info:
        item_from_json(data)
    assert str(info.value) == message


def test_valid_geometry_and_extras_are_accepted():
    item = item_from_json({"id": 4, "label": 0, "state": "proposed", "box": [0, 0, 0, 1, 2, 3],
                           "world_xyz": [1.5, -2, 0], "size_mm": [0, 1, 2],
                           "extras": {"a": None, "b": "text", "c": True, "d": -3}})
    assert item.box == (0, 0, 0, 1, 2, 3) and item.world_xyz == (1.5, -2, 0)
    assert dict(item.extras) == {"a": None, "b": "text", "c": True, "d": -3}


@pytest.mark.parametrize("changes, message", [
    ({"class_names": []}, "class_names must be a non-empty list of strings"),
    ({"class_names": "ab"}, "class_names must be a non-empty list of strings"),
    ({"class_names": ["a", 2]}, "class_names must be a non-empty list of strings"),
    ({"items": {"0": {}}}, "items must be a list and next_id an integer"),
    ({"next_id": "50"}, "items must be a list and next_id an integer"),
    ({"kind": 5}, "kind, meta and saved_at have the wrong types"),
    ({"meta": []}, "kind, meta and saved_at have the wrong types"),
    ({"saved_at": None}, "kind, meta and saved_at have the wrong types"),
    ({"schema_version": "1"}, "schema version '1'; this LabLens reads 1"),
])
def test_the_header_is_checked_with_exact_messages(changes, message):
    assert _parse_error(**changes) == message


def test_a_parsed_sidecar_keeps_its_next_id_and_saved_at():
    sidecar = parse_sidecar(json.dumps(_head()).encode())
    assert sidecar.saved_at == "2026-12-01T10:15:00+00:00"
    assert sidecar.document.next_id == 50 and sidecar.document.class_names == ("a", "b")
    assert sidecar.document[4].state is ItemState.ACCEPTED


def test_read_and_parse_errors_lose_the_file_name_prefix(tmp_path):
    with pytest.raises(SidecarError) as info:
        parse_sidecar(b"{", "mine.json")
    assert str(info.value).startswith("not valid JSON (Expecting property name")
    with pytest.raises(SidecarError) as info:
        parse_sidecar(b"{")
    assert str(info.value).startswith("not valid JSON (Expecting property name")
    with pytest.raises(SidecarError) as info:
        read_sidecar(tmp_path)
    assert str(info.value) == "is a folder, not a file"
    bad = tmp_path / "bad.review.json"
    bad.write_bytes(b'{"format": "other"}')
    with pytest.raises(SidecarError) as info:
        read_sidecar(bad)
    assert str(info.value) == "not a lablens-review file"


def test_the_written_sidecar_has_one_compact_line_per_item(image):
    result = open_review(image, CLASSES, _items(3), kind="sem", meta={"model": "demo"})
    assert result.message == "" and result.document.autosave.last_error is None
    result.document.execute(SetNote(1, "here"))
    lines = sidecar_path(image).read_text().splitlines()
    assert lines[1:] == ['{"id":0,"label":0,"state":"proposed","score":0.1,"mask_id":7},',
                         '{"id":1,"label":1,"state":"proposed","score":0.2,"mask_id":8,'
                         '"note":"here"},',
                         '{"id":2,"label":2,"state":"proposed","score":0.3,"mask_id":9}',
                         "]}"]
    assert lines[0].startswith('{"format": "lablens-review", "schema_version": 1, "kind": '
                               '"sem", "source": {') and lines[0].endswith('"items": [')


def test_only_changed_items_are_encoded_again(image, monkeypatch):
    calls = []
    real = autosave.item_to_json
    monkeypatch.setattr(autosave, "item_to_json", lambda item: calls.append(item.id) or
                        real(item))
    doc = open_review(image, CLASSES, _items(4), kind="sem").document
    doc.execute(SetNote(2, "a"))
    assert sorted(calls) == [0, 1, 2, 3]
    doc.execute(SetNote(1, "b"))
    doc.execute(SetNote(1, "c"))
    assert sorted(calls[4:]) == [1, 1]
    doc.execute(DeleteItems([0, 3]))  # deleted items leave the cache and the file
    doc.execute(SetNote(2, "d"))
    assert sorted(calls[6:]) == [2]
    assert [item.id for item in read_sidecar(sidecar_path(image)).document] == [1, 2]


def test_write_failures_are_kept_and_cleared(image, tmp_path):
    doc = ReviewDocument(CLASSES, _items(2), kind="sem")
    doc.meta["threshold"] = float("nan")  # meta is checked when the document is made, not later
    saver = Autosaver(sidecar_path(image), fingerprint(image))
    assert saver.last_error is None and saver.save(doc) is False
    assert saver.last_error.startswith("autosave to micrograph.tif.review.json failed: Out of "
                                       "range float values are not JSON compliant")
    assert not sidecar_path(image).exists() and saver.writes == 0
    doc.meta = {"threshold": 0.5}
    assert saver.save(doc) is True and saver.last_error is None and saver.writes == 1
    blocked = Autosaver(tmp_path, fingerprint(image))  # the path is a folder
    assert blocked.save(doc) is False
    assert re.fullmatch(rf"autosave to {tmp_path.name} failed: [A-Z][a-z ]+", blocked.last_error)
    assert blocked.status == blocked.last_error


class _FixedClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 12, 1, 10, 15, 0)


def test_sidecars_set_aside_in_one_second_are_numbered(image, monkeypatch):
    monkeypatch.setattr(autosave, "datetime", _FixedClock)
    kept = []
    for _ in range(4):
        sidecar_path(image).write_bytes(b"{")
        kept.append(open_review(image, CLASSES, [], kind="sem").kept_as.name)
    stamp = "micrograph.tif.review.json.corrupt-20261201T101500"
    assert kept == [stamp, stamp + "-1", stamp + "-2", stamp + "-3"]


def test_a_temporary_exactly_a_minute_old_is_kept(image, monkeypatch):
    now = 1_700_000_060.0
    monkeypatch.setattr(autosave.time, "time", lambda: now)
    at_cutoff = image.with_name(f".{sidecar_path(image).name}.aaa.tmp")
    older = image.with_name(f".{sidecar_path(image).name}.bbb.tmp")
    for path, mtime in ((at_cutoff, now - 60.0), (older, now - 60.5)):
        path.write_bytes(b"{")
        os.utime(path, (mtime, mtime))
    open_review(image, CLASSES, [], kind="sem")
    assert at_cutoff.exists() and not older.exists()


def test_restore_messages_name_the_classes_and_the_refusal(image):
    open_review(image, CLASSES, _items(), kind="sem").document.execute(
        decide([1], state=ItemState.ACCEPTED))
    saved_at = read_sidecar(sidecar_path(image)).saved_at
    same = open_review(image, CLASSES, [], kind="sem")
    assert same.message == (f"restored the review of micrograph.tif from "
                            f"micrograph.tif.review.json (saved {saved_at}): "
                            f"{same.document.counts().describe()}")
    other = open_review(image, ["pearlite", "matrix"], [], kind="sem")
    assert other.message == same.message + "; it keeps its classes ferrite, martensite, bainite"
    assert other.document.class_names == tuple(CLASSES)
    seen = []
    refused = open_review(image, CLASSES, _items(2), kind="sem",
                          accept=lambda doc: seen.append(len(doc)) or len(doc) == 2)
    assert seen == [4] and refused.status is RestoreStatus.OTHER_SOURCE
    assert refused.message.startswith("micrograph.tif.review.json belongs to other items "
                                      "(another analysis); kept as micrograph.tif.review.json"
                                      ".other-")
    assert refused.message.endswith(", review started afresh") and len(refused.document) == 2


def test_a_review_opened_without_a_kind_restores_without_one(image):
    first = open_review(image, CLASSES, _items())
    assert first.document.kind == "" and first.status is RestoreStatus.FRESH
    first.document.execute(SetNote(0, "x"))
    again = open_review(image, CLASSES, [])
    assert again.status is RestoreStatus.RESTORED and again.document[0].note == "x"


def test_a_sidecar_that_cannot_be_moved_aside_turns_autosave_off(image, monkeypatch):
    sidecar = sidecar_path(image)
    sidecar.write_bytes(b"[1]")

    def refuse(path, tag):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(autosave, "_set_aside", refuse)
    result = open_review(image, CLASSES, _items(2), kind="sem")
    assert result.status is RestoreStatus.CORRUPT and result.kept_as is None
    assert result.message == ("micrograph.tif.review.json was unreadable (not a lablens-review "
                              "file) and could not be moved aside (Permission denied); edits "
                              "are NOT autosaved")
    assert result.warning == result.message and result.document.autosave is None
    assert result.document.execute(SetNote(0, "only in memory"))
    assert sidecar.read_bytes() == b"[1]"
