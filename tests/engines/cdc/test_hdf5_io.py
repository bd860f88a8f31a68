import re

import h5py
import numpy as np
import pytest

from engines.cdc.events import Event, EventFile
from engines.cdc.hdf5_io import (
    FORMAT_NAME,
    read_hdf5,
    read_predictions,
    write_events,
    write_predictions,
)
from engines.cdc.io import read_events, summarize
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def events():
    generated = drive(generate_events(7, occupancy=0.25, seed=5))
    empty = Event(99, np.zeros(0, np.int32), np.zeros(0), np.zeros(0), trigger_counter=-1)
    return EventFile([*generated, empty], metadata=generated.metadata)


def _assert_same(a: Event, b: Event) -> None:
    assert a.event_number == b.event_number
    for name in ("cell", "time_ns", "adc", "is_signal", "track_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert (a.has_truth, a.trigger_counter) == (b.has_truth, b.trigger_counter)
    assert a.trigger_time_ns == b.trigger_time_ns


def test_round_trip_preserves_every_field(tmp_path, events):
    path = write_events(tmp_path / "ev.h5", events, metadata=events.metadata)
    back = read_hdf5(path, lazy=False)
    assert len(back) == len(events) and not back.is_lazy
    for a, b in zip(events, back, strict=True):
        _assert_same(a, b)
    # drift times: NaN for resampled background, values for signal; all NaN for the empty event
    a, b = events[0], back[0]
    np.testing.assert_array_equal(np.isnan(a.drift_time_ns), np.isnan(b.drift_time_ns))
    np.testing.assert_allclose(a.drift_time_ns[a.is_signal], b.drift_time_ns[b.is_signal])
    # Monte-Carlo truth: particle, turn and momentum per hit; none for the empty event
    for name in ("pid", "turn_id"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.momentum_mev, b.momentum_mev)
    assert b.has_mc_truth and (b.pid == 2112).any() and np.isnan(b.momentum_mev).any()
    assert back[-1].n_hits == 0 and back[-1].trigger_counter == -1
    assert back.metadata["seed"] == 5 and back.metadata["content"] == "events"
    assert back.format == "lablens-hdf5" and back.source == path
    with h5py.File(path) as h5:
        assert h5.attrs["format"] == FORMAT_NAME and h5.attrs["n_events"] == len(events)
        assert h5["hits/cell"].dtype == np.int16 and h5["hits/px_mev"].dtype == np.float32
        np.testing.assert_array_equal(h5["events/hit_offset"][1:],
                                      np.cumsum(h5["events/hit_count"][:-1]))


def test_lazy_access_matches_eager(tmp_path, events):
    path = write_events(tmp_path / "ev.h5", events)
    lazy = read_events(path, lazy=True)
    assert lazy.is_lazy and len(lazy) == len(events)
    np.testing.assert_array_equal(lazy.event_numbers, [e.event_number for e in events])
    _assert_same(lazy[3], events[3])
    _assert_same(lazy[-1], events[-1])
    assert lazy[3] is lazy[3]  # cached
    for a, b in zip(lazy[2:5], events[2:5], strict=True):
        _assert_same(a, b)
    assert [e.event_number for e in lazy[::3]] == [e.event_number for e in events[::3]]
    assert len(list(lazy)) == len(events)
    with pytest.raises(IndexError):
        lazy[len(events)]
    loaded = lazy.load()
    assert not loaded.is_lazy and len(loaded) == len(events)


def test_streaming_from_a_lazy_file(tmp_path, events):
    first = write_events(tmp_path / "a.h5", events)
    second = write_events(tmp_path / "b.h5", read_events(first, lazy=True), batch_events=3)
    for a, b in zip(read_events(first), read_events(second), strict=True):
        _assert_same(a, b)


def test_predictions_round_trip(tmp_path, events):
    rng = np.random.default_rng(0)
    scores = [rng.random(e.n_hits).astype(np.float32) for e in events]
    path = write_predictions(tmp_path / "pred.h5", events, scores, metadata={"model": "demo"})
    back = read_predictions(path)
    assert back.metadata["content"] == "predictions" and back.metadata["model"] == "demo"
    for event, score, original in zip(back, scores, events, strict=True):
        np.testing.assert_array_equal(event.score, score)
        _assert_same(event, original)
    assert summarize(path)["has_scores"] is True
    again = write_predictions(tmp_path / "again.h5", back)  # scores carried by the events
    np.testing.assert_array_equal(read_predictions(again)[2].score, scores[2])
    plain = write_events(tmp_path / "plain.h5", events)
    with pytest.raises(InputError, match="plain.h5"):
        read_predictions(plain)
    with pytest.raises(ValueError):
        write_predictions(tmp_path / "bad.h5", events, scores[:-1])
    with pytest.raises(ValueError):
        write_predictions(tmp_path / "bad.h5", events, [s + 2 for s in scores])


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, events):
    path = write_events(tmp_path / "keep.h5", events)
    before = path.read_bytes()

    # the last event's scores are invalid: the error comes after earlier batches were written
    scores = [np.zeros(e.n_hits) for e in events]
    scores[-2] = np.full(events[-2].n_hits, 7.0)
    with pytest.raises(ValueError):
        write_events(path, events, scores=scores, batch_events=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.h5"]


def test_summarize_counts(tmp_path, events):
    path = write_events(tmp_path / "ev.h5", events)
    info = summarize(path)
    assert info["format"] == "lablens-hdf5" and info["path"] == str(path)
    assert info["events"] == len(events)
    assert info["hits"] == sum(e.n_hits for e in events)
    assert info["signal_hits"] == sum(e.n_signal_hits for e in events)
    expected = np.mean([e.occupancy for e in events])
    assert info["occupancy_mean"] == pytest.approx(expected)
    assert info["has_truth"] == len(events) - 1 and info["has_scores"] is False


# --------------------------------------------------------------------------- the checks, exactly

def _small(tmp_path, name="s.h5", **kwargs):
    """Three hand-made events (numbers 30, 4, 17; 3, 0 and 2 hits)."""
    events = [Event(30, np.array([5, 9, 4000], np.int32), np.array([1.0, 2.0, 3.0]),
                    np.array([10.0, 20.0, 30.0]), np.array([True, False, True]),
                    np.array([0, -1, 0], np.int32), trigger_counter=12, trigger_time_ns=80.5),
              Event(4, np.zeros(0, np.int32), np.zeros(0), np.zeros(0), trigger_counter=-1),
              Event(17, np.array([7, 8], np.int32), np.array([-4.0, 6.5]), np.array([1.0, 2.0]),
                    np.array([False, False]), np.array([3, 3], np.int32), trigger_counter=0)]
    return write_events(tmp_path / name, events, **kwargs), events


def _edit(path, edit):
    with h5py.File(path, "a") as h5:
        edit(h5)
    return path


def _message(path):
    with pytest.raises(InputError) as info:
        read_hdf5(path, lazy=False)
    return str(info.value).removeprefix(path.name + ": ")


def test_small_file_reads_back_exactly(tmp_path):
    path, events = _small(tmp_path, metadata={"run": np.int64(7), "where": tmp_path,
                                              "gains": np.array([1.5, 2.0])})
    back = read_hdf5(path)
    assert not back.is_lazy and [e.event_number for e in back] == [30, 4, 17]
    assert [e.n_hits for e in back] == [3, 0, 2]
    assert back.metadata == {"run": 7, "where": str(tmp_path), "gains": [1.5, 2.0],
                             "content": "events", "has_scores": False}
    e30, e17 = back[0], back[2]
    assert e30.cell.tolist() == [5, 9, 4000] and e30.cell.dtype == np.int32
    assert e30.time_ns.dtype == np.float32 and e17.time_ns.tolist() == [-4.0, 6.5]
    assert e30.is_signal.tolist() == [True, False, True] and e17.track_id.tolist() == [3, 3]
    assert (e30.trigger_counter, e30.trigger_time_ns, e17.trigger_counter) == (12, 80.5, 0)
    assert e30.drift_time_ns is None and e30.pid is None and e30.score is None
    with h5py.File(path) as h5:
        assert h5["events/hit_offset"][:].tolist() == [0, 3, 3]
        assert (h5.attrs["n_events"], h5.attrs["n_hits"]) == (3, 5)
    with pytest.raises(TypeError, match="^cannot store object in metadata$"):
        write_events(tmp_path / "x.h5", events, metadata={"bad": object()})
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda h5: h5.attrs.modify("format", "other"),
     "HDF5 file of another kind (no 'format' attribute 'lablens-cdc-events'; found 'other')"),
    (lambda h5: h5.attrs.__delitem__("format"),
     "HDF5 file of another kind (no 'format' attribute 'lablens-cdc-events'; found 'None')"),
    (lambda h5: h5.attrs.modify("version", 0), "unsupported lablens-cdc-events version '0'"),
    (lambda h5: h5.attrs.modify("version", 2), "unsupported lablens-cdc-events version '2'"),
    (lambda h5: h5.attrs.create("version", 1.0), "unsupported lablens-cdc-events version '1.0'"),
    (lambda h5: h5.attrs.modify("content", "images"), "unknown content 'images'"),
    (lambda h5: h5.attrs.create("n_events", 2.5), "root attribute n_events is not an integer"),
    (lambda h5: h5.attrs.create("n_hits", "5"), "root attribute n_hits is not an integer"),
    (lambda h5: h5.attrs.modify("n_events", 4),
     "root attribute n_events = 4 but the file holds 3"),
    (lambda h5: h5.attrs.modify("metadata", "{"),
     "root attribute 'metadata': not valid JSON (Expecting property name enclosed in double "
     "quotes at line 1, column 2)"),
])
def test_root_attributes_are_checked(tmp_path, edit, message):
    path, _ = _small(tmp_path)
    assert _message(_edit(path, edit)) == message


