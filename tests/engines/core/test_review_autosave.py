"""Autosave: sidecars are written after every edit, restored for the same data only, set
aside (never overwritten) when unreadable or foreign, and survive SIGKILL at any moment."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engines.core.autosave import (
    SCHEMA_VERSION,
    RestoreStatus,
    open_review,
    read_sidecar,
    sidecar_path,
)
from engines.core.errors import InputError
from engines.core.files import HEAD_TAIL_BYTES, atomic_write_bytes, fingerprint
from engines.core.review import ItemState, ReviewItem
from engines.core.review_commands import SetClass, SetNote, decide

ROOT = Path(__file__).resolve().parents[3]
CLASSES = ["ferrite", "martensite", "bainite"]


def _items(n=20):
    return [ReviewItem(i, i % 3, score=(i * 37 % 100) / 100, mask_id=i + 1,
                       extras={"area_px": 5 * i}) for i in range(n)]


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "micrograph.tif"
    path.write_bytes(os.urandom(4096))
    return path


def test_fresh_review_writes_its_sidecar_at_the_first_edit_and_restores_it(image):
    result = open_review(image, CLASSES, _items(), kind="sem", meta={"model": "demo"})
    assert result.status is RestoreStatus.FRESH and result.warning is None
    doc = result.document
    sidecar = sidecar_path(image)
    assert sidecar.name == "micrograph.tif.review.json" and not sidecar.exists()
    assert "no edits yet" in doc.autosave.status
    doc.execute(decide([3], label=2, state=ItemState.ACCEPTED))
    doc.execute(SetNote(5, "check the etching"))
    assert doc.autosave.writes == 2 and re.fullmatch(r"saved \d\d:\d\d:\d\d", doc.autosave.status)
    head = json.loads(sidecar.read_text())
    assert head["schema_version"] == SCHEMA_VERSION and head["source"]["size"] == 4096
    assert len(head["source"]["digest"]) == 64 and head["kind"] == "sem"
    again = open_review(image, CLASSES, [], kind="sem")
    assert again.status is RestoreStatus.RESTORED and "1 / 20 reviewed" in again.message
    restored = again.document
    assert list(restored) == list(doc) and restored.meta == {"model": "demo"}
    assert restored.next_id == doc.next_id and restored.autosave.path == sidecar
    restored.execute(SetClass([0], 1))  # the restored document autosaves too
    assert read_sidecar(sidecar).document[0].label == 1


def test_undo_and_redo_autosave(image):
    doc = open_review(image, CLASSES, _items(), kind="sem").document
    doc.execute(decide([1], state=ItemState.REJECTED))
    doc.undo()
    assert not read_sidecar(sidecar_path(image)).document[1].reviewed
    doc.redo()
    assert read_sidecar(sidecar_path(image)).document[1].state is ItemState.REJECTED


@pytest.mark.parametrize("content, reason", [
    (b'{"format": "lablens-review", "schema_version": 1, "items": [', "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"[1, 2, 3]", "not a lablens-review file"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),  # a RecursionError escaped before
    (b'{"format": ' + b"9" * 5000 + b"}", "not valid JSON"),  # past the int digit limit
    (None, "state has the wrong type"),  # an unhashable state raised TypeError
    (None, "schema version 99"),
    (None, "label has the wrong type"),
    (None, "appears twice"),
    (None, "not one of the 3 classes"),
])
def test_a_corrupt_sidecar_is_set_aside_and_reported(image, content, reason):
    doc = open_review(image, CLASSES, _items(), kind="sem").document
    doc.execute(SetNote(0, "first"))
    sidecar = sidecar_path(image)
    if content is None:
        data = json.loads(sidecar.read_text())
        if "99" in reason:
            data["schema_version"] = 99
        elif "label" in reason:
            data["items"][2]["label"] = "2"
        elif "state" in reason:
            data["items"][0]["state"] = {"proposed": 1}
        elif "twice" in reason:
            data["items"][1]["id"] = 0
        else:
            data["items"][2]["label"] = 3
        content = json.dumps(data).encode()
    sidecar.write_bytes(content)
    result = open_review(image, CLASSES, _items(5), kind="sem")
    assert result.status is RestoreStatus.CORRUPT and reason in result.warning
    assert re.fullmatch(r"micrograph\.tif\.review\.json\.corrupt-\d{8}T\d{6}", result.kept_as.name)
    assert result.kept_as.read_bytes() == content and not sidecar.exists()
    assert len(result.document) == 5 and result.kept_as.name in result.message
    result.document.execute(SetNote(1, "new"))  # the new review has its own sidecar
    assert read_sidecar(sidecar).document[1].note == "new"
    assert result.kept_as.read_bytes() == content
    # a second corrupt sidecar within the same second does not overwrite the first
    sidecar.write_bytes(b"{")
    second = open_review(image, CLASSES, [], kind="sem")
    assert second.kept_as != result.kept_as and result.kept_as.exists()


def test_a_sidecar_of_other_data_is_kept_not_applied(image, tmp_path):
    doc = open_review(image, CLASSES, _items(), kind="sem").document
    doc.execute(SetNote(0, "mine"))
    saved = sidecar_path(image).read_bytes()
    image.write_bytes(os.urandom(4096))  # same name and size, other pixels
    result = open_review(image, CLASSES, _items(3), kind="sem")
    assert result.status is RestoreStatus.OTHER_SOURCE and "another file" in result.warning
    assert result.kept_as.read_bytes() == saved and ".other-" in result.kept_as.name
    assert len(result.document) == 3 and result.document[0].note == ""


def test_a_sidecar_of_another_workspace_is_not_applied(image):
    open_review(image, CLASSES, _items(), kind="sem").document.execute(SetNote(0, "x"))
    result = open_review(image, ["nodule"], [], kind="nodules")
    assert result.status is RestoreStatus.OTHER_SOURCE and "'sem' workspace" in result.message


def test_explicit_sidecar_path_and_missing_source(image, tmp_path):
    elsewhere = tmp_path / "reviews" / "mine.json"
    doc = open_review(image, CLASSES, _items(), kind="sem", sidecar=elsewhere).document
    doc.execute(SetNote(0, "x"))
    assert elsewhere.is_file() and not sidecar_path(image).exists()
    with pytest.raises(InputError, match="absent.tif"):
        open_review(tmp_path / "absent.tif", CLASSES, [], kind="sem")


def test_a_failing_autosave_is_reported_and_keeps_the_edit(image):
    doc = open_review(image, CLASSES, _items(), kind="sem").document
    sidecar_path(image).mkdir()  # a folder where the file should go: the write fails
    assert doc.execute(SetNote(0, "kept in memory"))
    assert doc[0].note == "kept in memory" and "failed" in doc.autosave.status
    sidecar_path(image).rmdir()
    doc.execute(SetNote(1, "again"))
    assert doc.autosave.status.startswith("saved")


def test_fingerprint_of_a_large_file_reads_both_ends_only(tmp_path):
    path = tmp_path / "big.raw"
    data = bytearray(os.urandom(3 * HEAD_TAIL_BYTES))
    path.write_bytes(data)
    first = fingerprint(path)
    data[HEAD_TAIL_BYTES + 10] ^= 0xFF  # the middle is not read (fast for huge images)
    path.write_bytes(data)
    assert fingerprint(path).matches(first)
    for offset in (5, len(data) - 5):
        changed = bytearray(data)
        changed[offset] ^= 0xFF
        path.write_bytes(changed)
        assert not fingerprint(path).matches(first)
    path.write_bytes(data + b"\0")
    assert not fingerprint(path).matches(first)


def test_fingerprint_of_a_series_folder_uses_names_and_sizes(tmp_path):
    series = tmp_path / "series"
    series.mkdir()
    for i in range(3):
        (series / f"IM{i:04d}.dcm").write_bytes(b"x" * (100 + i))
    first = fingerprint(series)
    assert first.kind == "folder" and first.size == 303
    assert sidecar_path(series) == tmp_path / "series.review.json"
    (series / "IM0003.dcm").write_bytes(b"y")
    assert not fingerprint(series).matches(first)


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "out.json"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(path, b"two")
    assert path.read_bytes() == b"two" and sorted(os.listdir(path.parent)) == ["out.json"]


def test_opening_removes_temporaries_a_killed_writer_left(image):
    old = image.with_name(f".{sidecar_path(image).name}.abc123.tmp")
    recent = image.with_name(f".{sidecar_path(image).name}.def456.tmp")
    for path in (old, recent):
        path.write_bytes(b"{half a sidec")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    open_review(image, CLASSES, [], kind="sem")
    assert not old.exists() and recent.exists()  # a recent one may be a write in progress


CHILD = """
import sys
from engines.core.autosave import open_review
from engines.core.review import ReviewItem
from engines.core.review_commands import SetNote

