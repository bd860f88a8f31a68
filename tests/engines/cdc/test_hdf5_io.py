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
