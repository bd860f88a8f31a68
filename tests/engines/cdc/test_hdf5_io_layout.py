"""What write_events puts on disk (docs/cdc_hdf5_schema.md) and the reader's edges: mixed
truth, streaming, scattered events, empty reads, exact messages of the rarer refusals."""

import h5py
import numpy as np
import pytest

from engines.cdc.events import Event
from engines.cdc.hdf5_io import (
    EVENT_FIELDS,
    OPTIONAL_HIT_FIELDS,
    Hdf5EventReader,
    read_hdf5,
    read_predictions,
    write_events,
)
from engines.core.errors import InputError
from tests.engines.cdc.test_hdf5_io import _edit, _message, _small


def _mixed():
    """Event 8 carries drift times and Monte-Carlo truth, event 2 has no hits, event 5 has
    neither drift times nor truth."""
    full = Event(8, np.array([0, 4985, 12], np.int32), np.array([1.5, -2.0, 9.0]),
                 np.array([3.0, 4.0, 5.0]), np.array([True, False, True]),
                 np.array([1, -1, 1], np.int32), has_truth=True, trigger_counter=127,
                 trigger_time_ns=-3.25, drift_time_ns=np.array([10.0, np.nan, 30.0]),
                 pid=np.array([11, 2212, 11], np.int32), turn_id=np.array([0, 2, 1], np.int32),
                 momentum_mev=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [np.nan] * 3]))
    empty = Event(2, np.zeros(0, np.int32), np.zeros(0), np.zeros(0))
    bare = Event(5, np.array([7, 6], np.int32), np.array([0.5, 0.25]), np.array([8.0, 9.0]))
    return [full, empty, bare]


def test_written_layout_follows_the_schema(tmp_path):
    path = write_events(tmp_path / "m.h5", _mixed(),
                        scores=[np.array([0.0, 1.0, 0.5]), np.zeros(0), np.array([1.0, 0.0])])
    with h5py.File(path) as h5:
        assert dict(h5.attrs) | {"metadata": None} == {
            "format": "lablens-cdc-events", "version": 1, "content": "predictions",
            "n_events": 3, "n_hits": 5, "n_cells": 4986, "metadata": None}
        expected = {**{f"events/{k}": v for k, v in EVENT_FIELDS.items()},
                    **{f"hits/{k}": v for k, v in {"cell": np.int16, "time_ns": np.float32,
                                                   "adc": np.float32, "is_signal": np.uint8,
                                                   "track_id": np.int32}.items()},
                    **{f"hits/{k}": v for k, v in OPTIONAL_HIT_FIELDS.items()}}
        assert sorted(f"{g}/{k}" for g in ("events", "hits") for k in h5[g]) == sorted(expected)
        for name, dtype in expected.items():
            ds = h5[name]
            assert ds.dtype == dtype, name
            # chunks of 16384 entries, shuffle + gzip level 4 (the schema's portable filters)
            assert (ds.chunks, ds.compression, ds.compression_opts, ds.shuffle) == (
                (16384,), "gzip", 4, True), name
        assert h5["events/hit_offset"][:].tolist() == [0, 3, 3]
        # the bare event's hits: no drift time (NaN), unknown particle 0, turn -1, NaN momentum
        assert np.isnan(h5["hits/drift_time_ns"][3:]).all()
        assert h5["hits/pid"][:].tolist() == [11, 2212, 11, 0, 0]
        assert h5["hits/turn_id"][:].tolist() == [0, 2, 1, -1, -1]
        assert h5["hits/px_mev"][:2].tolist() == [1.0, 4.0] and h5["hits/pz_mev"][1] == 6.0
        assert np.isnan(h5["hits/py_mev"][2:]).all()


