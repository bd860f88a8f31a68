"""Conversion-electron tracks (μ⁻Al → e⁻Al) and the CDC hits they leave.

Model, per candidate track (vectorised over the points of one helix):

Momentum
    ``momentum_mev`` = 101.5 MeV/c, the conversion electron's momentum *at the CDC* in ICEDUST
    (it leaves the target with 104.97 MeV/c and loses about 3.5 MeV/c on its way; the energy
    loss inside the chamber is neglected).
Vertex and direction
    Uniform over the stopping-target disks (radius ``target_radius_cm``, |z| ≤
    ``target_half_length_cm``); direction isotropic (cos θ uniform), so p_T = p·sin θ varies
    and tracks with small p_z curl for many turns.
Helix
    In the solenoid field B (1 T along +z) the electron turns anticlockwise seen from +z on a
    circle of radius R = p_T / (0.3·B) (33.9 cm at p_T = 101.5 MeV/c); see
    :mod:`engines.cdc.trajectory`. Points are sampled every ``step_cm`` of transverse arc, time
    of flight s/c (β ≈ 1). Multiple scattering is neglected.
Trigger (CTH)
    The track triggers at the first point inside a hodoscope's z-range
    (``cth_z_min_cm`` ≤ |z| ≤ ``cth_z_max_cm``, upstream or downstream) with 44.78 ≤ r ≤
    48.28 cm: it crosses both rings there, our stand-in for the 4-fold coincidence. The
    trigger counter is the segment at that point on the ring crossed first (inner, 0…63, when
    moving out; outer, 64…127, when moving in). The electron is not followed further.
    Candidates that never trigger within ``max_turns`` turns are rejected.
Cells hit
    Each sampled point inside the CDC lies in one cell (stereo wires at its z,
    :func:`engines.cdc.trajectory.cells_at`). Every passage — outgoing and returning arcs, every
    turn — is sampled; a cell is hit once per track (repeat passages a few ns apart merge into
    one pulse). A track must hit at least ``min_layers`` read-out layers, or it is rejected
    (paper Sec. 3.3). Pulses below ``charge_threshold`` are lost.
Hit time
    Leading edge: min over the track's points in the cell of (time of flight +
    distance-to-wire × ``drift_ns_per_cm``), plus a Gaussian jitter ``time_jitter_ns``;
    relative to the trigger (the time the track reaches the CTH): mostly −50…400 ns, negative
    for hits made before the track reached the CTH.
Charge
    ``fCharge`` in the simulation's units: Landau-like (Moyal) with most probable value
    ``charge_mpv`` per 1.6 cm of path in the cell and width ``charge_width``, scaled by the
    path length (the reference file's signal hits have a median of about 52, background 390).
Event time
    t0 (absolute, the CTH time) = time of the proton bunch that made the muon (every
    ``bunch_period_ns`` from 0) + muon stop time (normal, ``stop_time_ns``) + muonic-Al decay
    (exponential, τ = 864 ns) + flight to the CTH, restricted to ``trigger_window_ns`` (so
    that the track's hits fall inside the read-out window) by drawing the decay time from the
    truncated exponential.
Truth
    Per hit: the electron's momentum vector at the hit and the turn number (``turn_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.cdc.geometry import (
    CELL_DEPTH_CM,
    CTH_RADII_CM,
    CTH_SEGMENTS,
    LAYER_RADIUS_CM,
    get_geometry,
)
from engines.cdc.synthetic_background import moyal
from engines.cdc.trajectory import SPEED_OF_LIGHT_CM_PER_NS, cells_at, radius_cm
from engines.core.config import param, validate
from engines.core.errors import InputError


@dataclass(frozen=True)
class SignalConfig:
    """Parameters of the signal-electron model."""

    momentum_mev: float = param(101.5, label="Momentum at the CDC", unit="MeV/c",
                                range=(50.0, 200.0))
    field_t: float = param(1.0, label="Solenoid field", unit="T", range=(0.5, 2.0))
    target_radius_cm: float = param(10.0, label="Target radius", unit="cm", range=(0.0, 20.0))
    target_half_length_cm: float = param(20.0, label="Target half-length", unit="cm",
                                         range=(0.0, 40.0))
    cdc_half_length_cm: float = param(75.0, label="CDC half-length", unit="cm",
                                      range=(40.0, 100.0), help="sense region |z| ≤ this")
    readout_plate_z_cm: float = param(75.0, label="Read-out plate z", unit="cm",
                                      range=(0.0, 200.0))
    cth_z_min_cm: float = param(45.0, label="CTH |z| from", unit="cm", range=(0.0, 200.0))
    cth_z_max_cm: float = param(85.0, label="CTH |z| to", unit="cm", range=(0.0, 200.0))
    use_stereo: bool = param(True, label="Stereo wires",
                             help="wires twist with z (off: axial wires)")
    muon_lifetime_ns: float = param(864.0, label="Muon lifetime", unit="ns",
                                    range=(100.0, 2200.0), help="muonic aluminium")
    stop_time_ns: tuple[float, float] = param((150.0, 50.0), label="Muon stop time", unit="ns",
                                              range=(0.0, 1e4), help="mean, σ after the bunch")
    bunch_period_ns: float = param(1170.0, label="Bunch period", unit="ns", range=(100.0, 1e4))
    trigger_window_ns: tuple[float, float] = param((0.0, 2900.0), label="Trigger window",
                                                   unit="ns", range=(-1e4, 1e5),
                                                   help="absolute range of t0")
    drift_ns_per_cm: float = param(400.0, label="Drift time per cm", unit="ns/cm",
                                   range=(200.0, 1000.0), help="400 ns/cm = 25 µm/ns")
    time_jitter_ns: float = param(3.0, label="Time jitter", unit="ns", range=(0.0, 20.0))
    charge_mpv: float = param(44.0, label="Charge MPV", range=(1.0, 1e4),
                              help="fCharge per 1.6 cm of track (simulation units)")
    charge_width: float = param(10.0, label="Charge width", range=(0.1, 1e4))
    charge_threshold: float = param(13.0, label="Discriminator threshold", range=(0.0, 1e4),
                                    help="smaller pulses are lost")
    min_layers: int = param(5, label="Least layers", range=(1, 18),
                            help="read-out layers a track must cross")
    step_cm: float = param(0.25, label="Sampling step", unit="cm", range=(0.05, 1.0))
    max_turns: float = param(20.0, label="Most turns", range=(1.0, 100.0),
                             help="give up on a candidate after this many turns")

    def __post_init__(self) -> None:
        validate(self)


@dataclass
class SignalTrack:
    """One accepted signal track.

    Attributes
    ----------
    cell : (n,) int64
        Read-out cells hit (unique).
    time_ns : (n,) float64
        Hit time relative to the trigger, ns.
    drift_time_ns, adc : (n,) float64
        Drift time (ns) and charge (simulation units).
    momentum_mev : (n, 3) float64
        The electron's (p_x, p_y, p_z) at each hit, MeV/c.
    turn_id : (n,) int64
        Turn of the helix at each hit (0 = before its first full turn).
    trigger_counter : int
        CTH counter 0…127.
    flight_to_cth_ns : float
        Time from the decay to the trigger, ns.
    pt_mev, cos_theta : float
        Transverse momentum and cosine of the pitch angle.
    centre_cm : (float, float)
        Centre of the helix circle in the end view, cm.
    n_layers : int
        Read-out layers hit.
    """

    cell: np.ndarray
    time_ns: np.ndarray
    drift_time_ns: np.ndarray
    adc: np.ndarray
    momentum_mev: np.ndarray
    turn_id: np.ndarray
    trigger_counter: int
    flight_to_cth_ns: float
    pt_mev: float
    cos_theta: float
    centre_cm: tuple[float, float]
    n_layers: int

    @property
    def radius_cm(self) -> float:
        return float(radius_cm(self.pt_mev))


def _helix_points(rng: np.random.Generator, config: SignalConfig):
    """Sample one candidate helix; returns None when it cannot reach the needed radius."""
    cos_theta = rng.uniform(-1.0, 1.0)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    radius = radius_cm(config.momentum_mev * sin_theta, config.field_t)
    r_vertex = config.target_radius_cm * np.sqrt(rng.random())
    phi_vertex = rng.uniform(0.0, 2.0 * np.pi)
    x0, y0 = r_vertex * np.cos(phi_vertex), r_vertex * np.sin(phi_vertex)
    phi_dir = rng.uniform(0.0, 2.0 * np.pi)
    cx, cy = x0 - radius * np.sin(phi_dir), y0 + radius * np.cos(phi_dir)
    needed = LAYER_RADIUS_CM[config.min_layers] - CELL_DEPTH_CM / 2
    if np.hypot(cx, cy) + radius < needed or radius <= 0:
        return None
    z0 = rng.uniform(-config.target_half_length_cm, config.target_half_length_cm)
    n = int(2.0 * np.pi * config.max_turns * radius / config.step_cm)
    psi = np.arange(n) * (config.step_cm / radius)
    alpha = phi_dir - np.pi / 2 + psi
    x, y = cx + radius * np.cos(alpha), cy + radius * np.sin(alpha)
    z = z0 + psi * radius * cos_theta / sin_theta
    t = psi * radius / sin_theta / SPEED_OF_LIGHT_CM_PER_NS
    return x, y, z, t, psi, phi_dir, (cx, cy), cos_theta


def _trigger(x, y, z, config: SignalConfig) -> tuple[int, int] | None:
    """Index of the triggering point and its CTH counter, or None."""
    r = np.hypot(x, y)
    in_z = (np.abs(z) >= config.cth_z_min_cm) & (np.abs(z) <= config.cth_z_max_cm)
    hits = np.flatnonzero(in_z & (r >= CTH_RADII_CM[0]) & (r <= CTH_RADII_CM[1]))
    if len(hits) == 0:
        return None
    i = int(hits[0])
    moving_out = i + 1 < len(r) and r[i + 1] > r[i]
    ring = 0 if moving_out else 1
    counter = int(get_geometry().cth_counter_at(np.arctan2(y[i], x[i]), ring))
    assert 0 <= counter < 2 * CTH_SEGMENTS
    return i, counter


def draw_signal_track(rng: np.random.Generator, config: SignalConfig,
                      max_candidates: int = 10_000) -> tuple[SignalTrack, int]:
    """Draw candidates until one triggers and crosses ``min_layers`` read-out layers.

    Returns the accepted track and the number of candidates drawn.
    """
    geometry = get_geometry()
    for attempt in range(1, max_candidates + 1):
        helix = _helix_points(rng, config)
        if helix is None:
            continue
        x, y, z, t, psi, phi_dir, centre, cos_theta = helix
        trigger = _trigger(x, y, z, config)
        if trigger is None:
            continue
        stop, counter = trigger
        point, cell, distance = cells_at(x[:stop], y[:stop], z[:stop],
                                         config.cdc_half_length_cm, config.readout_plate_z_cm,
                                         config.use_stereo)
        if len(np.unique(geometry.layer_of_cell[cell])) < config.min_layers:
            continue
        arrival = t[point] + distance * config.drift_ns_per_cm
        # a passage is a run of consecutive points in one cell; its path sets the pulse charge
        passage = np.cumsum(np.r_[0, cell[1:] != cell[:-1]])
        passage_path = np.bincount(passage) * config.step_cm / np.sqrt(1.0 - cos_theta**2)
        order = np.lexsort((arrival, cell))
        first = order[np.flatnonzero(np.r_[True, np.diff(cell[order]) != 0])]
        n = len(first)
        charge = (passage_path[passage[first]] / CELL_DEPTH_CM
                  * (config.charge_mpv + config.charge_width * moyal(rng, n)))
        above = charge >= config.charge_threshold
        first, charge = first[above], charge[above]
        n_layers = len(np.unique(geometry.layer_of_cell[cell[first]]))
        if n_layers < config.min_layers:
            continue
        n = len(first)
        time = arrival[first] - t[stop] + config.time_jitter_ns * rng.standard_normal(n)
        pt = config.momentum_mev * np.sqrt(1.0 - cos_theta**2)
        angle = phi_dir + psi[point[first]]
        momentum = np.stack([pt * np.cos(angle), pt * np.sin(angle),
                             np.full(n, config.momentum_mev * cos_theta)], axis=1)
        return SignalTrack(
            cell=cell[first], time_ns=time,
            drift_time_ns=distance[first] * config.drift_ns_per_cm, adc=charge,
            momentum_mev=momentum, turn_id=np.floor(psi[point[first]] / (2 * np.pi)
                                                    ).astype(np.int64),
            trigger_counter=counter, flight_to_cth_ns=float(t[stop]), pt_mev=float(pt),
            cos_theta=float(cos_theta), centre_cm=(float(centre[0]), float(centre[1])),
            n_layers=n_layers), attempt
    raise InputError(f"no signal track accepted in {max_candidates} candidates: the signal "
                     "configuration lets no track reach the CTH and the CDC")


def draw_trigger_time(rng: np.random.Generator, flight_to_cth_ns: float,
                      config: SignalConfig) -> float:
    """Absolute trigger time t0 (ns) inside ``trigger_window_ns``: a bunch, the muon's stop
    time, its decay (truncated exponential) and the flight to the CTH."""
    lo, hi = config.trigger_window_ns
    stop = max(0.0, rng.normal(*config.stop_time_ns))
    bunches = np.arange(np.floor(lo / config.bunch_period_ns) - 1,
                        np.ceil(hi / config.bunch_period_ns) + 1) * config.bunch_period_ns
    starts = bunches + stop + flight_to_cth_ns
    tau = config.muon_lifetime_ns
    # probability of each bunch's decay landing in the window, then the truncated exponential
    a = np.maximum(0.0, lo - starts)
    b = np.maximum(0.0, hi - starts)
    weight = np.exp(-a / tau) - np.exp(-b / tau)
    if weight.sum() <= 0:
        raise InputError(f"trigger window {lo:g}…{hi:g} ns cannot hold a muon decay")
    k = rng.choice(len(starts), p=weight / weight.sum())
    u = rng.random()
    decay = a[k] - tau * np.log1p(-u * (1.0 - np.exp(-(b[k] - a[k]) / tau)))
    return float(starts[k] + decay)