n = int(sys.argv[2])
items = [ReviewItem(i, i % 3, score=i / n, mask_id=i + 1, extras={"area_px": i}) for i in range(n)]
document = open_review(sys.argv[1], ["a", "b", "c"], items, kind="sem").document
print("ready", flush=True)
for k in range(n):
    document.execute(SetNote(k, f"edit {k}"))
    print(k, flush=True)  # execute() has returned: edit k is autosaved
"""


def test_sidecar_survives_sigkill_at_random_moments(tmp_path):
    rng = random.Random(20261201)
    n_items = 3000
    for run in range(4):
        source = tmp_path / f"run{run}.tif"
        source.write_bytes(os.urandom(10_000))
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(source), str(n_items)],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert child.stdout.readline().strip() == "ready"
            acked = -1
            for _ in range(rng.randrange(1, 150)):
                acked = int(child.stdout.readline())
            time.sleep(rng.uniform(0, 0.004))
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
            acked = max([acked, *map(int, child.stdout.read().split())])
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL, "the child finished before the kill"
        result = open_review(source, ["a", "b", "c"], [], kind="sem")
        assert result.status is RestoreStatus.RESTORED, result.message
        noted = [item.id for item in result.document if item.note]
        assert noted == list(range(len(noted)))  # edits land in order, none is lost
        assert acked <= len(noted) - 1 <= acked + 1
        assert all(result.document[i].note == f"edit {i}" for i in noted)
        assert len(result.document) == n_items