def test_optional_root_attributes(tmp_path):
    path, _ = _small(tmp_path)

    def strip(h5):
        for key in ("content", "metadata", "n_events", "n_hits"):
            del h5.attrs[key]
    back = read_hdf5(_edit(path, strip))
    assert back.metadata == {"content": "events", "has_scores": False} and len(back) == 3
    _edit(path, lambda h5: h5.attrs.create("metadata", "[1, 2]"))  # JSON, but not an object
    assert read_hdf5(path).metadata == {"content": "events", "has_scores": False}
    _edit(path, lambda h5: h5.attrs.create("metadata", np.bytes_(b'{"a": 1}')))
    assert read_hdf5(path).metadata["a"] == 1


def test_index_checks_name_the_dataset(tmp_path):
    path, _ = _small(tmp_path)

    def rewrite(name, values):
        def edit(h5):
            del h5[f"events/{name}"]
            h5[f"events/{name}"] = values
        return edit

    cases = [
        (rewrite("hit_count", np.array([3.0, 0.0, 2.0])), "/events/hit_count must hold integers"),
        (rewrite("hit_count", np.array([3, -1, 2])), "/events/hit_count outside 0…500000"),
        (rewrite("hit_offset", np.array([0, 3, 4])),
         "/events/hit_offset + hit_count point outside the 5 stored hits"),
        (rewrite("hit_offset", np.array([-1, 3, 3])),
         "/events/hit_offset + hit_count point outside the 5 stored hits"),
        (rewrite("hit_offset", np.array([0, 3, 2])),
         "/events/hit_offset and hit_count give overlapping hit ranges (events may not share "
         "hits)"),
        (rewrite("trigger_counter", np.array([12, -2, 0], np.int16)),
         "/events/trigger_counter outside -1…127"),
        (rewrite("trigger_counter", np.array([128, -1, 0], np.int16)),
         "/events/trigger_counter outside -1…127"),
        (rewrite("event_number", np.array([30, 4])), "/events datasets have different lengths"),
    ]
    for i, (edit, message) in enumerate(cases):
        copy = tmp_path / f"c{i}.h5"
        copy.write_bytes(path.read_bytes())
        assert _message(_edit(copy, edit)) == message
    # events stored out of order (the second event's hits first) are fine
    copy = tmp_path / "swapped.h5"
    copy.write_bytes(path.read_bytes())
    _edit(copy, rewrite("hit_offset", np.array([2, 0, 0])))
    _edit(copy, rewrite("hit_count", np.array([3, 0, 2])))
    back = read_hdf5(copy)
    assert back[2].cell.tolist() == [5, 9] and back[0].cell.tolist() == [4000, 7, 8]


