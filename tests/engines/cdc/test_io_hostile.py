"""Damaged, foreign and malicious inputs must end in one InputError naming the file."""

import h5py
import numpy as np
import pytest
import uproot

from engines.cdc.hdf5_io import write_events
from engines.cdc.io import detect_format, read_events, summarize
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def good_file(tmp_path_factory):
    events = drive(generate_events(4, occupancy=0.2, seed=1))
    return write_events(tmp_path_factory.mktemp("h5") / "good.h5", events)


def _copy(good_file, tmp_path, name="bad.h5"):
    path = tmp_path / name
    path.write_bytes(good_file.read_bytes())
    return path


def _fails(path, match=None):
    """Every entry point refuses the file with an InputError naming it."""
    for call in (lambda: read_events(path, lazy=False), lambda: summarize(path)):
        with pytest.raises(InputError) as info:
            call()
        assert path.name in str(info.value)
        if match:
            assert match in str(info.value)


def test_missing_file_directory_and_text(tmp_path):
    _fails(tmp_path / "nope.h5", "no such file")
    with pytest.raises(InputError, match="not a file"):
        read_events(tmp_path)
    text = tmp_path / "notes.h5"
    text.write_text("event,cell\n1,2\n")
    _fails(text, "neither an HDF5 nor a ROOT file")
    empty = tmp_path / "empty.root"
    empty.write_bytes(b"")
    _fails(empty)


def test_hdf5_of_another_schema(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5["images"] = np.zeros((4, 4))
    _fails(path, "another kind")
    assert detect_format(path) == "hdf5"


def test_newer_version_and_missing_dataset(good_file, tmp_path):
    path = _copy(good_file, tmp_path)
    with h5py.File(path, "r+") as h5:
        h5.attrs["version"] = 99
    _fails(path, "version")
    path = _copy(good_file, tmp_path, "missing.h5")
    with h5py.File(path, "r+") as h5:
        del h5["hits/adc"]
    _fails(path, "/hits/adc")


def test_truncated_file(good_file, tmp_path):
    data = good_file.read_bytes()
    for keep in (16, len(data) // 3, len(data) - 2000):
        path = tmp_path / f"cut{keep}.h5"
        path.write_bytes(data[:keep])
        _fails(path)


def test_offsets_out_of_range(good_file, tmp_path):
    path = _copy(good_file, tmp_path)
    with h5py.File(path, "r+") as h5:
        h5["events/hit_offset"][2] = h5["hits/cell"].shape[0] - 1
    _fails(path, "outside")
    path = _copy(good_file, tmp_path, "negative.h5")
    with h5py.File(path, "r+") as h5:
        h5["events/hit_count"][0] = -5
    _fails(path, "hit_count")


def test_cell_ids_out_of_range(good_file, tmp_path):
    path = _copy(good_file, tmp_path)
    with h5py.File(path, "r+") as h5:
        h5["hits/cell"][10] = 5000
    _fails(path, "cell ids outside")
    lazy = read_events(path, lazy=True)  # the index is fine; the bad event fails on access
    with pytest.raises(InputError, match="bad.h5"):
        lazy[0]


def test_mismatched_lengths_and_shapes(good_file, tmp_path):
    path = _copy(good_file, tmp_path)
    with h5py.File(path, "r+") as h5:
        h5["hits/adc"].resize((h5["hits/adc"].shape[0] - 3,))
    _fails(path, "different lengths")
    path = _copy(good_file, tmp_path, "events.h5")
    with h5py.File(path, "r+") as h5:
        h5["events/trigger_counter"].resize((2,))
    _fails(path, "different lengths")
    path = _copy(good_file, tmp_path, "shape.h5")
    with h5py.File(path, "r+") as h5:
        del h5["hits/time_ns"]
        h5["hits/time_ns"] = np.zeros((3, 3), np.float32)
    _fails(path, "1-D numeric")


def test_nan_values_and_bad_trigger(good_file, tmp_path):
    path = _copy(good_file, tmp_path)
    with h5py.File(path, "r+") as h5:
        h5["hits/time_ns"][0] = np.nan
    _fails(path, "NaN")
    path = _copy(good_file, tmp_path, "counter.h5")
    with h5py.File(path, "r+") as h5:
        h5["events/trigger_counter"][1] = 500
    _fails(path, "trigger_counter")


def test_root_without_hit_tree_or_branches(tmp_path):
    path = tmp_path / "foreign.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"pt": np.float64}).extend({"pt": np.ones(3)})
    _fails(path, "no CDCHitTree")
    path = tmp_path / "partial.root"
    with uproot.recreate(path) as file:
        data = {"CDCHit.fChannel": np.arange(3, dtype=np.int32),
                "CDCHit.fEventNumber": np.zeros(3, np.int32)}
        file.mktree("CDCHitTree", {k: v.dtype for k, v in data.items()}).extend(data)
    _fails(path, "CDCHit.fDetectedTime")


def test_root_channels_out_of_range_and_nan(tmp_path):
    def write(name, channel, time_ns):
        data = {"CDCHit.fChannel": np.asarray(channel, np.int32),
                "CDCHit.fDetectedTime": np.asarray(time_ns, np.float64),
                "CDCHit.fCharge": np.ones(len(channel)),
                "CDCHit.fEventNumber": np.zeros(len(channel), np.int32)}
        with uproot.recreate(tmp_path / name) as file:
            file.mktree("CDCHitTree", {k: v.dtype for k, v in data.items()}).extend(data)
        return tmp_path / name

    _fails(write("high.root", [1, 4482], [1.0, 2.0]), "fChannel outside")
    _fails(write("low.root", [-1, 3], [1.0, 2.0]), "fChannel outside")
    _fails(write("nan.root", [1, 3], [np.nan, 2.0]), "NaN")


def test_root_magic_with_garbage_and_rntuple(tmp_path):
    path = tmp_path / "garbage.root"
    path.write_bytes(b"root" + bytes(range(256)) * 8)
    _fails(path, "not a readable ROOT file")
    path = tmp_path / "ntuple.root"
    with uproot.recreate(path) as file:
        file["CDCHitTree"] = {"fChannel": np.arange(3, dtype=np.int32)}  # an RNTuple
    _fails(path, "not a TTree")
