"""Tuning the second stage (track fit + re-scoring) of a trained model, without retraining it.

:func:`tune` fits the re-scoring trees (:mod:`engines.cdc.rescoring`) on events with truth,
sets the combined score's threshold at 90 % retention on them (its figures are those of the
confirmed tracks, :func:`engines.cdc.rescoring.confirmed`, at that threshold) and calibrates the
momentum scale. :func:`iter_tune_model` does it on fresh synthetic events of the training seeds
(``cdc tune-fit``, a separate step of ``make demo-model-cdc``): ``events`` events drawn with
the generator seed ``(seed, 4)`` over ``occupancy``, a ``no_trigger_fraction`` of them shown
without their trigger, as in training. The test figures of the README use other seeds.

Parameters and the fitted trees go to the model's sidecar: ``track_fit`` holds the
:class:`~engines.cdc.trackfit.TrackFitConfig` fields plus ``rescore`` (this module's
:class:`RescoreConfig`) and ``rescorer`` (the trees).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.geometry import N_CELLS
from engines.cdc.rescoring import FEATURE_NAMES, cell_features, combine, confirmed
from engines.cdc.trackfit import TrackFitConfig, fit_track, pt_resolution
from engines.core.boosted_trees import BoostedTrees
from engines.core.config import from_json, param, to_json, validate
from engines.core.progress import Progress, forward


def _range(pair: tuple[float, float]) -> str | None:
    return None if len(pair) == 2 and pair[0] <= pair[1] else "must be low ≤ high"


@dataclass(frozen=True)
class RescoreConfig:
    """How the re-scoring trees are fitted and on which events."""

    events: int = param(600, label="Tuning events", range=(20, 100_000),
                        help="fresh synthetic events of the training seeds")
    occupancy: tuple[float, float] = param((0.2, 0.6), label="Occupancy range",
                                           range=(0.01, 0.95), check=_range)
    signal_fraction: float = param(0.85, label="Events with signal", range=(0.0, 1.0))
    no_trigger_fraction: float = param(0.5, label="Shown without trigger", range=(0.0, 1.0))
    trees: int = param(150, label="Trees", range=(1, 2000))
    depth: int = param(3, label="Tree depth", range=(1, 8),
                       help="each tree has at most 2^depth leaves")
    learning_rate: float = param(0.1, label="Learning rate", range=(0.001, 1.0))
    background_share: float = param(0.25, label="Background cells used", range=(0.01, 1.0),
                                    help="share of the background cells the trees see "
                                    "(weighted up to stand for all)")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1))

    def __post_init__(self) -> None:
        validate(self)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RescoreConfig:
        return cls() if not data else from_json(cls, data, "re-scoring settings")


@dataclass
class TuneResult:
    """What :func:`tune` found: the fit settings (threshold, momentum scale), the trees and
    the figures with the fit on the tuning events."""

    config: TrackFitConfig
    rescorer: BoostedTrees | None
    figures: dict[str, Any]


def tune(segmenter, events: Sequence[Event], config: TrackFitConfig | None = None,
         rescore: RescoreConfig | None = None) -> Generator[Progress, None, TuneResult]:
    """Fit the re-scoring trees on ``events`` (with truth), the combined score's threshold at
    90 % retention and the momentum scale."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from engines.cdc.metrics import cell_level, hit_cell_truth

    config = config or TrackFitConfig()
    rescore = rescore or RescoreConfig()
    prediction = yield from forward(segmenter.iter_predict(events), 0.0, 0.3, "model: ")
    _hit, signal = hit_cell_truth(events)
    rows, labels, fits = [], [], []
    for i, event in enumerate(events):
        cells = np.unique(event.cell).astype(np.int64)
        scores = prediction.cell_scores[i, cells]
        fit = fit_track(cells, scores, event.trigger_counter, config)
        fits.append(fit)
        rows.append(cell_features(fit, event, cells, scores, config))
        labels.append(signal[i, cells])
        if i % 32 == 31:
            yield Progress(0.3 + 0.3 * (i + 1) / len(events), f"track fit {i + 1}/{len(events)}")
    x, y = np.concatenate(rows), np.concatenate(labels)
    if y.all() or not y.any():
        return TuneResult(config, None, {})
    yield Progress(0.6, f"fitting {rescore.trees} trees to {len(y)} cells")
    rng = np.random.default_rng([rescore.seed, 5])
    keep = y | (rng.random(len(y)) < rescore.background_share)
    weight = np.where(y[keep], 1.0, 1.0 / rescore.background_share)
    model = HistGradientBoostingClassifier(
        max_iter=rescore.trees, max_depth=rescore.depth, max_leaf_nodes=2 ** rescore.depth,
        learning_rate=rescore.learning_rate, early_stopping=False, random_state=rescore.seed)
    model.fit(x[keep], y[keep], sample_weight=weight)
    trees = BoostedTrees.from_sklearn(model, FEATURE_NAMES)
    combined = np.zeros((len(events), N_CELLS), dtype=np.float32)
    for i, (event, fit) in enumerate(zip(events, fits, strict=True)):
        cells = np.unique(event.cell).astype(np.int64)
        combined[i, cells] = combine(fit, event, cells, prediction.cell_scores[i, cells],
                                     config, trees, rows[i])
    summary = cell_level(events, combined)
    tuned = replace(config, threshold=float(np.clip(summary.threshold_at_retention, 0.0, 1.0)))
    for i, (event, fit) in enumerate(zip(events, fits, strict=True)):  # as iter_fit_events
        cells = np.unique(event.cell).astype(np.int64)
        fits[i], combined[i, cells] = confirmed(fit, event, cells,
                                                prediction.cell_scores[i, cells], tuned, trees,
                                                rows[i])
    summary = cell_level(events, combined)
    resolution = pt_resolution(events, fits)
    if resolution.get("fitted", 0) >= 10:
        tuned = replace(tuned, pt_scale=float(np.clip(
            config.pt_scale / (1.0 + resolution["bias"]), 0.5, 2.0)))
    figures = summary.figures()
    figures.update(tracks_found=int(sum(f.found for f in fits)), pt_resolution=resolution,
                   events=len(events))
    yield Progress(1.0, "tuned")
    return TuneResult(tuned, trees, figures)