def test_hit_checks_name_the_events(tmp_path):
    path, _ = _small(tmp_path)

    def hits(name, index, value):
        def edit(h5):
            h5[f"hits/{name}"][index] = value
        return edit

    for edit, event, message in (
            (hits("cell", 4, 4986), 2, "event 17: cell ids outside 0…4985"),
            (hits("cell", 0, -1), 0, "event 30: cell ids outside 0…4985"),
            (hits("adc", 1, np.nan), 0, "event 30: /hits/adc: value nan at index 1"),
            (hits("time_ns", 3, np.inf), 2, "event 17: /hits/time_ns: value inf at index 0")):
        copy = tmp_path / "h.h5"
        copy.write_bytes(path.read_bytes())
        _edit(copy, edit)
        lazy = read_hdf5(copy, lazy=True)
        with pytest.raises(InputError) as info:
            lazy[event]
        assert str(info.value).startswith(f"h.h5: {message}"), info.value
        assert _message(copy).startswith("events 30…17: ")  # all events at once
        assert lazy[1].n_hits == 0


def test_scores_and_truth_columns_are_checked(tmp_path):
    path, events = _small(tmp_path, scores=[np.array([0.0, 0.5, 1.0]), np.zeros(0),
                                            np.array([0.25, 0.75])])
    back = read_predictions(path)
    assert back[0].score.tolist() == [0.0, 0.5, 1.0] and back[2].score.dtype == np.float32
    _edit(path, lambda h5: h5["hits/score"].__setitem__(2, 1.5))
    assert _message(path) == "events 30…17: /hits/score outside [0, 1]"
    _edit(path, lambda h5: h5["hits/score"].__setitem__(2, -0.5))
    with pytest.raises(InputError, match="^s.h5: event 30: /hits/score outside"):
        read_hdf5(path, lazy=True)[0]
    assert read_hdf5(path, lazy=True)[2].score.tolist() == [0.25, 0.75]
    for bad, message in (([np.zeros(3), np.zeros(1), np.zeros(2)], "scores of event 1 must be 0 "
                                                                   "values in [0, 1]"),
                         ([np.zeros(3), np.zeros(0), np.array([0.5, 1.01])],
                          "scores of event 2 must be 2 values in [0, 1]"),
                         ([np.zeros(3)], "1 score arrays for 3 events")):
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            write_events(tmp_path / "bad.h5", events, scores=bad)
    with pytest.raises(ValueError, match="^write_predictions needs scores: some events carry "
                                         "none$"):
        write_predictions(tmp_path / "bad.h5", events)


