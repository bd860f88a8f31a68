from dataclasses import replace

import numpy as np
import pytest

from engines.cdc.geometry import get_geometry
from engines.cdc.hdf5_io import read_hdf5
from engines.cdc.synthetic import (
    SyntheticConfig,
    generate_events,
    iter_write_sample_file,
    merge_hits,
    write_sample_file,
)
from engines.cdc.synthetic_background import BackgroundConfig, draw_background
from engines.cdc.synthetic_signal import SignalConfig, draw_signal_track, draw_trigger_time
from engines.core.errors import InputError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def sample():
    return drive(generate_events(24, occupancy=0.4, seed=3))


@pytest.fixture(scope="module")
def tracks():
    rng = np.random.default_rng(11)
    return [draw_signal_track(rng, SignalConfig())[0] for _ in range(60)]


def test_same_seed_same_events_other_seed_differs(sample):
    again = drive(generate_events(24, occupancy=0.4, seed=3))
    other = drive(generate_events(24, occupancy=0.4, seed=4))
    for a, b in zip(sample, again, strict=True):
        np.testing.assert_array_equal(a.cell, b.cell)
        np.testing.assert_array_equal(a.time_ns, b.time_ns)
        assert a.trigger_counter == b.trigger_counter
    assert not np.array_equal(sample[0].cell[:50], other[0].cell[:50])


def test_background_occupancy_species_and_window(sample):
    meta = sample.metadata
    assert meta["mean_background_occupancy"] == pytest.approx(0.4, abs=0.03)
    occupancies = np.array([e.occupancy for e in sample])
    assert 0.36 < occupancies.mean() < 0.46 and occupancies.std() > 0.005
    for event in sample:
        background = ~event.is_signal
        absolute = event.time_ns[background] + event.trigger_time_ns
        assert absolute.min() >= -100.0 - 1e-2 and absolute.max() <= 3500.0 + 1e-2
        assert not get_geometry().is_guard[event.cell].any()
        assert event.pid is not None and event.turn_id is not None
        assert event.momentum_mev.shape == (event.n_hits, 3)
    pid = np.concatenate([e.pid[~e.is_signal] for e in sample])
    protons = np.mean(pid == 2212)
    assert 0.35 < protons < 0.5  # real background: 44 % of the hits are protons


def test_background_sources_are_tracks_with_high_charge(sample):
    """Protons come as tracks of ~20–40 cells, their charges correlated and high; neutron
    hits stand alone."""
    event = sample[0]
    proton = (event.pid == 2212) & ~event.is_signal
    _ids, lengths = np.unique(event.track_id[proton], return_counts=True)
    assert np.median(lengths) >= 15
    neutron_ids = event.track_id[event.pid == 2112]
    assert len(np.unique(neutron_ids)) == len(neutron_ids)
    signal = np.concatenate([e.adc[e.is_signal] for e in sample])
    background = np.concatenate([e.adc[~e.is_signal] for e in sample])
    assert 35 < np.median(signal) < 70 and 250 < np.median(background) < 550


def test_hits_of_one_background_cell_are_separated():
    config = BackgroundConfig()
    hits = draw_background(np.random.default_rng(0), 0.5, config)
    order = np.lexsort((hits.time_abs_ns, hits.cell))
    cell, time_ns = hits.cell[order], hits.time_abs_ns[order]
    same = cell[1:] == cell[:-1]
    assert same.any()
    assert np.diff(time_ns)[same].min() >= config.double_hit_separation_ns - 1e-6
    assert hits.occupancy == pytest.approx(0.5, abs=0.1)


def test_signal_tracks_cross_five_layers_and_trigger(tracks):
    geometry = get_geometry()
    for track in tracks:
        layers = np.unique(geometry.layer_of_cell[track.cell])
        assert len(layers) >= 5 and track.n_layers == len(layers)
        assert not geometry.is_guard[track.cell].any()
        assert len(np.unique(track.cell)) == len(track.cell)
        assert 0 <= track.trigger_counter < 128
        assert track.pt_mev <= 101.5 + 1e-6
        p = np.linalg.norm(track.momentum_mev, axis=1)
        np.testing.assert_allclose(p, 101.5, rtol=1e-6)  # the momentum at the CDC
    hits = np.array([len(t.cell) for t in tracks])
    assert 55 < hits.mean() < 78  # paper: about 66 hits per track
    times = np.concatenate([t.time_ns for t in tracks])
    assert np.mean((times > -50) & (times < 400)) > 0.9
    drift = np.concatenate([t.drift_time_ns for t in tracks])
    assert drift.min() >= 0 and np.percentile(drift, 99) < 500


def _circle_radius(x, y):
    """Algebraic least-squares circle fit; returns the radius."""
    a = np.column_stack([x, y, np.ones_like(x)])
    b = x**2 + y**2
    (c0, c1, c2), *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.sqrt(c2 + (c0 / 2) ** 2 + (c1 / 2) ** 2)


def test_axial_track_hits_lie_on_the_helix_circle():
    config = replace(SignalConfig(), use_stereo=False)
    rng = np.random.default_rng(5)
    geometry = get_geometry()
    for _ in range(5):
        track, _ = draw_signal_track(rng, config)
        radius = _circle_radius(geometry.cell_x[track.cell], geometry.cell_y[track.cell])
        expected = track.pt_mev / (0.299792458 * 10.0)  # R = p_T / (0.3 B), cm
        assert radius == pytest.approx(expected, abs=1.5)


