"""The global-heap walk that keeps libhdf5 from spinning on a damaged string attribute."""

from __future__ import annotations

import struct

import h5py
import numpy as np
import pytest

from engines.core.errors import InputError
from engines.core.hdf5_guard import SIGNATURE, check_global_heaps


def _file_with_strings(path, text="lablens-cdc-events"):
    with h5py.File(path, "w") as h5:
        h5.attrs["format"] = text
        h5.attrs["content"] = "events"
        h5["data"] = np.frombuffer(SIGNATURE + b"\x01\x00\x00\x00" + bytes(8), np.uint8)
    return path


def _free_space_entry(data: bytes) -> int:
    """Offset of the free-space entry of the file's one real collection."""
    start = data.find(SIGNATURE + b"\x01\x00\x00\x00")
    while struct.unpack_from("<Q", data, start + 8)[0] < 4096:  # the decoy in the dataset
        start = data.find(SIGNATURE + b"\x01\x00\x00\x00", start + 1)
    at = start + 16
    while struct.unpack_from("<H", data, at)[0] != 0:
        at += 16 + (struct.unpack_from("<Q", data, at + 8)[0] + 7) // 8 * 8
    return at


def test_a_valid_file_and_a_decoy_signature_in_data_pass(tmp_path):
    path = _file_with_strings(tmp_path / "ok.h5")
    check_global_heaps(path)
    with h5py.File(path) as h5:
        assert h5.attrs["format"] == "lablens-cdc-events"


@pytest.mark.parametrize("size", [0, 9])
def test_a_free_space_entry_smaller_than_a_header_is_refused(tmp_path, size):
    """Size 0 (zeroed bytes, fuzz hdf5 case 3760) made libhdf5 loop for ever in C code."""
    path = _file_with_strings(tmp_path / "zeroed.h5")
    data = bytearray(path.read_bytes())
    at = _free_space_entry(bytes(data))
    data[at + 8:at + 16] = struct.pack("<Q", size)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=rf"^zeroed\.h5: damaged global heap at byte "
                                         rf"[\d,]+: a free-space entry of {size} bytes"):
        check_global_heaps(path)


def test_the_event_reader_refuses_it_before_h5py_reads_the_attribute(tmp_path):
    from engines.cdc.hdf5_io import read_hdf5

    path = _file_with_strings(tmp_path / "events.h5")
    data = bytearray(path.read_bytes())
    at = _free_space_entry(bytes(data))
    data[at:at + 16] = bytes(16)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^events\.h5: damaged global heap"):
        read_hdf5(path)


