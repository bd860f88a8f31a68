"""The second stage: fit the signal helix's circle to the U-Net's hits, re-score, measure p_T.

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
    iterations. A track is "found" when at least ``min_cells`` candidates lie within
    ``inlier_cm`` of the final circle and it still meets the radius and target constraints.
Helix (stereo)
    With ``stereo`` on, the fit then frees the hits' z: along the helix z = z0 + k·ψ (ψ the
    turning angle from the point of the circle nearest the axis, where the electron starts;
    the first turn), and each wire is placed at its hit's z, where its stereo angle puts it
    (adjacent layers twist oppositely, so a wrong z shows as a zig-zag). Gauss–Newton over
    (centre, R, z0, k) with the same weights; it removes most of the ±5 cm stereo scatter
    and with it the bias of the end-view fit.
Re-scoring
    Every hit cell gets a combined score, a logistic function of its U-Net logit, its distance
    to the helix, its time offset from the track (the smallest |t − t_track| over the cell's
    hits, t_track the median hit time of the track's cells: a track's hits lie within its
    drift time, ~450 ns, background ones anywhere in the window) and the track's strength
    (sum of inlier scores), with separate terms for events without a found track
    (:func:`combine`, :data:`FEATURE_NAMES`). Its weights are fitted on the validation events
    by logistic regression (:func:`tune`), which also sets the combined score's threshold at
    90 % retention. The default weights reproduce the U-Net score.
Momentum
    p_T = 0.3·B·R (B = ``field_t``) times ``pt_scale``, a momentum-scale calibration that
    :func:`tune` measures on the validation events (wires, not drift circles, mark the hits,
    and the cells where the track turns lie on average outside it, so the radius comes out
    1–2 % large); :func:`pt_resolution` compares it with the truth.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from engines.cdc.events import Event
from engines.cdc.geometry import N_CELLS, get_geometry
from engines.cdc.trajectory import HALF_LENGTH_CM, pt_mev, wire_xy
from engines.core.config import from_json, param, to_json, validate
from engines.core.errors import InputError, ModelError
from engines.core.progress import Progress

FEATURE_NAMES = ("logit with track", "logit without track", "closeness", "distance",
                 "logit × closeness", "time offset", "time offset²", "track strength",
                 "track found", "constant")
N_WEIGHTS = len(FEATURE_NAMES)
DEFAULT_WEIGHTS = (1.0, 1.0) + (0.0,) * (N_WEIGHTS - 2)
FAR_CM = 30.0
TIME_SCALE_NS = 250.0
FAR_TIME_NS = 1500.0


def _increasing(pair: tuple[float, float]) -> str | None:
    return None if len(pair) == 2 and 0 < pair[0] < pair[1] else "must be 0 < low < high"


def _weights(values: tuple[float, ...]) -> str | None:
    return None if len(values) == N_WEIGHTS else f"must be {N_WEIGHTS} numbers"


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
    min_cells: int = param(10, label="Least track cells", range=(3, 1000))
    stereo: bool = param(True, label="Helix fit with stereo z",
                         help="place each wire at its hit's z along the fitted helix")
    field_t: float = param(1.0, label="Solenoid field", unit="T", range=(0.1, 5.0))
    pt_scale: float = param(1.0, label="Momentum scale", range=(0.5, 2.0), cli=False,
                            help="fitted p_T = pt_scale · 0.3·B·R, calibrated on validation")
    seed: int = param(0, label="Seed", range=(0, 2**31 - 1))
    weights: tuple[float, ...] = param(DEFAULT_WEIGHTS, label="Re-scoring weights",
                                       check=_weights, cli=False,
                                       help="logistic weights of the combined score")
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

    def cell_distance(self, cells: np.ndarray) -> np.ndarray:
        """Distance (cm) of cells' wires from the circle, each wire placed at the z of the
        fitted helix where it meets the circle; ``FAR_CM`` without a track."""
        if not self.found:
            return np.full(len(cells), FAR_CM)
        params = np.array([*self.centre_cm, self.radius_cm, self.z0_cm, self.dz_dpsi_cm])
        return np.abs(_helix_residuals(params, _WireSet(cells)))

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
            scale: float, iterations: int = 6) -> tuple[np.ndarray, float]:
    """Weighted Gauss–Newton circle fit with Tukey bisquare weights of scale ``scale``."""
    for _ in range(iterations):
        delta = points - centre
        rho = np.maximum(np.hypot(delta[:, 0], delta[:, 1]), 1e-9)
        residual = rho - radius
        w = weights * np.clip(1.0 - (residual / scale) ** 2, 0.0, None) ** 2
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


def _helix_residuals(params: np.ndarray, wires: _WireSet) -> np.ndarray:
    """Signed distances from the circle of wires placed at their z on the helix ``params`` =
    (cx, cy, R, z0, k): z = z0 + k·ψ, ψ the anticlockwise turn from the circle's point nearest
    the axis (evaluated at the mid-plane position, then once more at the new z)."""
    cx, cy, radius, z0, k = params
    start = np.arctan2(-cy, -cx)
    z = np.zeros(len(wires.radius))
    for _ in range(2):
        x, y = wires.xy(z)
        psi = np.mod(np.arctan2(y - cy, x - cx) - start, 2.0 * np.pi)
        z = np.clip(z0 + k * psi, -HALF_LENGTH_CM, HALF_LENGTH_CM)
    x, y = wires.xy(z)
    return np.hypot(x - cx, y - cy) - radius


def _refine_helix(wires: _WireSet, weights: np.ndarray, centre: np.ndarray, radius: float,
                  scale: float, iterations: int = 8) -> np.ndarray:
    """Weighted Gauss–Newton over (cx, cy, R, z0, k) with Tukey weights (numeric Jacobian)."""
    params = np.array([centre[0], centre[1], radius, 0.0, 0.0])
    steps = np.array([1e-3, 1e-3, 1e-3, 0.05, 0.05])
    for _ in range(iterations):
        residual = _helix_residuals(params, wires)
        w = weights * np.clip(1.0 - (residual / scale) ** 2, 0.0, None) ** 2
        if np.count_nonzero(w > 0) < 6:
            break
        jacobian = np.column_stack([
            (_helix_residuals(params + np.eye(5)[j] * steps[j], wires) - residual) / steps[j]
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
                             3.0 * config.inlier_cm)
    z0 = dz = 0.0
    if config.stereo:
        wires = _WireSet(cells[pick])
        near = np.abs(np.hypot(*(points - centre).T) - radius) <= 3.0 * config.inlier_cm
        helix = _refine_helix(_WireSet(cells[pick][near]), w[near], centre, radius,
                              3.0 * config.inlier_cm)
        if np.all(np.isfinite(helix)):
            centre, radius, z0, dz = helix[:2], float(helix[2]), float(helix[3]), float(helix[4])
        d = np.abs(_helix_residuals(np.array([*centre, radius, z0, dz]), wires))
    else:
        d = np.abs(np.hypot(*(points - centre).T) - radius)
    inlier = d <= config.inlier_cm
    found = (inlier.sum() >= config.min_cells
             and bool(_allowed(np.array([centre[0]]), np.array([centre[1]]), np.array([radius]),
                               replace(config, trigger_cm=2 * config.trigger_cm),
                               counter_xy)[0]))
    if not found:
        return TrackFit(False, n_cells=int(inlier.sum()), strength=float(w[inlier].sum()))
    return TrackFit(True, (float(centre[0]), float(centre[1])), radius,
                    float(pt_mev(radius, config.field_t) * config.pt_scale), int(inlier.sum()),
                    float(w[inlier].sum()), float(np.sqrt(np.mean(d[inlier] ** 2))),
                    cells[pick][inlier], z0, dz)


def time_offsets(event: Event, cells: np.ndarray, fit: TrackFit) -> np.ndarray:
    """Smallest |t − t_track| (ns) over the hits of each of ``cells``, t_track the median time
    of the hits in the track's cells; ``FAR_TIME_NS`` without a track."""
    if not fit.found or event.n_hits == 0:
        return np.full(len(cells), FAR_TIME_NS)
    on_track = np.isin(event.cell, fit.cells)
    t_track = float(np.median(event.time_ns[on_track])) if on_track.any() else 0.0
    best = np.full(N_CELLS, FAR_TIME_NS)
    np.minimum.at(best, event.cell.astype(np.int64),
                  np.abs(event.time_ns.astype(np.float64) - t_track))
    return np.minimum(best[cells], FAR_TIME_NS)


