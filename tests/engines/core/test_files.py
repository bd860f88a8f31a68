"""Crash-safe writes and data fingerprints (engines/core/files.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.files import HEAD_TAIL_BYTES, Fingerprint, atomic_write_bytes, fingerprint

MIB = HEAD_TAIL_BYTES


def test_atomic_write_creates_folders_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "a" / "b" / "out.json"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second, longer")  # the folder exists now
    assert path.read_bytes() == b"second, longer"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.json"]


def test_the_temporary_file_sits_beside_the_target_and_is_synced_before_the_rename(
        tmp_path, monkeypatch):
    calls = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst):
        calls.append(("replace", Path(src), Path(src).read_bytes()))
        real_replace(src, dst)

    def fsync(fd):
        calls.append(("fsync", os.fstat(fd).st_mode & 0o170000 == 0o040000))
        real_fsync(fd)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "m.safetensors"
    atomic_write_bytes(target, b"\x00weights")
    kinds = [c[0] for c in calls]
    assert kinds == ["fsync", "replace", "fsync"]
    assert calls[0][1] is False and calls[2][1] is True  # the file first, then its folder
    source = calls[1][1]
    assert source.parent == tmp_path and source.name.startswith(".m.safetensors.")
    assert source.name.endswith(".tmp") and calls[1][2] == b"\x00weights"


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    target = tmp_path / "review.json"
    target.write_bytes(b"old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["review.json"]


def _expected_file_digest(data: bytes) -> str:
    hasher = hashlib.sha256(len(data).to_bytes(8, "little"))
    hasher.update(data[:MIB])
    if len(data) > MIB:
        hasher.update(data[max(MIB, len(data) - MIB):])
    return hasher.hexdigest()


@pytest.mark.parametrize("size", [1, MIB, MIB + 1, MIB + MIB // 2, 2 * MIB + 3])
def test_a_file_is_hashed_by_its_size_and_both_ends(tmp_path, size):
    data = np.random.default_rng(size).integers(0, 256, size, np.uint8).tobytes()
    path = tmp_path / "scan.raw"
    path.write_bytes(data)
    found = fingerprint(path)
    assert (found.name, found.kind, found.size) == ("scan.raw", "file", size)
    assert found.digest == _expected_file_digest(data)


def test_only_the_ends_of_a_large_file_count(tmp_path):
    data = bytearray(np.random.default_rng(1).integers(0, 256, 3 * MIB, np.uint8).tobytes())
    path = tmp_path / "big.tif"
    path.write_bytes(bytes(data))
    before = fingerprint(path)
    data[MIB + 10] ^= 0xFF  # the unread middle
    path.write_bytes(bytes(data))
    assert fingerprint(path).matches(before)
    data[-1] ^= 0xFF  # the tail
    path.write_bytes(bytes(data))
    assert not fingerprint(path).matches(before)


def test_a_folder_is_hashed_by_sorted_relative_names_and_sizes(tmp_path):
    folder = tmp_path / "series"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.dcm").write_bytes(b"12345")
    (folder / "sub" / "a.dcm").write_bytes(b"12")
    found = fingerprint(folder)
    expected = hashlib.sha256(b"b.dcm\x005\nsub/a.dcm\x002\n").hexdigest()
    assert (found.name, found.kind, found.size, found.digest) == ("series", "folder", 7, expected)
    (folder / "b.dcm").write_bytes(b"54321")  # same names and sizes: the same folder
    assert fingerprint(folder).matches(found)
    (folder / "sub" / "a.dcm").write_bytes(b"123")
    assert not fingerprint(folder).matches(found)


def test_a_missing_path_is_an_input_error_naming_it(tmp_path):
    with pytest.raises(InputError, match=r"^gone\.mhd: cannot be read \(No such file or "
                                         r"directory\)$"):
        fingerprint(tmp_path / "gone.mhd")


def test_matches_ignores_the_name_only():
    one = Fingerprint("a.tif", "file", 10, "0" * 64)
    assert one.matches(Fingerprint("renamed.tif", "file", 10, "0" * 64))
    for other in (Fingerprint("a.tif", "folder", 10, "0" * 64),
                  Fingerprint("a.tif", "file", 11, "0" * 64),
                  Fingerprint("a.tif", "file", 10, "1" * 64)):
        assert not one.matches(other)


def test_json_round_trip_and_every_malformed_field():
    good = Fingerprint("a.tif", "folder", 0, "f" * 64)
    assert Fingerprint.from_json(good.to_json()) == good
    assert good.to_json() == {"name": "a.tif", "kind": "folder", "size": 0, "digest": "f" * 64}
    with pytest.raises(ValueError, match="^source: expected an object$"):
        Fingerprint.from_json(["a.tif"])
    for change in ({"name": 3}, {"kind": "link"}, {"size": -1}, {"size": True},
                   {"size": 1.0}, {"digest": "f" * 63}, {"digest": None}, {"name": None}):
        with pytest.raises(ValueError, match=r"^source: expected name, kind \(file/folder\), "
                                             r"size and a sha256 digest$"):
            Fingerprint.from_json({**good.to_json(), **change})
