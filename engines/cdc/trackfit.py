"""The second stage's fit: the signal helix's circle through the U-Net's hits, and p_T.

The paper stops at hit segmentation; the experiment wants the electron's momentum. Per event:

Candidates
    Hit cells with a U-Net cell score ≥ ``min_score`` (at most ``max_candidates``, the highest),
    placed at their wire's end-view position at the chamber's middle (z = 0,
    :func:`engines.cdc.trajectory.wire_xy`): without the hit's z a stereo wire is known only to
    ±5 cm along the layer, so that is the scatter the fit allows.
Robust circle (RANSAC)
    ``iterations`` circles through three candidates drawn with probability ∝ score; a circle
    counts if its radius is within ``radius_cm`` (p_T = 0.3·B·R: 54…120 MeV/c at 1 T), it
    passes within ``target_cm`` of the chamber axis (the electron starts on the stopping
    target, radius 10 cm) and, with a known trigger counter, within ``trigger_cm`` of that
    counter. The circle with the highest sum of the scores of the candidates within
    ``inlier_cm`` wins.
Least squares
    Gauss–Newton on the geometric distances ``|‖p − c‖ − R|``, each candidate weighted by its
    U-Net score times a Tukey bisquare of its distance (scale ``3·inlier_cm``), a few
    iterations. The chamber axis counts as one more point of weight ``target_weight`` (the
    electron starts on the target): without it a short arc, few layers deep and zig-zagging
    by the stereo twist, bends to a larger circle that misses the target, and the track is
    lost (13 % of the signal tracks at 40 % occupancy). A track is "found" when at least ``min_cells`` candidates lie within
    ``inlier_cm`` of the final circle and it still meets the radius and target constraints.
Helix (stereo)
    With ``stereo`` on, the fit then frees the hits' z: along the helix z = z0 + k·ψ (ψ the
    turning angle from the point of the circle nearest the axis, where the electron starts;
    the first turn), and each wire is placed at its hit's z, where its stereo angle puts it
    (adjacent layers twist oppositely, so a wrong z shows as a zig-zag). Gauss–Newton over
    (centre, R, z0, k) with the same weights (and the axis point); it removes most of the
    ±5 cm stereo scatter and with it the bias of the end-view fit.
Momentum
    The radius of a last helix fit of the track's cells without the axis point (the target is
    a 10 cm disk, not the axis: the axis pull would bias R); p_T = 0.3·B·R (B = ``field_t``)
    times ``pt_scale``, a momentum-scale calibration that
    :func:`engines.cdc.second_stage.tune` measures on its events (wires, not drift circles, mark the hits,
    and the cells where the track turns lie on average outside it, so the radius comes out
    1–2 % large); :func:`pt_resolution` compares it with the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.geometry import get_geometry
from engines.cdc.trajectory import HALF_LENGTH_CM, pt_mev, wire_xy
from engines.core.config import from_json, param, to_json, validate
from engines.core.errors import InputError, ModelError

FAR_CM = 30.0


def _increasing(pair: tuple[float, float]) -> str | None:
    return None if len(pair) == 2 and 0 < pair[0] < pair[1] else "must be 0 < low < high"


@dataclass(frozen=True)
class TrackFitConfig:
    """Settings of the track fit and of the re-scoring (see the module docstring)."""

    min_score: float = param(0.3, label="Least U-Net score", range=(0.0, 1.0), step=0.05,
                             help="cells scored at least this are fit candidates")
    max_candidates: int = param(300, label="Most candidates", range=(3, 5000))
    iterations: int = param(400, label="RANSAC circles", range=(10, 100_000))
    inlier_cm: float = param(4.0, label="Inlier distance", unit="cm", range=(0.1, 30.0),
                             help="candidates this close to the circle support it")
    radius_cm: tuple[float, float] = param((18.0, 40.0), label="Radius range", unit="cm",
                                           check=_increasing)
    target_cm: float = param(14.0, label="Target distance", unit="cm", range=(0.0, 100.0),
                             help="the circle passes this close to the chamber axis")
    trigger_cm: float = param(8.0, label="Trigger distance", unit="cm", range=(0.0, 100.0),
                              help="the circle passes this close to the trigger counter")
    target_weight: float = param(1.0, label="Target pull", range=(0.0, 100.0),
                                 help="weight of the chamber axis as one more point of the "
                                 "circle and helix fits (the electron starts on the target); "
                                 "p_T comes from a refit of the track's hits without it")
    min_cells: int = param(10, label="Least track cells", range=(3, 1000))
    confirm_cells: int = param(10, label="Least kept cells", range=(0, 1000),
                               help="with re-scoring trees a track counts only if the "
                               "combined score keeps this many of its cells; else its "
                               "cells are re-scored without it (0: every fitted track counts)")
    stereo: bool = param(True, label="Helix fit with stereo z",
                         help="place each wire at its hit's z along the fitted helix")
    field_t: float = param(1.0, label="Solenoid field", unit="T", range=(0.1, 5.0))
    drift_ns_per_cm: float = param(400.0, label="Drift time per cm", unit="ns/cm",
                                   range=(10.0, 5000.0),
                                   help="the drift-time consistency feature's t = t0 + v·d")
    pt_scale: float = param(1.0, label="Momentum scale", range=(0.5, 2.0), cli=False,
                            help="fitted p_T = pt_scale · 0.3·B·R, calibrated on validation")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1))
    threshold: float = param(0.5, label="Combined-score threshold", range=(0.0, 1.0),
                             cli=False, help="cut keeping 90 % of the validation signal")

    def __post_init__(self) -> None:
        validate(self)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> TrackFitConfig:
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        try:
            return from_json(cls, {k: v for k, v in data.items() if k in known},
                             "track-fit settings")
        except InputError as exc:
            raise ModelError(f"track-fit settings in the model description are invalid "
                             f"({exc})") from None


@dataclass
class TrackFit:
    """The fitted circle of one event (``found`` False: no track).

    Attributes
    ----------
    centre_cm : (float, float)
    radius_cm, pt_mev : float
        NaN when not found.
    n_cells : int
        Candidates within the inlier distance.
    strength : float
        Sum of their U-Net scores.
    rms_cm : float
        RMS distance of the inliers from the circle.
    cells : (k,) int64
        The inlier cells (the track).
    z0_cm, dz_dpsi_cm : float
        The helix's z at its start and per radian of turning (0 without the stereo fit).
    """

    found: bool
    centre_cm: tuple[float, float] = (float("nan"), float("nan"))
    radius_cm: float = float("nan")
    pt_mev: float = float("nan")
    n_cells: int = 0
    strength: float = 0.0
    rms_cm: float = float("nan")
    cells: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    z0_cm: float = 0.0
    dz_dpsi_cm: float = 0.0

    def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance (cm) of end-view points from the circle; ``FAR_CM`` without a track."""
        if not self.found:
            return np.full(np.shape(x), FAR_CM)
        return np.abs(np.hypot(x - self.centre_cm[0], y - self.centre_cm[1]) - self.radius_cm)

    def cell_distance(self, cells: np.ndarray, turns: int = 1) -> np.ndarray:
        """Distance (cm) of cells' wires from the circle, each wire placed at the z of the
        fitted helix where it meets the circle, on the nearest of the helix's first ``turns``
        turns (the fit follows the first; a curling track comes back on the same circle at
        another z); ``FAR_CM`` without a track."""
        if not self.found:
            return np.full(len(cells), FAR_CM)
        params = np.array([*self.centre_cm, self.radius_cm, self.z0_cm, self.dz_dpsi_cm])
        wires = _WireSet(cells)
        return np.min([np.abs(_helix_residuals(params, wires, n)) for n in range(turns)],
                      axis=0)

    def to_json(self) -> dict[str, Any]:
        out = {"found": self.found, "n_cells": self.n_cells,
               "strength": round(float(self.strength), 4)}
        if self.found:
            out.update(centre_cm=[round(float(v), 3) for v in self.centre_cm],
                       radius_cm=round(self.radius_cm, 3), pt_mev=round(self.pt_mev, 3),
                       rms_cm=round(self.rms_cm, 3))
        return out