def features(fit: TrackFit, event: Event, cells: np.ndarray, scores: np.ndarray,
             config: TrackFitConfig) -> np.ndarray:
    """The re-scoring features of an event's hit cells, (k, len(FEATURE_NAMES))."""
    clipped = np.clip(scores, 1e-4, 1 - 1e-4)
    logit = np.log(clipped / (1 - clipped))
    found = float(fit.found)
    d = fit.cell_distance(cells) if config.stereo else fit.distance(*wire_xy(cells))
    close = np.exp(-0.5 * (d / config.inlier_cm) ** 2) * found
    dt = time_offsets(event, cells, fit) / TIME_SCALE_NS * found
    ones = np.ones(len(cells))
    return np.column_stack([found * logit, (1 - found) * logit, close,
                            found * np.minimum(d, FAR_CM) / 10.0, close * logit, dt, dt**2,
                            ones * found * np.log1p(fit.strength), ones * found, ones])


def combine(fit: TrackFit, event: Event, cells: np.ndarray, scores: np.ndarray,
            config: TrackFitConfig) -> np.ndarray:
    """Combined (U-Net + fit) scores of an event's hit cells, (k,) float32 in [0, 1]."""
    z = features(fit, event, cells, scores, config) @ np.asarray(config.weights)
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))).astype(np.float32)