def test_mixed_truth_reads_back(tmp_path):
    back = read_hdf5(write_events(tmp_path / "m.h5", _mixed()), lazy=False)
    full, empty, bare = back
    assert full.drift_time_ns.dtype == np.float32 and full.drift_time_ns[0] == 10.0
    assert np.isnan(full.drift_time_ns[1]) and np.isnan(bare.drift_time_ns).all()
    assert full.cell.tolist() == [0, 4985, 12]  # both ends of the cell numbering
    assert full.pid.tolist() == [11, 2212, 11] and bare.turn_id.tolist() == [-1, -1]
    assert full.momentum_mev[1].tolist() == [4.0, 5.0, 6.0]
    assert np.isnan(bare.momentum_mev).all() and bare.pid.tolist() == [0, 0]
    assert (full.trigger_counter, full.trigger_time_ns, full.has_truth) == (127, -3.25, True)
    assert empty.n_hits == 0 and not bare.has_truth


def test_any_iterable_and_streamed_files(tmp_path, monkeypatch):
    path = write_events(tmp_path / "g.h5", (e for e in _mixed()))  # a generator, read once
    assert [e.n_hits for e in read_hdf5(path)] == [3, 0, 2]
    lazy = read_hdf5(path, lazy=True)
    hits_read = []
    original = Hdf5EventReader.read_columns

    def counting(self, start, stop):
        columns, count = original(self, start, stop)
        hits_read.append(int(count.sum()))
        return columns, count

    monkeypatch.setattr(Hdf5EventReader, "read_columns", counting)
    written = write_events(tmp_path / "copy.h5", lazy, batch_events=2)
    monkeypatch.undo()
    assert sum(hits_read) == 5  # the lazy file is streamed: each hit read once
    copy = read_hdf5(written, lazy=False)
    assert copy[0].drift_time_ns[2] == 30.0 and copy[0].pid.tolist() == [11, 2212, 11]
    assert np.isnan(copy[2].momentum_mev).all() and copy[2].turn_id.tolist() == [-1, -1]


def test_scores_are_checked_as_stored(tmp_path):
    """float64 scores a hair above 1 or below 0 are 1.0 and 0.0 as float32: accepted."""
    path, _ = _small(tmp_path, scores=[np.array([1 + 1e-9, 0.5, -1e-50]), np.zeros(0),
                                       np.array([0.25, 1.0])])
    assert read_predictions(path)[0].score.tolist() == [1.0, 0.5, 0.0]
    assert read_predictions(path, lazy=True).is_lazy

    def float64_scores(h5):
        del h5["hits/score"]
        h5["hits"].create_dataset("score", data=[1 + 1e-12, 0, 0, 0, 0.5])
    _edit(path, float64_scores)
    assert read_predictions(path)[0].score.tolist() == [1.0, 0.0, 0.0]
    plain, _ = _small(tmp_path, "plain.h5")
    with pytest.raises(InputError, match=r"^plain\.h5: holds events without predictions "
                                         r"\(no /hits/score\)$"):
        read_predictions(plain)


def test_failed_create_raises_its_own_error(tmp_path):
    with pytest.raises(OSError) as info:
        write_events(tmp_path / "no such folder" / "x.h5", _mixed())
    assert info.value.__context__ is None  # not an error about removing the temporary file


def _scattered(tmp_path):
    """Events 0 and 1 (2 hits each) stored 20000 hits apart, the filler event last."""
    filler = Event(9, np.arange(20_000, dtype=np.int32) % 4986, np.zeros(20_000),
                   np.ones(20_000))
    a = Event(1, np.array([3, 4], np.int32), np.array([1.0, 2.0]), np.array([5.0, 6.0]))
    b = Event(2, np.array([30, 40], np.int32), np.array([7.0, 8.0]), np.array([9.0, 1.0]))
    path = write_events(tmp_path / "far.h5", [a, filler, b])

    def reorder(h5):
        for name, values in (("event_number", [1, 2, 9]), ("hit_offset", [0, 20_002, 2]),
                             ("hit_count", [2, 2, 20_000])):
            h5[f"events/{name}"][...] = values
    return _edit(path, reorder)


def test_events_far_apart_are_read_one_by_one(tmp_path):
    reader = Hdf5EventReader(_scattered(tmp_path))
    a, b = reader.read(0, 2)
    assert (a.event_number, a.cell.tolist(), a.adc.tolist()) == (1, [3, 4], [5.0, 6.0])
    assert (b.event_number, b.cell.tolist(), b.time_ns.tolist()) == (2, [30, 40], [7.0, 8.0])
    assert reader.read(1, 3)[1].n_hits == 20_000


