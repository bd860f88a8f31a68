"""Conversion-electron tracks (μ⁻Al → e⁻Al, 104.97 MeV/c) and the CDC hits they leave.

Model, per candidate track (vectorised over the points of one helix):

Vertex and direction
    Uniform over the stopping-target disks (radius ``target_radius_cm``, |z| ≤
    ``target_half_length_cm``); direction isotropic (cos θ uniform), so p_T = p·sin θ varies
    and tracks with small p_z curl for many turns.
Helix
    In the solenoid field B (1 T along +z) the electron turns anticlockwise seen from +z on a
    circle of radius R = p_T / (0.3·B) (35.0 cm at p_T = 104.97 MeV/c); it advances R·cot θ in
    z per radian. Points are sampled every ``step_cm`` of transverse arc, time of flight s/c
    (β ≈ 1). Energy loss and multiple scattering are neglected.
Trigger (CTH)
    The track triggers at the first point inside a hodoscope's z-range
    (``cth_z_min_cm`` ≤ |z| ≤ ``cth_z_max_cm``, upstream or downstream) with 44.78 ≤ r ≤
    48.28 cm: it crosses both rings there, our stand-in for the 4-fold coincidence. The
    trigger counter is the segment at that point on the ring crossed first (inner, 0…63, when
    moving out; outer, 64…127, when moving in). The electron is not followed further.
    Candidates that never trigger within ``max_turns`` turns are rejected.
Cells hit
    Each sampled point inside the CDC (|z| ≤ ``cdc_half_length_cm``) lies in the layer whose
    1.6 cm radial band contains it and in the cell of the nearest wire of that layer at its z
    (stereo wires twist by tan α / r per cm from the read-out end-plate at
    ``readout_plate_z_cm``). Every passage — outgoing and returning arcs, every turn — is
    sampled, so a cell is hit once however often the track crosses it (repeat passages a few
    ns apart would merge into one pulse). Guard-layer cells are not read out. A track must hit
    at least ``min_layers`` read-out layers, or it is rejected (paper Sec. 3.3).
Hit time
    Leading edge: min over the track's points in the cell of (time of flight +
    distance-to-wire × ``drift_ns_per_cm``), plus a Gaussian jitter ``time_jitter_ns``;
    relative to the trigger (the time the track reaches the CTH): mostly −50…400 ns, negative
    for hits made before the track reached the CTH.
ADC
    Landau-like (Moyal) with most probable value ``adc_mpv`` per 1.6 cm of path in the cell
    and width ``adc_width``, scaled by the path length; clipped to [0, ``adc_max``].
Event time
    t0 = muon stop time (normal, ``stop_time_ns``) + muonic-Al decay (exponential,
    τ = 864 ns) + flight to the CTH, restricted to the measurement window ``trigger_window_ns``
    by drawing the decay time from the truncated exponential.
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
from engines.core.config import param, validate
from engines.core.errors import InputError

SPEED_OF_LIGHT_CM_PER_NS = 29.9792458


@dataclass(frozen=True)
class SignalConfig:
    """Parameters of the signal-electron model."""

    momentum_mev: float = param(104.97, label="Momentum", unit="MeV/c", range=(50.0, 200.0))
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
                                              range=(0.0, 1e4), help="mean, σ after the pulse")
    trigger_window_ns: tuple[float, float] = param((700.0, 1170.0), label="Trigger window",
                                                   unit="ns", range=(0.0, 1e4),
                                                   help="measurement window for t0")
    drift_ns_per_cm: float = param(400.0, label="Drift time per cm", unit="ns/cm",
                                   range=(200.0, 1000.0), help="400 ns/cm = 25 µm/ns")
    time_jitter_ns: float = param(3.0, label="Time jitter", unit="ns", range=(0.0, 20.0))
    adc_mpv: float = param(130.0, label="ADC MPV", range=(10.0, 500.0),
                           help="per 1.6 cm of track")
    adc_width: float = param(30.0, label="ADC width", range=(1.0, 200.0))
    adc_max: float = param(2000.0, label="ADC saturation", range=(100.0, 1e5))
    adc_threshold: float = param(20.0, label="Discriminator threshold", range=(0.0, 200.0),
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
    trigger_counter : int
        CTH counter 0…127.
    flight_to_cth_ns : float
        Time from the decay to the trigger, ns.
    pt_mev, cos_theta : float
        Transverse momentum and cosine of the pitch angle.
    n_layers : int
        Read-out layers hit.
    """

    cell: np.ndarray
    time_ns: np.ndarray
    drift_time_ns: np.ndarray
    adc: np.ndarray
    trigger_counter: int
    flight_to_cth_ns: float
    pt_mev: float
    cos_theta: float
    n_layers: int


