"""Drift-time consistency of the hits along a fitted track (a second-stage feature).

A signal hit's time is the track's time t0 plus its flight (a few ns along a turn) plus the
drift from the track's point of closest approach to the wire: t = t0 + v·d with v the drift
time per cm (:attr:`~engines.cdc.synthetic_signal.SignalConfig.drift_ns_per_cm`, linear here;
the real file's signal drift times span 0–450 ns over a cell's ~0.8 cm half-width, the same
range). A background hit that happens to sit on the signal circle has its own track's time
and drift, so its time does not follow the fitted distance.

:func:`drift_fit` refits the track's helix (centre, R, z0, dz/dψ) and t0 to the hit times of
its cells: Gauss–Newton on ``v·|d(wire, helix)| − (t − t0)`` with Tukey weights times the
U-Net scores, starting from the wire fit (whose distances are only good to ~0.25 cm, 100 ns,
because a wire, not its drift circle, marks each hit). t0 comes from the track itself, so a
file without trigger times works the same. :func:`drift_residuals` then gives every cell's
residual ``t − t0 − v·d`` of its hit that fits best, on the nearest of the helix's turns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.cdc.events import Event
from engines.cdc.trackfit import TrackFit, _helix_residuals, _WireSet

TUKEY_C = 4.685
MIN_SCALE_NS = 10.0
FAR_DRIFT_NS = 2000.0


@dataclass(frozen=True)
class DriftFit:
    """The helix (cx, cy, R, z0, k) and t0 (ns) fitted to the track's hit times, and the
    robust scale (ns) of its residuals; ``ok`` False where there was nothing to fit."""

    ok: bool
    params: np.ndarray
    t0_ns: float = float("nan")
    scale_ns: float = FAR_DRIFT_NS


def _cell_times(event: Event, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All hits of ``cells`` (sorted, unique): their cell's index into ``cells`` and time."""
    index = np.searchsorted(cells, event.cell)
    inside = (index < len(cells)) & (cells[np.minimum(index, len(cells) - 1)] == event.cell)
    return index[inside], event.time_ns[inside].astype(np.float64)


def _residuals(params: np.ndarray, t0: float, wires: _WireSet, times: np.ndarray,
               velocity: float, turns: int) -> np.ndarray:
    """Signed residuals t − t0 − v·d on the nearest (in time) of ``turns`` turns."""
    r = np.array([times - t0 - velocity * np.abs(_helix_residuals(params, wires, n))
                  for n in range(turns)])
    return np.take_along_axis(r, np.argmin(np.abs(r), axis=0)[None], 0)[0]


def drift_fit(fit: TrackFit, event: Event, scores: np.ndarray, cells: np.ndarray,
              velocity: float, iterations: int = 12) -> DriftFit:
    """Refit ``fit``'s helix and t0 to the times of its cells' hits (first turn; each cell's
    hit nearest the track's median time). ``cells`` (sorted) and ``scores`` are the event's
    hit cells and their U-Net scores."""
    params = np.array([*fit.centre_cm, fit.radius_cm, fit.z0_cm, fit.dz_dpsi_cm], np.float64)
    if not fit.found or len(fit.cells) < 6:
        return DriftFit(False, params)
    track = np.asarray(fit.cells, np.int64)
    on = np.isin(event.cell, track)
    t_track = float(np.median(event.time_ns[on]))
    order = np.lexsort((np.abs(event.time_ns[on] - t_track), event.cell[on]))
    hit_cells, hit_times = event.cell[on][order], event.time_ns[on][order].astype(np.float64)
    first = np.r_[True, np.diff(hit_cells) != 0]
    times = hit_times[first]                                  # track's cells, sorted
    weights = scores[np.searchsorted(cells, np.sort(track))]
    wires = _WireSet(np.sort(track))
    x = np.append(params, np.median(times - velocity * np.abs(_helix_residuals(params, wires))))
    steps = np.array([1e-3, 1e-3, 1e-3, 1e-2, 1e-3, 0.1])

    def residual(v: np.ndarray) -> np.ndarray:
        return velocity * np.abs(_helix_residuals(v[:5], wires)) - (times - v[5])

    scale = 60.0
    for _ in range(iterations):
        r = residual(x)
        u = r / (TUKEY_C * scale)
        w = np.where(np.abs(u) < 1, (1 - u ** 2) ** 2, 0.0) * weights
        if np.count_nonzero(w > 0) < 6:
            break
        jacobian = np.column_stack([(residual(x + np.eye(6)[j] * steps[j]) - r) / steps[j]
                                    for j in range(6)])
        a = jacobian.T @ (jacobian * w[:, None]) + 1e-6 * np.eye(6)
        try:
            x = x + np.linalg.solve(a, -jacobian.T @ (w * r))
        except np.linalg.LinAlgError:
            break
        r = np.abs(residual(x))
        scale = max(MIN_SCALE_NS, 1.4826 * float(np.median(r[w > 0])))
    if not np.all(np.isfinite(x)):
        return DriftFit(False, params)
    return DriftFit(True, x[:5], float(x[5]), scale)


def drift_residuals(drift: DriftFit, event: Event, cells: np.ndarray, velocity: float,
                    turns: int) -> np.ndarray:
    """Per cell of ``cells`` (sorted, unique): the residual t − t0 − v·d (ns) of its hit that
    fits best, d on the nearest of the helix's first ``turns`` turns; ``FAR_DRIFT_NS``
    without a drift fit, clipped to ±``FAR_DRIFT_NS``."""
    if not drift.ok or len(cells) == 0:
        return np.full(len(cells), FAR_DRIFT_NS)
    index, times = _cell_times(event, cells)
    wires = _WireSet(cells[index])
    r = _residuals(drift.params, drift.t0_ns, wires, times, velocity, turns)
    best = np.full(len(cells), np.inf)
    np.minimum.at(best, index, np.abs(r))
    signed = np.full(len(cells), FAR_DRIFT_NS)
    hit_best = np.abs(r) == best[index]
    signed[index[hit_best]] = r[hit_best]
    return np.clip(signed, -FAR_DRIFT_NS, FAR_DRIFT_NS)