def _circles(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """Circumcircles of point triples (m, 2) each: centres x, y and radii (NaN if collinear)."""
    ax, ay = p1[:, 0], p1[:, 1]
    bx, by = p2[:, 0], p2[:, 1]
    cx, cy = p3[:, 0], p3[:, 1]
    d = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    with np.errstate(divide="ignore", invalid="ignore"):
        a2, b2, c2 = ax**2 + ay**2, bx**2 + by**2, cx**2 + cy**2
        ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
        uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return ux, uy, np.hypot(ax - ux, ay - uy)


def _allowed(ux, uy, r, config: TrackFitConfig, counter_xy) -> np.ndarray:
    ok = np.isfinite(r) & (r >= config.radius_cm[0]) & (r <= config.radius_cm[1])
    ok &= np.abs(np.hypot(ux, uy) - r) <= config.target_cm
    if counter_xy is not None:
        ok &= np.abs(np.hypot(ux - counter_xy[0], uy - counter_xy[1]) - r) <= config.trigger_cm
    return ok


def _refine(points: np.ndarray, weights: np.ndarray, centre: np.ndarray, radius: float,
            scale: float, iterations: int = 6, target_weight: float = 0.0
            ) -> tuple[np.ndarray, float]:
    """Weighted Gauss–Newton circle fit with Tukey bisquare weights of scale ``scale``; the
    chamber axis counts as one more point of weight ``target_weight`` (no Tukey cut)."""
    points = np.vstack([points, [0.0, 0.0]])
    for _ in range(iterations):
        delta = points - centre
        rho = np.maximum(np.hypot(delta[:, 0], delta[:, 1]), 1e-9)
        residual = rho - radius
        w = weights * np.clip(1.0 - (residual[:-1] / scale) ** 2, 0.0, None) ** 2
        w = np.append(w, target_weight)
        if np.count_nonzero(w > 0) < 3:
            break
        jacobian = np.column_stack([-delta[:, 0] / rho, -delta[:, 1] / rho,
                                    -np.ones(len(rho))])
        a = jacobian.T @ (jacobian * w[:, None])
        b = -jacobian.T @ (w * residual)
        try:
            step = np.linalg.solve(a + 1e-9 * np.eye(3), b)
        except np.linalg.LinAlgError:
            break
        centre, radius = centre + step[:2], radius + step[2]
        if np.abs(step).max() < 1e-4:
            break
    return centre, float(radius)


class _WireSet:
    """Layer radius, mid-plane azimuth and stereo twist of the wires of ``cells``."""

    def __init__(self, cells: np.ndarray) -> None:
        geometry = get_geometry()
        layer = geometry.layer_of_cell[cells]
        self.radius = geometry.layer_radius_cm[layer]
        self.twist = geometry.stereo_twist_rad_per_cm[layer]
        x, y = wire_xy(cells)
        self.phi0 = np.arctan2(y, x)  # at z = 0

    def xy(self, z: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        phi = self.phi0 + self.twist * z
        return self.radius * np.cos(phi), self.radius * np.sin(phi)


def _helix_residuals(params: np.ndarray, wires: _WireSet, turn: int = 0) -> np.ndarray:
    """Signed distances from the circle of wires placed at their z on the helix ``params`` =
    (cx, cy, R, z0, k): z = z0 + k·(ψ + 2π·turn), ψ the anticlockwise turn from the circle's
    point nearest the axis (evaluated at the mid-plane position, then once more at the new z)."""
    cx, cy, radius, z0, k = params
    start = np.arctan2(-cy, -cx)
    z = np.zeros(len(wires.radius))
    for _ in range(2):
        x, y = wires.xy(z)
        psi = np.mod(np.arctan2(y - cy, x - cx) - start, 2.0 * np.pi) + 2.0 * np.pi * turn
        z = np.clip(z0 + k * psi, -HALF_LENGTH_CM, HALF_LENGTH_CM)
    x, y = wires.xy(z)
    return np.hypot(x - cx, y - cy) - radius


def _with_target(params: np.ndarray, wires: _WireSet) -> np.ndarray:
    """Helix residuals of the wires and, last, the chamber axis's distance from the circle."""
    return np.append(_helix_residuals(params, wires), np.hypot(params[0], params[1]) - params[2])


def _refine_helix(wires: _WireSet, weights: np.ndarray, centre: np.ndarray, radius: float,
                  scale: float, iterations: int = 8, target_weight: float = 0.0,
                  z0: float = 0.0, k: float = 0.0) -> np.ndarray:
    """Weighted Gauss–Newton over (cx, cy, R, z0, k) with Tukey weights (numeric Jacobian);
    the chamber axis is one more point of weight ``target_weight``."""
    params = np.array([centre[0], centre[1], radius, z0, k])
    steps = np.array([1e-3, 1e-3, 1e-3, 0.05, 0.05])
    for _ in range(iterations):
        residual = _with_target(params, wires)
        w = weights * np.clip(1.0 - (residual[:-1] / scale) ** 2, 0.0, None) ** 2
        if np.count_nonzero(w > 0) < 6:
            break
        w = np.append(w, target_weight)
        jacobian = np.column_stack([
            (_with_target(params + np.eye(5)[j] * steps[j], wires) - residual) / steps[j]
            for j in range(5)])
        a = jacobian.T @ (jacobian * w[:, None]) + np.diag([1e-6, 1e-6, 1e-6, 1e-4, 1e-4])
        try:
            step = np.linalg.solve(a, -jacobian.T @ (w * residual))
        except np.linalg.LinAlgError:
            break
        params = params + step
        params[3] = np.clip(params[3], -HALF_LENGTH_CM, HALF_LENGTH_CM)
        if np.abs(step).max() < 1e-4:
            break
    return params


def fit_track(cells: np.ndarray, scores: np.ndarray, trigger_counter: int = -1,
              config: TrackFitConfig | None = None) -> TrackFit:
    """Fit the signal circle of one event.

    Parameters
    ----------
    cells, scores : (k,)
        The event's hit cells and their U-Net cell scores in [0, 1].
    trigger_counter
        CTH counter 0…127, -1 when unknown (no trigger constraint).
    """
    config = config or TrackFitConfig()
    cells = np.asarray(cells, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    geometry = get_geometry()
    pick = np.flatnonzero(scores >= config.min_score)
    if len(pick) > config.max_candidates:
        pick = pick[np.argsort(-scores[pick])[:config.max_candidates]]
    if len(pick) < 3:
        return TrackFit(False)
    x, y = wire_xy(cells[pick])
    points = np.column_stack([x, y])
    w = scores[pick]
    counter_xy = None
    if trigger_counter >= 0:
        r_c, phi_c = geometry.cth_radius_cm[trigger_counter], geometry.cth_phi_center[
            trigger_counter]
        counter_xy = (r_c * np.cos(phi_c), r_c * np.sin(phi_c))
    rng = np.random.default_rng(config.seed)
    triples = np.stack([rng.choice(len(pick), 3, replace=False, p=w / w.sum())
                        for _ in range(config.iterations)]) if len(pick) > 3 else np.array(
        [[0, 1, 2]])
    ux, uy, r = _circles(points[triples[:, 0]], points[triples[:, 1]], points[triples[:, 2]])
    ok = _allowed(ux, uy, r, config, counter_xy)
    if not ok.any():
        return TrackFit(False)
    ux, uy, r = ux[ok], uy[ok], r[ok]
    distance = np.abs(np.hypot(points[None, :, 0] - ux[:, None],
                               points[None, :, 1] - uy[:, None]) - r[:, None])
    support = ((distance <= config.inlier_cm) * w[None, :]).sum(axis=1)
    best = int(np.argmax(support))
    centre, radius = _refine(points, w, np.array([ux[best], uy[best]]), float(r[best]),
                             3.0 * config.inlier_cm, target_weight=config.target_weight)
    z0 = dz = 0.0
    if config.stereo:
        wires = _WireSet(cells[pick])
        near = np.abs(np.hypot(*(points - centre).T) - radius) <= 3.0 * config.inlier_cm
        helix = _refine_helix(_WireSet(cells[pick][near]), w[near], centre, radius,
                              3.0 * config.inlier_cm, target_weight=config.target_weight)
        if np.all(np.isfinite(helix)):
            centre, radius, z0, dz = helix[:2], float(helix[2]), float(helix[3]), float(helix[4])
        d = np.abs(_helix_residuals(np.array([*centre, radius, z0, dz]), wires))
    else:
        d = np.abs(np.hypot(*(points - centre).T) - radius)
    inlier = d <= config.inlier_cm
    loose = replace(config, trigger_cm=min(100.0, 2 * config.trigger_cm))
    found = (inlier.sum() >= config.min_cells
             and bool(_allowed(np.array([centre[0]]), np.array([centre[1]]), np.array([radius]),
                               loose, counter_xy)[0]))
    if not found:
        return TrackFit(False, n_cells=int(inlier.sum()), strength=float(w[inlier].sum()))
    r_pt = radius
    if config.stereo and config.target_weight > 0:  # the momentum from the hits alone
        free = _refine_helix(_WireSet(cells[pick][inlier]), w[inlier], centre, radius,
                             3.0 * config.inlier_cm, z0=z0, k=dz)
        if np.all(np.isfinite(free)) and _allowed(free[:1], free[1:2], free[2:3], loose,
                                                  counter_xy)[0]:
            r_pt = float(free[2])
    return TrackFit(True, (float(centre[0]), float(centre[1])), radius,
                    float(pt_mev(r_pt, config.field_t) * config.pt_scale), int(inlier.sum()),
                    float(w[inlier].sum()), float(np.sqrt(np.mean(d[inlier] ** 2))),
                    cells[pick][inlier], z0, dz)


def true_pt(event: Event) -> float:
    """The signal electron's true p_T (MeV/c) at its hits: the median over its signal hits
    of sqrt(p_x² + p_y²); NaN without momentum truth or signal."""
    if event.momentum_mev is None or not event.is_signal.any():
        return float("nan")
    p = event.momentum_mev[event.is_signal]
    p = p[np.all(np.isfinite(p), axis=1)]
    return float(np.median(np.hypot(p[:, 0], p[:, 1]))) if len(p) else float("nan")


def pt_resolution(events: Sequence[Event], fits: Sequence[TrackFit]) -> dict[str, Any]:
    """Fitted vs true p_T over events with signal, truth momentum and a found track:
    ``events`` counted, ``found`` (share of signal events with a track), the median bias and
    the resolution (RMS and a robust σ = 1.4826·MAD of (fit − true) / true)."""
    pairs = [(f.pt_mev, true_pt(e)) for e, f in zip(events, fits, strict=True)
             if e.n_signal_hits > 0]
    with_signal = len(pairs)
    pairs = np.array([p for p in pairs if np.isfinite(p[0]) and np.isfinite(p[1])])
    out: dict[str, Any] = {"signal_events": with_signal, "fitted": int(len(pairs)),
                           "found_fraction": len(pairs) / with_signal if with_signal else
                           float("nan")}
    if len(pairs) == 0:
        return out
    relative = (pairs[:, 0] - pairs[:, 1]) / pairs[:, 1]
    median = float(np.median(relative))
    out.update(bias=median, rms=float(np.sqrt(np.mean(relative**2))),
               sigma=float(1.4826 * np.median(np.abs(relative - median))),
               true_pt_median_mev=float(np.median(pairs[:, 1])))
    return out
