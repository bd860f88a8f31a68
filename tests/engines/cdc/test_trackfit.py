"""The track fit: robust circle + stereo helix on scored cells, p_T against the truth, no track
where there is no signal, and the re-scoring that the validation events tune."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engines.cdc.geometry import N_CELLS, layer_of_cell
from engines.cdc.metrics import cell_level
from engines.cdc.model import Prediction
from engines.cdc.rescoring import FEATURE_NAMES, cell_features, combine, iter_fit_events
from engines.cdc.second_stage import RescoreConfig, tune
from engines.cdc.synthetic import generate_events
from engines.cdc.trackfit import TrackFit, TrackFitConfig, fit_track, pt_resolution, true_pt
from engines.core.boosted_trees import BoostedTrees
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


def test_the_target_pull_finds_short_arcs_and_leaves_the_momentum_free(events):
    """Short arcs (the signal's cells of the four innermost layers) among noisy background
    scores: without the axis point a third of them bend to a circle that misses the target."""
    rng = np.random.default_rng(0)
    found = {True: 0, False: 0}
    signal = [e for e in events if e.n_signal_hits]
    for event in signal:
        cells = np.unique(event.cell)
        short = np.isin(cells, event.cell[event.is_signal]) & (layer_of_cell(cells) <= 4)
        scores = np.where(short, rng.beta(5, 2, len(cells)), rng.beta(0.4, 6, len(cells)))
        for pull in found:
            fit = fit_track(cells, scores, event.trigger_counter,
                            TrackFitConfig(min_cells=5, target_weight=1.0 if pull else 0.0))
            found[pull] += fit.found and np.isin(fit.cells, cells[short]).mean() > 0.5
    assert found[True] >= 0.9 * len(signal) and found[False] <= found[True] - 3
    scores = _scores(events)
    pulled = [fit_track(np.unique(e.cell), scores[i, np.unique(e.cell)], e.trigger_counter)
              for i, e in enumerate(events)]
    resolution = pt_resolution(events, pulled)   # p_T from the refit without the axis point
    assert resolution["found_fraction"] == 1.0
    assert abs(resolution["bias"]) < 0.03 and resolution["sigma"] < 0.025


def test_features_see_the_track_and_the_neighbours(events):
    scores = _scores(events, seed=2)
    i = next(i for i, e in enumerate(events) if e.n_signal_hits)
    event = events[i]
    cells = np.unique(event.cell)
    fit = fit_track(cells, scores[i, cells], event.trigger_counter)
    x = cell_features(fit, event, cells, scores[i, cells], TrackFitConfig())
    assert x.shape == (len(cells), len(FEATURE_NAMES)) and np.isfinite(x).all()
    column = dict(zip(FEATURE_NAMES, x.T, strict=True))
    signal = np.isin(cells, event.cell[event.is_signal])
    assert np.median(column["distance cm"][signal]) < 1.0 < np.median(
        column["distance cm"][~signal])
    assert np.median(column["abs time offset ns"][signal]) < np.median(
        column["abs time offset ns"][~signal])
    assert (column["track found"] == 1).all() and (column["track cells"] == fit.n_cells).all()
    assert column["neighbour max score"][signal].mean() > column["neighbour max score"][
        ~signal].mean()
    nothing = cell_features(fit_track(cells, np.zeros(len(cells)), -1), event, cells,
                            np.zeros(len(cells)), TrackFitConfig())
    assert (nothing[:, FEATURE_NAMES.index("track found")] == 0).all()


def test_without_trees_the_unet_scores_stay_and_tuning_improves_purity(events):
    scores = _scores(events, seed=1)
    config = TrackFitConfig()
    fitted = drive(iter_fit_events(events, scores, config))
    assert len(fitted.fits) == len(events)
    hit = scores > 0
    np.testing.assert_allclose(fitted.cell_scores[hit], scores[hit], atol=1e-6)
    tuned = drive(tune(_Scorer(scores), events, config, RescoreConfig(trees=30, depth=2)))
    assert len(tuned.rescorer.trees) == 30 and 0 < tuned.config.threshold < 1
    assert 0.95 < tuned.config.pt_scale < 1.05
    unet = cell_level(events, scores)
    combined = drive(iter_fit_events(events, scores, tuned.config, tuned.rescorer))
    with_fit = cell_level(events, combined.cell_scores)
    assert with_fit.purity_at_retention > unet.purity_at_retention + 0.02
    assert tuned.figures["purity_at_retention_0.9"] == pytest.approx(
        with_fit.purity_at_retention, abs=1e-6)
    cells = np.unique(events[0].cell)
    assert combine(fitted.fits[0], events[0], cells, scores[0, cells], tuned.config,
                   tuned.rescorer).dtype == np.float32
    again = BoostedTrees.from_json(tuned.rescorer.to_json())
    x = cell_features(fitted.fits[0], events[0], cells, scores[0, cells], config)
    np.testing.assert_allclose(again.raw(x), tuned.rescorer.raw(x), atol=1e-4)
    # a track counts only if the trees keep confirm_cells of its cells
    signal = [i for i, e in enumerate(events) if e.n_signal_hits]
    assert sum(combined.fits[i].found for i in signal) >= 0.9 * len(signal)
    strict = drive(iter_fit_events(events, scores, replace(tuned.config, confirm_cells=1000),
                                   tuned.rescorer))
    assert not any(f.found for f in strict.fits)
    np.testing.assert_allclose(strict.cell_scores[0, cells], combine(
        TrackFit(False), events[0], cells, scores[0, cells], tuned.config, tuned.rescorer),
        atol=1e-6)


def test_config_round_trip_and_validation():
    config = TrackFitConfig(inlier_cm=3.0, target_weight=0.5, threshold=0.7)
    assert TrackFitConfig.from_json(config.to_json()) == config
    assert TrackFitConfig.from_json(None) == TrackFitConfig()
    assert TrackFitConfig.from_json(config.to_json() | {"rescorer": {}, "weights": [1]}) == config
    with pytest.raises(ModelError, match="track-fit"):
        TrackFitConfig.from_json({"target_weight": -1})
    with pytest.raises(ModelError, match="track-fit"):
        TrackFitConfig.from_json(replace(config, inlier_cm=3.0).to_json() | {"inlier_cm": -1})
    assert RescoreConfig.from_json(RescoreConfig(trees=7).to_json()) == RescoreConfig(trees=7)