def _collection(objects, free_size, length=4096, version=1, reserved=b"\0\0\0"):
    """A global heap collection: used objects ``(index, data size)``, then the free space."""
    parts = [SIGNATURE + bytes([version]) + reserved + struct.pack("<Q", length)]
    for index, size in objects:
        parts.append(struct.pack("<HHIQ", index, 1, 0, size) + b"s" * ((size + 7) // 8 * 8))
    parts.append(struct.pack("<HHIQ", 0, 0, 0, free_size))
    out = b"".join(parts)
    return out + bytes(max(length - len(out), 0))


def _check(tmp_path, data, name="heap.h5"):
    path = tmp_path / name
    path.write_bytes(data)
    check_global_heaps(path)


def _refusal(tmp_path, data):
    with pytest.raises(InputError) as info:
        _check(tmp_path, data)
    return str(info.value)


def test_used_objects_advance_by_header_and_aligned_size(tmp_path):
    # objects of 5, 8 and 0 data bytes take 8, 8 and 0 bytes after their 16-byte headers
    heap = _collection([(1, 5), (2, 8), (3, 0)], free_size=0)
    free = 16 + 24 + 24 + 16
    assert heap[free:free + 2] == b"\0\0"
    assert _refusal(tmp_path, bytes(1024) + heap) == (
        "heap.h5: damaged global heap at byte 1,024: a free-space entry of 0 bytes (its "
        "strings cannot be read)")
    assert "entry of 15 bytes" in _refusal(tmp_path, _collection([(1, 3)], free_size=15))
    # free space of a header's worth is fine (here it ends the collection)
    _check(tmp_path, _collection([(1, 4096 - 48)], free_size=16))
    _check(tmp_path, _collection([(1, 5), (2, 8)], free_size=4096 - 16 - 48))


def test_only_real_collection_headers_are_walked(tmp_path):
    _check(tmp_path, b"")
    _check(tmp_path, SIGNATURE + b"\x01\0\0\0" + bytes(7))  # 15 bytes: no room for a header
    for heap in (_collection([], 0, version=2), _collection([], 0, reserved=b"\0\x01\0"),
                 _collection([], 0, length=4095)):
        _check(tmp_path, heap)
    # a collection longer than the file is not one; one that ends exactly at the end is
    _check(tmp_path, _collection([], 0, length=8192)[:8191])
    assert "free-space entry of 0" in _refusal(tmp_path, _collection([], 0, length=4096))
    # the walk stops where the next object header would pass the collection's end
    short = _collection([(1, 4096 - 16 - 16 - 8)], free_size=0)[:4096] + b"tail"
    _check(tmp_path, short)
    # a header that ends exactly at the collection's end is read
    assert "entry of 0 bytes" in _refusal(tmp_path, _collection([(1, 4096 - 48)], free_size=0))


def test_every_collection_of_a_file_is_walked(tmp_path):
    good = _collection([(1, 20)], free_size=4096 - 16 - 40)
    bad = _collection([(1, 20), (2, 1)], free_size=3)
    message = _refusal(tmp_path, b"GCOL" + good + SIGNATURE + bad)
    assert message.startswith(f"heap.h5: damaged global heap at byte {4 + 4096 + 4:,}: ")
    assert message.endswith("a free-space entry of 3 bytes (its strings cannot be read)")


def test_a_collection_indexes_at_most_65535_objects(tmp_path):
    most = _collection([(1, 0)] * 65_535, free_size=16, length=16 * 65_537)
    _check(tmp_path, most)
    many = _collection([(1, 0)] * 65_536, free_size=16, length=16 * 65_538)
    assert _refusal(tmp_path, many) == ("heap.h5: damaged global heap at byte 0: more than "
                                        "65,535 entries")


def test_a_damaged_collection_between_two_good_ones_is_found(tmp_path):
    good = _collection([(1, 20)], free_size=4096 - 16 - 40)
    bad = _collection([(1, 20)], free_size=0)
    message = _refusal(tmp_path, good + bad + good)
    assert message.startswith("heap.h5: damaged global heap at byte 4,096: ")


def test_a_header_cut_by_the_end_of_the_file_is_not_read(tmp_path):
    _check(tmp_path, bytes(100) + SIGNATURE + b"\x01\0\0\0" + bytes(4))


def test_sizes_are_unsigned_as_libhdf5_reads_them(tmp_path):
    # a free space or an object of 2**63 bytes and more runs past the end: the walk stops there
    _check(tmp_path, _collection([(1, 20)], free_size=2**64 - 1))
    heap = bytearray(_collection([(1, 8)], free_size=0))
    heap[16 + 8:16 + 16] = struct.pack("<Q", 2**63)  # the object's size
    _check(tmp_path, bytes(heap))


def test_free_space_advances_by_its_size_alone(tmp_path):
    """libhdf5 steps over a free-space entry by its size (header included), a used object by
    its header plus its aligned size."""
    head = SIGNATURE + b"\x01\0\0\0" + struct.pack("<Q", 4096)
    free = struct.pack("<HHIQ", 0, 0, 0, 24) + bytes(8)  # 24 bytes in all
    zeroed = struct.pack("<HHIQ", 0, 0, 0, 0)  # where the walk lands: refused
    rest = 4096 - len(head) - len(free) - len(zeroed) - 16
    used = struct.pack("<HHIQ", 1, 1, 0, rest) + bytes(rest)  # what a 40-byte step would read
    heap = head + free + zeroed + used
    assert len(heap) == 4096
    assert "free-space entry of 0 bytes" in _refusal(tmp_path, heap)
