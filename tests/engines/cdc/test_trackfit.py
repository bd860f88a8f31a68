"""The track fit: robust circle + stereo helix on scored cells, p_T against the truth, no track
where there is no signal, and the re-scoring that the validation events tune."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engines.cdc.geometry import N_CELLS
from engines.cdc.metrics import cell_level
from engines.cdc.model import Prediction
from engines.cdc.synthetic import generate_events
from engines.cdc.trackfit import (
    DEFAULT_WEIGHTS,
    TrackFitConfig,
    combine,
    fit_track,
    iter_fit_events,
    pt_resolution,
    true_pt,
    tune,
)
from engines.core.errors import ModelError
from engines.core.progress import drive


@pytest.fixture(scope="module")
def events():
    return list(drive(generate_events(24, 0.4, seed=31, signal_fraction=0.75)))


def _scores(events, seed=0) -> np.ndarray:
    """Cell scores of an imperfect U-Net: signal cells mostly high, background mostly low."""
    rng = np.random.default_rng(seed)
    scores = np.zeros((len(events), N_CELLS), np.float32)
    for i, event in enumerate(events):
        cells = np.unique(event.cell)
        signal = np.isin(cells, event.cell[event.is_signal])
        scores[i, cells] = np.where(signal, rng.beta(5, 2, len(cells)),
                                    rng.beta(0.4, 6, len(cells)))
    return scores


class _Scorer:
    """Stands in for a CdcSegmenter: the scores above as its prediction."""

    def __init__(self, scores):
        self.scores = scores

    def iter_predict(self, events, batch_size=16):
        yield from ()
        return Prediction(self.scores[:len(events)], [])


def test_the_helix_fit_finds_the_signal_and_measures_its_momentum(events):
    scores = _scores(events)
    fits = [fit_track(np.unique(e.cell), scores[i, np.unique(e.cell)], e.trigger_counter)
            for i, e in enumerate(events)]
    signal = [i for i, e in enumerate(events) if e.n_signal_hits]
    assert sum(fits[i].found for i in signal) >= 0.9 * len(signal)
    stereo = pt_resolution(events, fits)
    assert stereo["found_fraction"] >= 0.9
    assert abs(stereo["bias"]) < 0.03 and stereo["sigma"] < 0.025
    flat = [fit_track(np.unique(e.cell), scores[i, np.unique(e.cell)], e.trigger_counter,
                      TrackFitConfig(stereo=False)) for i, e in enumerate(events)]
    assert stereo["rms"] < pt_resolution(events, flat)["rms"]  # stereo z pays
    close = [abs(fits[i].pt_mev / true_pt(events[i]) - 1) < 0.05 for i in signal
             if fits[i].found]
    assert np.mean(close) >= 0.85
    purity = [np.isin(fits[i].cells, events[i].cell[events[i].is_signal]).mean()
              for i in signal if fits[i].found]
    assert np.median(purity) > 0.9  # the track's cells are the signal's


def test_no_track_without_signal_or_with_a_wrong_trigger(events):
    rng = np.random.default_rng(3)
    empty = [e for e in events if e.n_signal_hits == 0]
    assert empty
    for event in empty:
        cells = np.unique(event.cell)
        assert not fit_track(cells, rng.beta(0.4, 6, len(cells)), event.trigger_counter).found
    event = next(e for e in events if e.n_signal_hits)
    cells = np.unique(event.cell)
    scores = np.where(np.isin(cells, event.cell[event.is_signal]), 0.95, 0.02)
    assert fit_track(cells, scores, event.trigger_counter).found
    opposite = (event.trigger_counter + 32) % 64 + 64 * (event.trigger_counter // 64)
    assert not fit_track(cells, scores, opposite).found       # the counter is on the track


def test_default_weights_keep_the_unet_scores_and_tuning_improves_purity(events):
    scores = _scores(events, seed=1)
    config = TrackFitConfig()
    assert config.weights == DEFAULT_WEIGHTS
    fitted = drive(iter_fit_events(events, scores, config))
    assert len(fitted.fits) == len(events)
    hit = scores > 0
    np.testing.assert_allclose(fitted.cell_scores[hit], scores[hit], atol=2e-3)
    tuned = drive(tune(_Scorer(scores), events, config))
    assert tuned.config.weights != DEFAULT_WEIGHTS and 0 < tuned.config.threshold < 1
    assert 0.95 < tuned.config.pt_scale < 1.0   # the fit's radius comes out a little large
    unet = cell_level(events, scores)
    combined = drive(iter_fit_events(events, scores, tuned.config))
    with_fit = cell_level(events, combined.cell_scores)
    assert with_fit.purity_at_retention > unet.purity_at_retention + 0.02
    assert tuned.figures["purity_at_retention_0.9"] == pytest.approx(
        with_fit.purity_at_retention, abs=1e-6)
    cells = np.unique(events[0].cell)
    assert combine(fitted.fits[0], events[0], cells, scores[0, cells],
                   tuned.config).dtype == np.float32


def test_config_round_trip_and_validation():
    config = TrackFitConfig(inlier_cm=3.0, weights=tuple(range(10)), threshold=0.7)
    assert TrackFitConfig.from_json(config.to_json()) == config
    assert TrackFitConfig.from_json(None) == TrackFitConfig()
    with pytest.raises(ModelError, match="track-fit"):
        TrackFitConfig.from_json({"weights": [1, 2]})
    with pytest.raises(ModelError, match="track-fit"):
        TrackFitConfig.from_json(replace(config, inlier_cm=3.0).to_json() | {"inlier_cm": -1})