def _helix_points(rng: np.random.Generator, config: SignalConfig):
    """Sample one candidate helix; returns None when it cannot reach the needed radius."""
    cos_theta = rng.uniform(-1.0, 1.0)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    radius = config.momentum_mev * sin_theta / (10.0 * 0.299792458 * config.field_t)
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
    return x, y, z, t, radius * 10.0 * 0.299792458 * config.field_t, cos_theta


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


def _cells_hit(x, y, z, t, config: SignalConfig):
    """Per-point cell, drift distance and arrival time inside the CDC read-out layers."""
    geometry = get_geometry()
    r = np.hypot(x, y)
    layer = np.rint((r - LAYER_RADIUS_CM[0]) / CELL_DEPTH_CM).astype(np.int64)
    inside = (layer >= 0) & (layer < geometry.n_layers) & (np.abs(z) <= config.cdc_half_length_cm)
    layer, x, y, z, t = layer[inside], x[inside], y[inside], z[inside], t[inside]
    twist = geometry.stereo_twist_rad_per_cm[layer] if config.use_stereo else 0.0
    shift = twist * (z - config.readout_plate_z_cm)
    pitch = 2.0 * np.pi / geometry.wires_per_layer[layer]
    wire = np.rint((np.arctan2(y, x) - geometry.layer_phi0[layer] - shift) / pitch).astype(np.int64)
    cell = geometry.cell_index(layer, wire)
    wire_phi = geometry.cell_phi[cell] + shift
    distance = np.hypot(x - LAYER_RADIUS_CM[layer] * np.cos(wire_phi),
                        y - LAYER_RADIUS_CM[layer] * np.sin(wire_phi))
    readout = ~geometry.is_guard[cell]
    return cell[readout], distance[readout], t[readout]


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
        x, y, z, t, pt, cos_theta = helix
        trigger = _trigger(x, y, z, config)
        if trigger is None:
            continue
        stop, counter = trigger
        cell, distance, t_point = _cells_hit(x[:stop], y[:stop], z[:stop], t[:stop], config)
        if len(np.unique(geometry.layer_of_cell[cell])) < config.min_layers:
            continue
        arrival = t_point + distance * config.drift_ns_per_cm
        # a passage is a run of consecutive points in one cell; its path sets the pulse charge
        passage = np.cumsum(np.r_[0, cell[1:] != cell[:-1]])
        passage_path = np.bincount(passage) * config.step_cm / np.sqrt(1.0 - cos_theta**2)
        order = np.lexsort((arrival, cell))
        first = order[np.flatnonzero(np.r_[True, np.diff(cell[order]) != 0])]
        n = len(first)
        adc = (passage_path[passage[first]] / CELL_DEPTH_CM
               * (config.adc_mpv + config.adc_width * moyal(rng, n)))
        above = adc >= config.adc_threshold
        first, adc = first[above], adc[above]
        n_layers = len(np.unique(geometry.layer_of_cell[cell[first]]))
        if n_layers < config.min_layers:
            continue
        n = len(first)
        t_trigger = t[stop]
        time = arrival[first] - t_trigger + config.time_jitter_ns * rng.standard_normal(n)
        return SignalTrack(
            cell=cell[first], time_ns=time,
            drift_time_ns=distance[first] * config.drift_ns_per_cm,
            adc=np.clip(adc, 0.0, config.adc_max), trigger_counter=counter,
            flight_to_cth_ns=float(t_trigger), pt_mev=float(pt), cos_theta=float(cos_theta),
            n_layers=n_layers), attempt
    raise InputError(f"no signal track accepted in {max_candidates} candidates: the signal "
                     "configuration lets no track reach the CTH and the CDC")


def draw_trigger_time(rng: np.random.Generator, flight_to_cth_ns: float,
                      config: SignalConfig) -> float:
    """Absolute trigger time t0 (ns after the proton pulse) inside the measurement window."""
    lo, hi = config.trigger_window_ns
    stop = max(0.0, rng.normal(*config.stop_time_ns))
    a = max(0.0, lo - stop - flight_to_cth_ns)
    b = max(a + 1e-6, hi - stop - flight_to_cth_ns)
    tau = config.muon_lifetime_ns
    # inverse CDF of the exponential truncated to [a, b]
    u = rng.random()
    decay = a - tau * np.log1p(-u * (1.0 - np.exp(-(b - a) / tau)))
    return float(stop + decay + flight_to_cth_ns)
