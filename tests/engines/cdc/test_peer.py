"""The GBDT peer: local hit features and seeded 2-fold cross-fitting."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.events import Event
from engines.cdc.geometry import get_geometry
from engines.cdc.metrics import hit_level
from engines.cdc.peer import FEATURE_NAMES, PeerConfig, hit_features, iter_cross_fit
from engines.cdc.synthetic import generate_events
from engines.core.errors import InputError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(16, occupancy=0.3, seed=21)))


def test_features_of_a_hand_made_event():
    geometry = get_geometry()
    cell = 1000
    left, right = geometry.cell_index(geometry.layer_of_cell[cell],
                                      geometry.wire_in_layer[cell] + np.array([-1, 1]))
    event = Event(0, np.array([cell, cell, left, right]), np.array([10.0, 300.0, 40.0, 600.0]),
                  np.array([100.0, 200.0, 1000.0, 50.0]), np.array([1, 0, 1, 0], bool),
                  has_truth=True, trigger_counter=5)
    f = dict(zip(FEATURE_NAMES, hit_features([event], time_window_ns=100.0).T, strict=True))
    assert f["cell_hits"].tolist() == [2, 2, 1, 1]
    assert f["rank_in_cell"].tolist() == [0, 1, 0, 0]
    assert f["layer"][0] == geometry.layer_of_cell[cell]
    assert f["neighbours_hit"][0] == 2                     # left and right are hit
    assert f["neighbours_in_time"][0] == 1                 # only left (30 ns away)
    assert f["min_neighbour_dt_ns"][0] == pytest.approx(30.0)
    # charges in decades from the event's median log10 charge
    relative = 3.0 - np.median(np.log10([100.0, 200.0, 1000.0, 50.0]))
    assert f["log10_charge"][2] == pytest.approx(relative, abs=1e-5)
    assert f["neighbour_charge_in_time"][0] == pytest.approx(relative, abs=1e-5)
    assert f["delta_phi"][0] == pytest.approx(float(geometry.delta_phi(cell, 5)), abs=1e-5)
    assert f["trigger_known"].tolist() == [1, 1, 1, 1]


def test_cross_fit_scores_every_hit_and_beats_chance(events):
    config = PeerConfig(max_iter=30, seed=1)
    scores = drive(iter_cross_fit(events, config))
    assert [s.shape for s in scores] == [(e.n_hits,) for e in events]
    assert all(np.all((s >= 0) & (s <= 1)) for s in scores)
    summary = hit_level(events, scores)
    signal_share = summary.n_positive / summary.n_total
    assert summary.auc > 5 * signal_share                  # far above a random scorer
    again = drive(iter_cross_fit(events, config))
    np.testing.assert_array_equal(np.concatenate(scores), np.concatenate(again))


def test_cross_fit_refuses_too_few_events_or_no_truth(events):
    with pytest.raises(InputError, match="at least 4"):
        drive(iter_cross_fit(events[:3]))
    blind = [Event(0, e.cell, e.time_ns, e.adc) for e in events[:6]]
    with pytest.raises(InputError, match="truth"):
        drive(iter_cross_fit(blind))
    with pytest.raises(InputError):
        PeerConfig(max_iter=1)


def test_a_file_with_two_signal_windows_cross_fits_and_one_is_refused():
    """As in the real ICEDUST file: 25 windows, the signal track in two (one per half)."""
    quiet = list(drive(generate_events(10, occupancy=0.3, seed=22, signal_fraction=0.0)))
    signal = list(drive(generate_events(2, occupancy=0.3, seed=23, signal_fraction=1.0)))
    for seed in range(4):  # whatever the seed, each half gets one signal window
        scores = drive(iter_cross_fit(quiet + signal, PeerConfig(max_iter=20, seed=seed)))
        assert len(scores) == 12
    with pytest.raises(InputError, match="at least 2 events with signal"):
        drive(iter_cross_fit(quiet + signal[:1], PeerConfig(max_iter=20)))
