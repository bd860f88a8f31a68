"""Drift-time consistency: signal hits follow t = t0 + v·d along the refitted track, the
background hits near it do not, and t0 comes from the track (no trigger time needed)."""

from __future__ import annotations

import numpy as np
import pytest

from engines.cdc.drift import FAR_DRIFT_NS, drift_fit, drift_residuals
from engines.cdc.synthetic import generate_events
from engines.cdc.trackfit import TrackFit, fit_track
from engines.core.progress import drive

V = 400.0  # the generator's drift_ns_per_cm


@pytest.fixture(scope="module")
def tracks():
    """(event, cells, scores, fit) of signal events at 40 % with a found track; scores of an
    imperfect U-Net (signal mostly high, background mostly low)."""
    rng = np.random.default_rng(3)
    out = []
    for event in drive(generate_events(6, 0.4, seed=41, signal_fraction=1.0)):
        cells = np.unique(event.cell).astype(np.int64)
        signal = np.isin(cells, event.cell[event.is_signal])
        scores = np.where(signal, rng.beta(5, 2, len(cells)), rng.beta(0.4, 6, len(cells)))
        fit = fit_track(cells, scores, event.trigger_counter)
        if fit.found:
            out.append((event, cells, scores, fit))
    assert len(out) >= 4
    return out


def test_signal_hits_follow_the_drift_and_background_near_the_track_does_not(tracks):
    signal_res, background_res, shares = [], [], []
    for event, cells, scores, fit in tracks:
        drift = drift_fit(fit, event, scores, cells, V)
        assert drift.ok and drift.scale_ns < 150
        residual = drift_residuals(drift, event, cells, V, turns=6)
        near = fit.cell_distance(cells, 6) < 1.0
        signal = np.isin(cells, event.cell[event.is_signal])
        signal_res.append(residual[near & signal])
        background_res.append(residual[near & ~signal])
        on = np.isin(cells, fit.cells)
        shares.append(np.mean(np.abs(residual[on]) < 50))
    signal_res, background_res = np.concatenate(signal_res), np.concatenate(background_res)
    assert np.median(np.abs(signal_res)) < 15.0   # ~6 ns; 30 ns with v = 250 ns/cm
    assert np.median(np.abs(background_res)) > 4 * np.median(np.abs(signal_res))
    assert np.median(shares) > 0.5


def test_t0_comes_from_the_track_so_absolute_times_give_the_same_residuals(tracks):
    event, cells, scores, fit = tracks[0]
    shifted = event.without_trigger()            # absolute times: every hit + the trigger time
    assert event.trigger_time_ns != 0
    before = drift_residuals(drift_fit(fit, event, scores, cells, V), event, cells, V, 6)
    drift = drift_fit(fit, shifted, scores, cells, V)
    after = drift_residuals(drift, shifted, cells, V, 6)
    np.testing.assert_allclose(after, before, atol=1.0)


def test_no_track_no_drift_fit(tracks):
    event, cells, scores, _fit = tracks[0]
    drift = drift_fit(TrackFit(False), event, scores, cells, V)
    assert not drift.ok
    assert (drift_residuals(drift, event, cells, V, 6) == FAR_DRIFT_NS).all()
    assert len(drift_residuals(drift, event, cells[:0], V, 6)) == 0
