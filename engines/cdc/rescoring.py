"""Re-scoring of hit cells by the U-Net score and the fitted track (the second stage's output).

Every hit cell of an event gets a combined score from :data:`FEATURE_NAMES`:

cell
    the U-Net logit; the largest and the mean U-Net score of its neighbours (same layer ±1,
    nearest cells of the adjacent layers, :attr:`CdcGeometry.neighbour_table`) and the share
    of them hit; its hits; its layer.
cell and track
    the distance of its wire from the fitted helix (the wire placed at the helix's z on its
    first turn, and on the nearest of its first ``TURNS`` turns: a curling track's later
    turns lie on the same circle at other z, so their stereo wires sit elsewhere); the
    signed time of its hit nearest the track's time minus the track's (median) time, and its
    absolute value (a track's hits lie within its drift time, ~450 ns, background anywhere in
    the window); that hit's charge, decades from the event's median and from the track's.
track and event
    whether a track was found, its cells, their mean score and RMS distance, how far the
    circle passes from the chamber axis, whether the trigger counter is known, the event's
    occupancy.
drift (:mod:`engines.cdc.drift`)
    the helix and the track's t0 refitted to its hits' times (t = t0 + v·d, v =
    ``drift_ns_per_cm``): the cell's residual t − t0 − v·d of its best-fitting hit, on the
    nearest of the first ``TURNS`` turns, signed and absolute; the robust scale of the track's
    residuals and the share of its cells within ``DRIFT_SHARE_NS`` (a background arc taken for
    the track does not follow one t0).

The combination is a gradient-boosted tree ensemble (:class:`engines.core.boosted_trees.
BoostedTrees`) fitted by :func:`engines.cdc.second_stage.tune` on events of the training
seeds and stored in the model's sidecar; without one the combined score is the U-Net score.
A fitted track then counts only if the combined score keeps ``confirm_cells`` of its cells
(:func:`confirmed`): in windows without signal the fit still finds a background arc now and
then (14 of 63 on the real-like file), which the trees score low, and it is dropped.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np

from engines.cdc.drift import drift_fit, drift_residuals
from engines.cdc.events import Event
from engines.cdc.features import charge_reference, log_charge
from engines.cdc.geometry import N_CELLS, N_READOUT, get_geometry
from engines.cdc.trackfit import FAR_CM, TrackFit, TrackFitConfig, fit_track
from engines.cdc.trajectory import wire_xy
from engines.core.boosted_trees import BoostedTrees
from engines.core.progress import Progress

FEATURE_NAMES = ("logit", "neighbour max score", "neighbour mean score", "neighbours hit",
                 "hits in cell", "layer", "distance cm", "distance any turn cm", "time offset ns", "abs time offset ns",
                 "charge from event median", "charge from track median", "track found",
                 "track cells", "track mean score", "track rms cm", "track axis distance cm",
                 "trigger known", "occupancy", "drift residual ns", "abs drift residual ns",
                 "track drift scale ns", "track drift share")
FAR_TIME_NS = 5000.0
TURNS = 6
DRIFT_SHARE_NS = 50.0


def _nearest_hits(event: Event, cells: np.ndarray, t_track: float) -> np.ndarray:
    """Index of the hit of each of ``cells`` nearest in time to ``t_track`` (the earliest hit
    when ``t_track`` is NaN)."""
    key = np.abs(event.time_ns - t_track) if np.isfinite(t_track) else event.time_ns
    order = np.lexsort((key, event.cell))
    first = order[np.r_[True, np.diff(event.cell[order]) != 0]]
    return first[np.searchsorted(event.cell[first], cells)]


def cell_features(fit: TrackFit, event: Event, cells: np.ndarray, scores: np.ndarray,
                  config: TrackFitConfig) -> np.ndarray:
    """The re-scoring features of an event's hit cells ``cells`` (sorted, unique) with U-Net
    scores ``scores``: (k, len(FEATURE_NAMES)) float64."""
    geometry = get_geometry()
    k = len(cells)
    if k == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    clipped = np.clip(np.asarray(scores, np.float64), 1e-4, 1 - 1e-4)
    dense = np.zeros(N_CELLS + 1)  # the last slot stands for "no neighbour"
    dense[cells] = clipped
    hit = np.zeros(N_CELLS + 1, bool)
    hit[cells] = True
    table = geometry.neighbour_table[cells]
    table = np.where(table >= 0, table, N_CELLS)
    exists = table < N_CELLS
    n_neighbours = np.maximum(exists.sum(axis=1), 1)
    multiplicity = np.bincount(event.cell, minlength=N_CELLS)[cells]
    found = fit.found
    on_track = np.isin(event.cell, fit.cells) if found else np.zeros(event.n_hits, bool)
    t_track = float(np.median(event.time_ns[on_track])) if on_track.any() else float("nan")
    nearest = _nearest_hits(event, cells, t_track)
    charge = log_charge(event.adc[nearest])
    if np.isfinite(t_track):
        dt = np.clip(event.time_ns[nearest] - t_track, -FAR_TIME_NS, FAR_TIME_NS)
        q_track = float(np.median(log_charge(event.adc[on_track])))
    else:
        dt, q_track = np.full(k, FAR_TIME_NS), float("nan")
    if config.stereo:
        distance, any_turn = fit.cell_distance(cells), fit.cell_distance(cells, TURNS)
    else:
        distance = any_turn = fit.distance(*wire_xy(cells))
    drift = drift_fit(fit, event, clipped, cells, config.drift_ns_per_cm)
    residual = drift_residuals(drift, event, cells, config.drift_ns_per_cm, TURNS)
    on = np.isin(cells, fit.cells)
    share = float(np.mean(np.abs(residual[on]) < DRIFT_SHARE_NS)) if on.any() else 0.0
    track = ([float(fit.n_cells), fit.strength / max(fit.n_cells, 1), fit.rms_cm,
              abs(float(np.hypot(*fit.centre_cm)) - fit.radius_cm)] if found
             else [0.0, 0.0, FAR_CM, FAR_CM])
    columns = [np.log(clipped / (1 - clipped)), dense[table].max(axis=1),
               dense[table].sum(axis=1) / n_neighbours, hit[table].sum(axis=1) / n_neighbours,
               multiplicity, geometry.layer_of_cell[cells], np.minimum(distance, FAR_CM),
               np.minimum(any_turn, FAR_CM), dt,
               np.abs(dt), charge - charge_reference(event),
               charge - q_track if found else np.zeros(k), np.full(k, float(found)),
               *(np.full(k, v) for v in track), np.full(k, float(event.trigger_counter >= 0)),
               np.full(k, len(cells) / N_READOUT), residual, np.abs(residual),
               np.full(k, drift.scale_ns), np.full(k, share)]
    return np.column_stack(columns).astype(np.float64)


def combine(fit: TrackFit, event: Event, cells: np.ndarray, scores: np.ndarray,
            config: TrackFitConfig, rescorer: BoostedTrees | None,
            features: np.ndarray | None = None) -> np.ndarray:
    """Combined (U-Net + fit) scores of an event's hit cells, (k,) float32 in [0, 1]; the
    U-Net's own scores without a ``rescorer``. ``features``: :func:`cell_features` of these
    arguments when already computed."""
    if rescorer is None or len(cells) == 0:
        return np.asarray(scores, dtype=np.float32)
    if features is None:
        features = cell_features(fit, event, cells, scores, config)
    return rescorer.probability(features).astype(np.float32)


def confirmed(fit: TrackFit, event: Event, cells: np.ndarray, scores: np.ndarray,
              config: TrackFitConfig, rescorer: BoostedTrees | None,
              features: np.ndarray | None = None) -> tuple[TrackFit, np.ndarray]:
    """The fit and the combined scores, the track kept only if the combined score keeps at
    least ``config.confirm_cells`` of its cells (at ``config.threshold``); a track that fails
    (a background arc in a window without signal) is dropped and the cells are re-scored as
    in an event without a track. ``features`` as in :func:`combine`."""
    combined = combine(fit, event, cells, scores, config, rescorer, features)
    if rescorer is None or not fit.found or config.confirm_cells == 0:
        return fit, combined
    on = np.isin(cells, fit.cells)
    if np.count_nonzero(combined[on] >= config.threshold) >= config.confirm_cells:
        return fit, combined
    none = TrackFit(False, n_cells=fit.n_cells, strength=fit.strength)
    return none, combine(none, event, cells, scores, config, rescorer)


@dataclass
class EventFits:
    """Fits and combined scores of N events: ``fits`` (N TrackFit) and the combined scores as
    dense cell scores (N, 4986), 0 on cells without a hit."""

    fits: list[TrackFit]
    cell_scores: np.ndarray


def iter_fit_events(events: Sequence[Event], cell_scores: np.ndarray, config: TrackFitConfig,
                    rescorer: BoostedTrees | None = None
                    ) -> Generator[Progress, None, EventFits]:
    """Fit, re-score and confirm (:func:`confirmed`) every event's track; ``cell_scores``
    (N, 4986) are the U-Net's."""
    fits, combined = [], np.zeros((len(events), N_CELLS), dtype=np.float32)
    for i, event in enumerate(events):
        cells = np.unique(event.cell).astype(np.int64)
        scores = np.asarray(cell_scores[i])[cells]
        fit = fit_track(cells, scores, event.trigger_counter, config)
        fit, combined[i, cells] = confirmed(fit, event, cells, scores, config, rescorer)
        fits.append(fit)
        if i % 16 == 15:
            yield Progress((i + 1) / len(events), f"track fit {i + 1}/{len(events)}")
    return EventFits(fits, combined)