def test_lazy_or_eager_by_size(tmp_path, monkeypatch):
    from engines.cdc import hdf5_io

    path, _ = _small(tmp_path)
    assert not read_hdf5(path).is_lazy and read_hdf5(path, lazy=True).is_lazy
    monkeypatch.setattr(hdf5_io, "EAGER_HIT_LIMIT", 5)
    assert not read_hdf5(path).is_lazy  # 5 hits: at the limit
    monkeypatch.setattr(hdf5_io, "EAGER_HIT_LIMIT", 4)
    assert read_hdf5(path).is_lazy and not read_hdf5(path, lazy=False).is_lazy
    monkeypatch.setattr(hdf5_io, "EAGER_HIT_LIMIT", 100)
    monkeypatch.setattr(hdf5_io, "EAGER_EVENT_LIMIT", 3)
    assert not read_hdf5(path).is_lazy
    monkeypatch.setattr(hdf5_io, "EAGER_EVENT_LIMIT", 2)
    assert read_hdf5(path).is_lazy


def test_event_limit_is_checked_before_reading(tmp_path, monkeypatch):
    from engines.cdc import hdf5_io

    path, _ = _small(tmp_path)
    monkeypatch.setattr(hdf5_io, "MAX_EVENTS", 3)
    assert len(read_hdf5(path)) == 3
    monkeypatch.setattr(hdf5_io, "MAX_EVENTS", 2)
    assert _message(path) == "/events/event_number has 3 entries (limit 2)"