@dataclass
class EventFits:
    """Fits and combined scores of N events: ``fits`` (N TrackFit) and the combined scores as
    dense cell scores (N, 4986), 0 on cells without a hit."""

    fits: list[TrackFit]
    cell_scores: np.ndarray


def iter_fit_events(events: Sequence[Event], cell_scores: np.ndarray,
                    config: TrackFitConfig) -> Generator[Progress, None, EventFits]:
    """Fit and re-score every event; ``cell_scores`` (N, 4986) are the U-Net's."""
    fits, combined = [], np.zeros((len(events), N_CELLS), dtype=np.float32)
    for i, event in enumerate(events):
        cells = np.unique(event.cell).astype(np.int64)
        scores = np.asarray(cell_scores[i])[cells]
        fit = fit_track(cells, scores, event.trigger_counter, config)
        fits.append(fit)
        combined[i, cells] = combine(fit, event, cells, scores, config)
        if i % 16 == 15:
            yield Progress((i + 1) / len(events), f"track fit {i + 1}/{len(events)}")
    return EventFits(fits, combined)


@dataclass
class TuneResult:
    """What :func:`tune` found: the tuned config and the validation figures with the fit."""

    config: TrackFitConfig
    figures: dict[str, Any]


def tune(segmenter, events: Sequence[Event], config: TrackFitConfig | None = None
         ) -> Generator[Progress, None, TuneResult]:
    """Fit the re-scoring weights (logistic regression over all hit cells of ``events``, which
    carry truth) and the combined-score threshold at 90 % retention."""
    from sklearn.linear_model import LogisticRegression

    from engines.cdc.metrics import cell_level, hit_cell_truth

    config = config or TrackFitConfig()
    prediction = yield from _forward(segmenter.iter_predict(events), 0.0, 0.6)
    rows, labels = [], []
    _hit, signal = hit_cell_truth(events)
    fits = []
    for i, event in enumerate(events):
        cells = np.unique(event.cell).astype(np.int64)
        scores = prediction.cell_scores[i, cells]
        fit = fit_track(cells, scores, event.trigger_counter, config)
        fits.append(fit)
        rows.append(features(fit, event, cells, scores, config))
        labels.append(signal[i, cells])
    yield Progress(0.8, "logistic regression")
    x, y = np.concatenate(rows), np.concatenate(labels)
    if y.all() or not y.any():
        return TuneResult(config, {})
    model = LogisticRegression(C=10.0, fit_intercept=False, max_iter=500).fit(x, y)
    tuned = replace(config, weights=tuple(float(v) for v in model.coef_[0]))
    combined = np.zeros((len(events), N_CELLS), dtype=np.float32)
    for i, (event, fit) in enumerate(zip(events, fits, strict=True)):
        cells = np.unique(event.cell).astype(np.int64)
        combined[i, cells] = combine(fit, event, cells, prediction.cell_scores[i, cells],
                                     tuned)
    summary = cell_level(events, combined)
    tuned = replace(tuned, threshold=float(np.clip(summary.threshold_at_retention, 0.0, 1.0)))
    resolution = pt_resolution(events, fits)
    if resolution.get("fitted", 0) >= 10:
        tuned = replace(tuned, pt_scale=float(np.clip(
            config.pt_scale / (1.0 + resolution["bias"]), 0.5, 2.0)))
    figures = summary.figures()
    figures["tracks_found"] = int(sum(f.found for f in fits))
    figures["pt_resolution"] = resolution
    return TuneResult(tuned, figures)


def _forward(task, start: float, span: float):
    from engines.core.progress import forward

    return forward(task, start, span)


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
