"""The peer: a gradient-boosted per-hit classifier on local features (the previous method's
first stage, before the Hough transform; COMET Phase-I TDR).

Features of each hit (:data:`FEATURE_NAMES`): its time from the reference and its charge in
decades from the event's median (the unit-free features of :mod:`engines.cdc.features`),
whether the event has a trigger time, its LayerID, its Δφ to the trigger counter (0 without
one), how many hits its cell holds and its rank in time among them, and what its neighbour
cells (same layer ±1 and the nearest cells of the adjacent layers, see
:mod:`engines.cdc.geometry`) show: how many are hit, how many hold a hit within
``time_window_ns`` of it, the smallest time difference to a neighbouring hit and the mean
charge feature of the time-matched neighbouring hits.

Evaluation by 2-fold cross-fitting. scikit-learn models cannot be saved without pickle, which
this project refuses (a model file must never run code), so the peer is not stored with the
U-Net. Instead it is fitted on the evaluation events themselves: the events are split in two
halves (seeded; the events with a signal track and those without are each dealt alternately
to the halves, so a file with few signal windows has some in both), a classifier trained on half A scores half B and one trained on half B scores
half A. Every hit is thus scored by a classifier that never saw its event, and the peer sees
the same occupancy as the events it is scored on (an advantage over a model trained once).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.features import hit_table
from engines.cdc.geometry import N_CELLS, get_geometry
from engines.core.config import param, to_json, validate
from engines.core.errors import InputError
from engines.core.progress import Progress

FEATURE_NAMES = ("time_ns", "log10_charge", "trigger_known", "layer", "delta_phi",
                 "cell_hits", "rank_in_cell", "neighbours_hit", "neighbours_in_time",
                 "min_neighbour_dt_ns", "neighbour_charge_in_time")
_MAX_RANK = 16
_NO_NEIGHBOUR_DT = 5000.0


@dataclass(frozen=True)
class PeerConfig:
    """Settings of the GBDT peer (histogram gradient boosting on per-hit features)."""

    max_iter: int = param(200, label="Boosting rounds", range=(10, 2000), step=10)
    learning_rate: float = param(0.1, label="Learning rate", range=(0.001, 1.0), step=0.01)
    max_leaf_nodes: int = param(31, label="Leaves per tree", range=(4, 256))
    time_window_ns: float = param(100.0, label="Neighbour time window", unit="ns",
                                  range=(1.0, 1000.0), help="neighbour time agreement")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1))

    def __post_init__(self) -> None:
        validate(self)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)


def _chunk_features(events: Sequence[Event], window: float) -> np.ndarray:
    geometry = get_geometry()
    hits = hit_table(events)
    event, cell, time, adc = hits.event, hits.cell, hits.time_ns, hits.charge
    dphi = np.nan_to_num(hits.delta_phi)
    key = event * N_CELLS + cell
    order = np.lexsort((time, key))
    sorted_key = key[order]
    start = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    group = np.cumsum(start) - 1
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - np.flatnonzero(start)[group]
    multiplicity = np.bincount(key, minlength=len(events) * N_CELLS)
    slots = min(_MAX_RANK, int(rank.max()) + 1) if len(rank) else 1
    kept = rank < slots
    times = np.full((len(events) * N_CELLS, slots), np.nan)
    adcs = np.zeros_like(times)
    times[key[kept], rank[kept]] = time[kept]
    adcs[key[kept], rank[kept]] = adc[kept]
    neighbours = geometry.neighbour_table[cell]                       # (n, k)
    exists = neighbours >= 0
    nkey = event[:, None] * N_CELLS + np.where(exists, neighbours, 0)
    neighbour_hit = exists & (multiplicity[nkey] > 0)
    dt = np.abs(times[nkey] - time[:, None, None])                    # (n, k, slots)
    dt = np.where(exists[:, :, None] & np.isfinite(dt), dt, np.inf)
    in_time = dt <= window
    matched_adc = np.where(in_time, adcs[nkey], 0.0).sum(axis=(1, 2))
    n_matched = in_time.sum(axis=(1, 2))
    min_dt = np.minimum(dt.min(axis=(1, 2)), _NO_NEIGHBOUR_DT)
    columns = [time, hits.charge, hits.trigger_known, geometry.layer_of_cell[cell], dphi,
               multiplicity[key], rank,
               neighbour_hit.sum(axis=1), in_time.any(axis=2).sum(axis=1), min_dt,
               np.divide(matched_adc, n_matched, out=np.zeros_like(matched_adc),
                         where=n_matched > 0)]
    return np.stack(columns, axis=1).astype(np.float32)


def hit_features(events: Sequence[Event], time_window_ns: float = 100.0,
                 chunk: int = 64) -> np.ndarray:
    """Local features of every hit, (n_hits_total, len(FEATURE_NAMES)) float32.

    Rows follow the events in order and each event's hits in order.
    """
    parts = [_chunk_features(events[i:i + chunk], time_window_ns)
             for i in range(0, len(events), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, len(FEATURE_NAMES)), np.float32)


def _classifier(config: PeerConfig):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=config.max_iter, learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes, early_stopping=False,
        random_state=config.seed)


def iter_cross_fit(events: Sequence[Event], config: PeerConfig | None = None
                   ) -> Generator[Progress, None, list[np.ndarray]]:
    """Score every hit of ``events`` by 2-fold cross-fitting (see the module docstring).

    Yields Progress; returns one (n_hits,) float32 score array per event.

    Raises
    ------
    InputError
        Fewer than 4 events, events without truth, or fewer than two events with signal hits
        (a half without signal).
    """
    config = config or PeerConfig()
    events = list(events)
    if len(events) < 4:
        raise InputError(f"the peer needs at least 4 events with truth, got {len(events)}")
    if not all(e.has_truth for e in events):
        raise InputError("the peer needs events with truth (is_signal)")
    yield Progress(0.0, "peer: features")
    features = hit_features(events, config.time_window_ns)
    labels = np.concatenate([e.is_signal for e in events])
    bounds = np.cumsum([0] + [e.n_hits for e in events])
    rng = np.random.default_rng(config.seed)
    with_signal = np.array([e.n_signal_hits > 0 for e in events])
    if with_signal.sum() < 2:
        raise InputError(f"the peer needs at least 2 events with signal hits to cross-fit, "
                         f"got {int(with_signal.sum())}")
    dealt = np.r_[rng.permutation(np.flatnonzero(with_signal)),
                  rng.permutation(np.flatnonzero(~with_signal))]
    half = np.zeros(len(events), dtype=bool)
    half[dealt[::2]] = True
    in_half = np.repeat(half, np.diff(bounds))
    scores = np.zeros(len(labels), dtype=np.float32)
    for fold, train_rows in enumerate((in_half, ~in_half)):
        y = labels[train_rows]
        if y.all() or not y.any():
            raise InputError("the peer's training half needs both signal and background hits")
        yield Progress(0.1 + 0.45 * fold, f"peer: fitting fold {fold + 1}/2")
        model = _classifier(config).fit(features[train_rows], y)
        scores[~train_rows] = model.predict_proba(features[~train_rows])[:, 1]
    yield Progress(1.0, "peer: done")
    return [scores[bounds[i]:bounds[i + 1]] for i in range(len(events))]
