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