def test_trigger_time_follows_bunches_and_the_muon_lifetime():
    config = SignalConfig()
    rng = np.random.default_rng(2)
    t0 = np.array([draw_trigger_time(rng, 10.0, config) for _ in range(600)])
    assert t0.min() >= 0.0 - 1e-6 and t0.max() <= 2900.0 + 1e-6
    # each bunch (every 1170 ns) starts an exponential decay (τ = 864 ns): more triggers in the
    # 400 ns after a bunch's muons stop than in the 400 ns before the next bunch
    phase = np.mod(t0, config.bunch_period_ns)
    assert np.mean((phase > 160) & (phase < 560)) > 1.3 * np.mean(phase > 770)


def test_merge_rule_earlier_hit_wins():
    #            cell: 5 bg, 5 sig | 6 sig, 6 bg | 7 bg, 7 sig (far) | 8 sig, 8 bg (far)
    cell = np.array([5, 5, 6, 6, 7, 7, 8, 8])
    time_ns = np.array([0.0, 50.0, 0.0, 60.0, 0.0, 150.0, 0.0, 150.0])
    is_signal = np.array([False, True, True, False, False, True, True, False])
    result = merge_hits(cell, time_ns, is_signal, 100.0)
    assert result.signal_lost == 1
    kept = set(zip(cell[result.keep].tolist(), time_ns[result.keep].tolist(),
                   is_signal[result.keep].tolist(), strict=True))
    assert kept == {(5, 0.0, False), (6, 0.0, True), (7, 0.0, False), (7, 150.0, True),
                    (8, 0.0, True), (8, 150.0, False)}
    assert np.all(np.diff(cell[result.keep]) >= 0)
    # a longer masking window hides the signal 150 ns after the background of cell 7 too,
    # while background 150 ns after a signal stays (cells record several pulses)
    longer = merge_hits(cell, time_ns, is_signal, 100.0, masking_ns=200.0)
    assert longer.signal_lost == 2 and 7 in cell[longer.keep][~is_signal[longer.keep]]
    assert (8, 150.0) in set(zip(cell[longer.keep].tolist(), time_ns[longer.keep].tolist(),
                                 strict=True))


def test_signal_loss_is_about_the_papers_20_percent():
    events = drive(generate_events(40, 0.4, seed=3))
    meta = events.metadata
    assert 0.12 < meta["signal_loss_fraction"] < 0.3  # paper: about 20 %
    recorded = sum(e.n_signal_hits for e in events)
    generated = meta["mean_signal_hits_generated"] * meta["signal_tracks"]
    assert recorded == pytest.approx(generated - meta["signal_hits_lost"])
    shorter = drive(generate_events(40, 0.4, seed=3,
                                    config=SyntheticConfig(masking_window_ns=100.0)))
    assert shorter.metadata["signal_loss_fraction"] < 0.5 * meta["signal_loss_fraction"]


def test_signal_fraction_controls_tracks():
    none = drive(generate_events(6, 0.2, seed=1, signal_fraction=0.0))
    assert all(e.n_signal_hits == 0 and 0 <= e.trigger_counter < 128 for e in none)
    full = drive(generate_events(6, 0.2, seed=1, signal_fraction=1.0))
    assert all(e.n_signal_hits > 0 and e.has_truth for e in full)
    assert all(np.all(e.track_id[e.is_signal] == 0) and np.all(e.track_id[~e.is_signal] > 0)
               and np.all(e.pid[e.is_signal] == 11) for e in full)


def test_occupancy_range_draws_each_event_from_it():
    events = drive(generate_events(12, (0.15, 0.6), seed=4))
    occupancies = np.array([e.occupancy for e in events])
    assert occupancies.min() < 0.3 and occupancies.max() > 0.45
    assert events.metadata["occupancy"] == [0.15, 0.6]


def test_progress_and_bad_arguments():
    task = generate_events(10, 0.3, seed=0, chunk_size=4)
    fractions = []
    with pytest.raises(StopIteration):
        while True:
            fractions.append(next(task).fraction)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 3
    for kwargs in ({"n_events": 0}, {"n_events": 5, "occupancy": 1.5},
                   {"n_events": 5, "occupancy": (0.5, 0.2)},
                   {"n_events": 5, "signal_fraction": -0.1}):
        with pytest.raises(InputError):
            drive(generate_events(**kwargs))


def test_write_sample_file_round_trips(tmp_path):
    path = write_sample_file(tmp_path / "sample.h5", n_events=5, occupancy=0.3, seed=2)
    events = read_hdf5(path)
    reference = drive(generate_events(5, 0.3, seed=2))
    assert len(events) == 5
    np.testing.assert_array_equal(events[4].cell, reference[4].cell)
    assert events.metadata["seed"] == 2 and events.metadata["occupancy"] == 0.3
    reports = list(iter_write_sample_file(tmp_path / "b.h5", n_events=3))
    assert reports[-1].fraction == 1.0 and (tmp_path / "b.h5").is_file()