def test_an_empty_range_reads_no_hits(tmp_path):
    reader = Hdf5EventReader(_small(tmp_path)[0])
    columns, count = reader.read_columns(2, 2)
    assert count.tolist() == [] and reader.read(1, 1) == []
    assert {k: (len(v), v.dtype) for k, v in columns.items()} == {
        "cell": (0, np.int32), "is_signal": (0, bool), "time_ns": (0, np.float32),
        "adc": (0, np.float32), "track_id": (0, np.int32)}
    nothing = read_hdf5(write_events(tmp_path / "none.h5", []), lazy=False)
    assert len(nothing) == 0 and nothing.metadata["content"] == "events"


def test_damaged_hit_chunk_of_an_open_file(tmp_path):
    path, _ = _small(tmp_path)
    lazy = read_hdf5(path, lazy=True)
    with h5py.File(path) as h5:
        info = h5["hits/adc"].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset:info.byte_offset + info.size] = b"\xff" * info.size
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"^s\.h5: not a readable HDF5 event file \("):
        lazy[2]


def test_ranges_that_touch_or_overlap(tmp_path, monkeypatch):
    from engines.cdc import hdf5_io

    path, _ = _small(tmp_path)

    def index(offsets, counts):
        def edit(h5):
            h5["events/hit_offset"][...] = offsets
            h5["events/hit_count"][...] = counts
        copy = tmp_path / "i.h5"
        copy.write_bytes(path.read_bytes())
        return _edit(copy, edit)

    # an event of no hits may point into another's range; out-of-order ranges that only touch
    assert [e.n_hits for e in read_hdf5(index([0, 1, 3], [3, 0, 2]))] == [3, 0, 2]
    assert [e.cell.tolist() for e in read_hdf5(index([0, 3, 1], [1, 2, 2]))] == [
        [5], [7, 8], [9, 4000]]
    overlap = "/events/hit_offset and hit_count give overlapping hit ranges (events may not " \
              "share hits)"
    assert _message(index([0, 2, 4], [3, 1, 1])) == overlap  # a one-hit event inside another
    assert _message(index([3, 0, 4], [2, 2, 1])) == overlap  # the later event first
    assert _message(index([0, 1, 2], [1, 3, 2])) == overlap  # two events after the first
    monkeypatch.setattr(hdf5_io, "MAX_HITS_PER_EVENT", 3)
    assert len(read_hdf5(path)) == 3  # event 30 holds exactly 3 hits
    monkeypatch.setattr(hdf5_io, "MAX_HITS_PER_EVENT", 2)
    assert _message(path) == "/events/hit_count outside 0…2"


# --------------------------------------------------------------------------- rarer refusals

def _replace(name, values, **kwargs):
    def edit(h5):
        del h5[name]
        h5.create_dataset(name, data=values, **kwargs)
    return edit


def _set(name, index, value):
    def edit(h5):
        h5[name][index] = value
    return edit


def _attr(name, value):
    return lambda h5: h5.attrs.create(name, value)


def _partly_written(h5):
    """/events/event_number declares 100000 int64 in uncompressed chunks of 1000 and stores
    60 of them (a file padded to more than the declared bytes)."""
    del h5["events/event_number"]
    ds = h5["events"].create_dataset("event_number", shape=(100_000,), dtype=np.int64,
                                     chunks=(1000,))
    ds[:60_000] = 1
    h5["padding"] = np.zeros(50_000)


def _external(h5):
    del h5["hits/adc"]
    h5["hits"].create_dataset("adc", shape=(5,), dtype=np.float32,
                              external=[("adc.raw", 0, 20)])


def _cell_group(h5):
    del h5["hits/cell"]
    h5.create_group("hits/cell")


def _events_dataset(h5):
    del h5["events"]
    h5["events"] = np.zeros(3)


def _soft_link(h5):
    del h5["hits/adc"]
    h5["hits/adc"] = h5py.SoftLink("/hits/time_ns")