def tuning_events(rescore: RescoreConfig) -> Generator[Progress, None, list[Event]]:
    """The fresh synthetic events :func:`iter_tune_model` tunes on (see the module doc)."""
    from engines.cdc.synthetic import generate_events
    from engines.cdc.training import hide_triggers

    rng = np.random.default_rng([rescore.seed, 4])
    events = yield from generate_events(rescore.events, rescore.occupancy,
                                        int(rng.integers(2**31)), rescore.signal_fraction)
    return hide_triggers(list(events), rescore.no_trigger_fraction, rng)


def store(segmenter, result: TuneResult, rescore: RescoreConfig, key: str) -> None:
    """Put a tuning result into ``segmenter``'s sidecar fields (figures under ``key``)."""
    segmenter.track_fit = {**result.config.to_json(), "rescore": rescore.to_json(),
                           "rescorer": None if result.rescorer is None
                           else result.rescorer.to_json()}
    segmenter.metrics[key] = result.figures


def iter_tune_model(segmenter, rescore: RescoreConfig | None = None
                    ) -> Generator[Progress, None, TuneResult]:
    """Re-tune ``segmenter``'s second stage on fresh events of the training seeds (its fit
    settings kept, threshold and momentum scale re-measured) and store it in the segmenter."""
    rescore = rescore or RescoreConfig()
    events = yield from forward(tuning_events(rescore), 0.0, 0.3,
                                f"generating {rescore.events} events: ")
    base = replace(segmenter.fit_config(), threshold=0.5, pt_scale=1.0)
    result = yield from forward(tune(segmenter, events, base, rescore), 0.3, 0.7)
    segmenter.metrics.pop("val_with_fit", None)  # measured on the stage it replaces
    store(segmenter, result, rescore, "tune_with_fit")
    return result