REFUSED = [
    (_attr("format", "x" * 60), "HDF5 file of another kind (no 'format' attribute "
     f"'lablens-cdc-events'; found '{'x' * 40}')"),
    (_attr("format", np.bytes_(b"\xffab")), "HDF5 file of another kind (no 'format' "
     "attribute 'lablens-cdc-events'; found '\ufffdab')"),
    (_attr("format", 5), "HDF5 file of another kind (no 'format' attribute "
     "'lablens-cdc-events'; found '5')"),
    (_attr("format", np.array([1, 2])), "HDF5 file of another kind (no 'format' attribute "
     "'lablens-cdc-events'; found '[1 2]')"),
    (lambda h5: h5.attrs.__delitem__("version"), "unsupported lablens-cdc-events version "
     "'None'"),
    (_attr("version", "v" * 60), f"unsupported lablens-cdc-events version '{'v' * 40}'"),
    (_attr("content", "c" * 60), f"unknown content '{'c' * 40}'"),
    (_soft_link, "dataset /hits/adc is a SoftLink (links are not part of the format)"),
    (lambda h5: h5.__delitem__("hits"), "missing group /hits"),
    (_events_dataset, "/events is not a group"),
    (_cell_group, "missing dataset /hits/cell"),
    (_external, "/hits/adc keeps its data outside this file"),
    (_partly_written, "/events/event_number declares 100000 values (781 KiB) but the file "
     "stores only 469 KiB for them (damaged or hostile header)"),
    (_replace("hits/adc", np.zeros(4, np.float32)), "/hits datasets have different lengths"),
    (_replace("events/hit_offset", np.array([0, 3, 2**63], np.uint64)),
     "/events/hit_offset: value 9223372036854775808 at index 2 is not a whole number within "
     "the int64 range"),
    (_set("events/trigger_time_ns", 1, np.inf), "/events/trigger_time_ns: value inf at index "
     "1 is NaN, infinite or beyond the float64 range"),
    (_replace("hits/cell", np.array([5.0, 9, 4000, 7, 8])), "/hits/cell must hold integers"),
    (_replace("hits/track_id", np.array([2**40, -1, 0, 3, 3])), "events 30…17: "
     "/hits/track_id: value 1099511627776 at index 0 is not a whole number within the int32 "
     "range"),
]


@pytest.mark.parametrize(("edit", "message"), REFUSED)
def test_rarer_refusals_have_exact_messages(tmp_path, edit, message):
    path, _ = _small(tmp_path)
    assert _message(_edit(path, edit)) == message


@pytest.mark.parametrize(("edit", "message"), [
    (_set("hits/drift_time_ns", 4, np.inf), "events 8…5: /hits/drift_time_ns: value inf at "
     "index 4 is NaN, infinite or beyond the float32 range"),
    (_replace("hits/pid", np.array([11.0, 2212, 11, 0, 0])), "/hits/pid must hold integers"),
    (_replace("hits/turn_id", np.array([0, 2, 1, -1, 2**40])), "events 8…5: /hits/turn_id: "
     "value 1099511627776 at index 4 is not a whole number within the int32 range"),
    (_set("hits/px_mev", 0, np.inf), "events 8…5: /hits/px_mev: value inf at index 0 is NaN, "
     "infinite or beyond the float32 range"),
])
def test_truth_columns_are_checked(tmp_path, edit, message):
    path = write_events(tmp_path / "m.h5", _mixed())
    assert _message(_edit(path, edit)) == message


def test_not_hdf5_and_odd_metadata(tmp_path, monkeypatch):
    from engines.cdc import hdf5_io

    text = tmp_path / "x.h5"
    text.write_bytes(b"event,cell\n1,2\n")
    assert _message(text) == "not a readable HDF5 file (truncated or another format)"
    path, _ = _small(tmp_path)
    _edit(path, _attr("metadata", 5))  # a number, not JSON text of an object: no metadata
    assert read_hdf5(path).metadata == {"content": "events", "has_scores": False}
    monkeypatch.setattr(hdf5_io, "MAX_METADATA_CHARS", 10)
    _edit(path, _attr("metadata", '{"a": 123}'))  # 10 characters: at the limit
    assert read_hdf5(path).metadata["a"] == 123
    _edit(path, _attr("metadata", '{"a": 1234}'))
    assert _message(path) == "root attribute 'metadata' is not JSON text of at most 10 " \
                             "characters"
